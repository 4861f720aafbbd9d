-- Cluster mode (issue 15): several nodes send from one outbox. An item
-- in flight carries the node that began it and when, so that the others
-- leave it alone while that node may still be sending it, and take it
-- as in doubt (held for a person) once the node is taken for dead.
ALTER TABLE feed_items ADD COLUMN claimed_by text NOT NULL DEFAULT '';
ALTER TABLE feed_items ADD COLUMN claimed_at timestamptz;

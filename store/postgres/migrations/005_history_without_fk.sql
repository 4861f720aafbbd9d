-- A lead's history entries are written in the statement that changes the
-- lead (writes.go), never apart from it, and leads are never deleted: the
-- foreign key's check, a locked lookup of the lead for every history row,
-- cost a check run's batch more than its index; Verify looks for history
-- without its lead instead, as it does for feed items.
ALTER TABLE history DROP CONSTRAINT IF EXISTS history_lead_id_fkey;

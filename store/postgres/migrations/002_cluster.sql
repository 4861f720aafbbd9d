-- Cluster mode (store.Cluster): the nodes sharing this database, the
-- leases their schedules run under, when each schedule's last run ended,
-- when each offer version first appeared, and the node of each journal
-- entry. Times are the database's clock: the nodes' need not agree.

CREATE TABLE nodes (
    name    text        PRIMARY KEY,
    binary_version text NOT NULL,
    started timestamptz NOT NULL,
    listen  text        NOT NULL,
    offers  jsonb       NOT NULL DEFAULT '{}', -- offer id: its files' hash
    seen    timestamptz NOT NULL,              -- the last heartbeat
    left_at timestamptz                        -- stopped cleanly
);

-- One row per lease ever taken; node '' is free.
CREATE TABLE leases (
    name    text        PRIMARY KEY,
    node    text        NOT NULL,
    what    text        NOT NULL DEFAULT '',
    expires timestamptz NOT NULL
);

-- When a schedule's last run ended, whichever node ran it: the next run
-- is due from there.
CREATE TABLE schedule_runs (
    name     text        PRIMARY KEY,
    last_end timestamptz NOT NULL
);

-- When each version of an offer (its files' hash) first appeared in the
-- cluster: the newest version of an offer is the one that appeared last.
CREATE TABLE offer_versions (
    offer      text        NOT NULL,
    version    text        NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (offer, version)
);

ALTER TABLE journal ADD COLUMN node text NOT NULL DEFAULT '';

-- Each process's journal ids end in its own three digits (0..999): a
-- number from here (journal.go), so that entries that several nodes
-- write in the same microsecond do not take one id.
CREATE SEQUENCE journal_slots;

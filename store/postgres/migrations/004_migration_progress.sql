-- leadhost migrate's progress (store/postgres/import.go): for each part
-- of the source (leads, keys, goals, outboxes, journal), the source's key
-- copied last, written in the transaction of the page it ends, so that a
-- migrate stopped any way goes on after it. Made by the import itself
-- before this migration: a database one filled has it already.
CREATE TABLE IF NOT EXISTS migration_progress (
	part   text    PRIMARY KEY,       -- store.ExportPart
	source text    NOT NULL,          -- what the records come from ("badger:/srv/leadhost/data")
	cursor bytea,                     -- the source's key read last; NULL: none yet
	rows   bigint  NOT NULL DEFAULT 0,
	done   boolean NOT NULL DEFAULT false
);

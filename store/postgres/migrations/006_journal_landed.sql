-- When each journal entry landed in the database, by the database's
-- clock. An entry's id is its time at the node that wrote it, which may
-- land much later (a journal spool catching up after the database was
-- away) or come from a clock behind: a node counting what the others
-- journaled (TallyJournal) windows by landing instead, so that nothing
-- lands in a window it has already counted.
ALTER TABLE journal ADD COLUMN landed timestamptz NOT NULL DEFAULT now();
CREATE INDEX journal_landed ON journal (landed);

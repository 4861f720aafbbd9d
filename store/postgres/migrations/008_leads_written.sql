-- leads_written(n, want) is n when n = want, else it fails with
-- serialization_failure (40001): a statement that writes a batch's leads
-- only if every one is still at the revision the batch read calls it
-- with how many its UPDATE found at that revision, so that one lead
-- another writer moved on rolls back the whole implicit transaction, and
-- the writer commits the batch again with the leads locked (conflict).
-- Before it the statement locked the leads in a statement of its own and
-- checked their revisions in a second scan: two more index look-ups and
-- a lock record per lead.
CREATE FUNCTION leads_written(n bigint, want integer) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF n <> want THEN
        RAISE EXCEPTION 'batch: % of % leads at the revision read', n, want
            USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN n;
END
$$;

-- The leads, their history and the indexes the status checks read; goals,
-- idempotency keys, the durable change feeds (the outboxes) and the
-- journal. Names and kinds follow store.Lead; money is numeric (exact, with
-- the scale it was given), times are timestamptz (microseconds: leadhost
-- keeps times to the microsecond on PostgreSQL).

CREATE SEQUENCE lead_ids;
CREATE SEQUENCE goal_ids;

CREATE TABLE leads (
    id          bigint      PRIMARY KEY,
    offer       text        NOT NULL,
    ext         text,                       -- the partner's id; NULL: none yet
    status      smallint    NOT NULL CHECK (status BETWEEN 1 AND 12),
    bucket      smallint    NOT NULL,       -- store.StatusBucket(status): one check mode's statuses
    reason      integer     NOT NULL DEFAULT 0,
    hold_until  timestamptz,
    comment     text        NOT NULL DEFAULT '',
    base        numeric     NOT NULL DEFAULT 0,
    counts      integer     NOT NULL,
    curr        integer     NOT NULL DEFAULT 0,
    goal        bigint      NOT NULL DEFAULT 0,
    track       text        NOT NULL DEFAULT '',
    cash_wm     numeric     NOT NULL DEFAULT 0,
    cash_pay    numeric     NOT NULL DEFAULT 0,
    cash_ref    numeric     NOT NULL DEFAULT 0,
    cash_cc     integer     NOT NULL DEFAULT 0,
    fields      jsonb,
    created     timestamptz NOT NULL,
    updated     timestamptz NOT NULL,
    accepted_at timestamptz,
    rev         integer     NOT NULL,       -- history entries; +1 per change
    added_by    text        NOT NULL,       -- who created it: history entry 1 is derived, not stored
    added_at    timestamptz NOT NULL,
    -- Deferrable: a batch may hand an ext from one lead to another.
    CONSTRAINT leads_offer_ext UNIQUE (offer, ext) DEFERRABLE INITIALLY IMMEDIATE
);
-- The check modes page through an offer's bucket oldest first; the dates
-- mode reads a bucket's creation-time range.
CREATE INDEX leads_offer_bucket_created ON leads (offer, bucket, created, id);
CREATE INDEX leads_hold ON leads (hold_until, id) WHERE hold_until IS NOT NULL;
-- A person is found by phone or e-mail (store.Query.Contact): the keys
-- store.ContactKey makes of what they type, made here of the fields the
-- same way — a phone as "p" and its last 10 digits (7 to 20 digits), an
-- e-mail as "e" and its lower case (an @ with text before and after it,
-- no blanks, at most 256 bytes).
ALTER TABLE leads
    ADD COLUMN contact_phone text GENERATED ALWAYS AS (
        CASE WHEN length(regexp_replace(fields->>'phone', '[^0-9]', '', 'g')) BETWEEN 7 AND 20
             THEN 'p' || right(regexp_replace(fields->>'phone', '[^0-9]', '', 'g'), 10) END) STORED,
    ADD COLUMN contact_email text GENERATED ALWAYS AS (
        CASE WHEN lower(btrim(fields->>'email', E' \t\n\r\v\f')) ~ '^[^ \t]+@[^@ \t]+$'
              AND octet_length(btrim(fields->>'email', E' \t\n\r\v\f')) <= 256
             THEN 'e' || lower(btrim(fields->>'email', E' \t\n\r\v\f')) END) STORED;
CREATE INDEX leads_contact_phone ON leads (contact_phone, id) WHERE contact_phone IS NOT NULL;
CREATE INDEX leads_contact_email ON leads (contact_email, id) WHERE contact_email IS NOT NULL;

CREATE TABLE history (
    lead_id bigint      NOT NULL REFERENCES leads (id),
    rev     integer     NOT NULL CHECK (rev >= 2),
    at      timestamptz NOT NULL,
    by      text        NOT NULL,
    changes jsonb       NOT NULL,           -- [{"field", "old", "new"}]
    PRIMARY KEY (lead_id, rev)
);

CREATE TABLE goals (
    offer text   NOT NULL,
    code  text   NOT NULL,
    id    bigint NOT NULL UNIQUE,           -- unique across offers
    PRIMARY KEY (offer, code)
);

CREATE TABLE idempotency_keys (
    offer   text   NOT NULL,
    key     text   NOT NULL,
    lead_id bigint NOT NULL REFERENCES leads (id) DEFERRABLE INITIALLY DEFERRED,
    PRIMARY KEY (offer, key)
);

-- A feed item is written in the transaction of the change it carries.
CREATE TABLE feed_items (
    feed        text        NOT NULL,
    lead_id     bigint      NOT NULL,
    rev         integer     NOT NULL,
    held        boolean     NOT NULL DEFAULT false, -- taken out for a person (Feed.Hold)
    offer       text        NOT NULL,
    from_status smallint    NOT NULL,
    to_status   smallint    NOT NULL,
    reason      integer     NOT NULL DEFAULT 0,
    approved    boolean     NOT NULL DEFAULT false,
    at          timestamptz NOT NULL,
    by          text        NOT NULL,
    attempts    integer     NOT NULL DEFAULT 0,
    not_before  timestamptz,
    in_flight   boolean     NOT NULL DEFAULT false,
    last_error  text        NOT NULL DEFAULT '',
    PRIMARY KEY (feed, lead_id, rev)
);
CREATE INDEX feed_items_list ON feed_items (feed, held, lead_id, rev);

-- The journal, partitioned by day: an entry's id is its time in
-- nanoseconds (made unique), so a day is a range of ids, and retention
-- drops a day's partition once all of it has expired (journal.go). The
-- store creates the days' partitions ahead; an entry dated outside them
-- lands in journal_default.
CREATE TABLE journal (
    id       bigint      NOT NULL,          -- time-ordered, newest largest
    at       timestamptz NOT NULL,
    offer    text        NOT NULL DEFAULT '',
    kind     text        NOT NULL,
    status   text        NOT NULL,
    duration bigint      NOT NULL DEFAULT 0, -- nanoseconds
    version  bigint      NOT NULL DEFAULT 0,
    summary  text        NOT NULL DEFAULT '',
    request  bytea,                         -- raw, as it came: may be any bytes
    response bytea,
    logs     json,
    detail   json,
    expires  timestamptz NOT NULL,
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);
CREATE TABLE journal_default PARTITION OF journal DEFAULT;
CREATE INDEX journal_offer ON journal (offer, id);
CREATE INDEX journal_kind ON journal (kind, id);
-- "ok" entries are most of the journal: lists of failures read these.
CREATE INDEX journal_status ON journal (status, id) WHERE status <> 'ok';
CREATE INDEX journal_status_offer ON journal (status, offer, id) WHERE status <> 'ok';
CREATE INDEX journal_expires ON journal (expires);

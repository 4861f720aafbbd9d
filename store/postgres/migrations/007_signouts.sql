-- Console sessions signed out before their cookies expire. A session is
-- a signed cookie that every node reads without a shared table, so a
-- sign-out is kept where every node looks, until the cookie would have
-- expired anyway.
CREATE TABLE signouts (
	id bytea PRIMARY KEY,
	until timestamptz NOT NULL
);

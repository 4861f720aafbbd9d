package postgres

import (
	"context"
	"time"

	"leadhost/store"
)

// TallyJournal counts the journal entries dated after after and up to
// until that another node than node wrote, by offer, hour, kind and
// status. A node's console adds what the others journaled to its own
// running counts this way, reading the day's entries by their ids
// (their times) and nothing of their bodies.
func (s *Store) TallyJournal(ctx context.Context, after, until time.Time, node string) ([]store.JournalTally, error) {
	if err := s.alive(ctx); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT offer, date_trunc('hour', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', kind, status, count(*) FROM journal
		WHERE id > $1 AND id <= $2 AND node IS DISTINCT FROM $3
		GROUP BY 1, 2, 3, 4`, after.UnixNano(), until.UnixNano(), node)
	if err != nil {
		return nil, dbError(err)
	}
	defer rows.Close()
	var out []store.JournalTally
	for rows.Next() {
		var (
			t    store.JournalTally
			kind string
			st   string
			n    int64
		)
		if err := rows.Scan(&t.Offer, &t.Hour, &kind, &st, &n); err != nil {
			return nil, err
		}
		t.Hour, t.Kind, t.Status, t.N = t.Hour.UTC(), store.JournalKind(kind), store.JournalStatus(st), int(n)
		out = append(out, t)
	}
	return out, dbError(rows.Err())
}

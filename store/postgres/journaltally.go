package postgres

import (
	"context"
	"time"

	"leadhost/store"
)

// TallyJournal counts the journal entries that landed in the database
// after after, and up to lag before the database's now, that another
// node than node wrote, by offer, hour (UTC, of the entry's time), kind
// and status, and says up to when it counted: the next call's after. A
// node's console adds what the others journaled to its own running
// counts this way, reading by the landing index and nothing of the
// entries' bodies. An entry's landing is its transaction's start, so
// lag must outlast a journal write's transaction.
func (s *Store) TallyJournal(ctx context.Context, after time.Time, lag time.Duration, node string) ([]store.JournalTally, time.Time, error) {
	if err := s.alive(ctx); err != nil {
		return nil, time.Time{}, err
	}
	var upTo time.Time
	if err := s.pool.QueryRow(ctx, `SELECT now() - $1::interval`, lag).Scan(&upTo); err != nil {
		return nil, time.Time{}, dbError(err)
	}
	if !upTo.After(after) {
		return nil, after, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT offer, date_trunc('hour', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', kind, status, count(*) FROM journal
		WHERE landed > $1 AND landed <= $2 AND node IS DISTINCT FROM $3
		GROUP BY 1, 2, 3, 4`, after, upTo, node)
	if err != nil {
		return nil, time.Time{}, dbError(err)
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
			return nil, time.Time{}, err
		}
		t.Hour, t.Kind, t.Status, t.N = t.Hour.UTC(), store.JournalKind(kind), store.JournalStatus(st), int(n)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, time.Time{}, dbError(err)
	}
	return out, upTo, nil
}

package postgres

import (
	"context"
	"fmt"

	"leadhost/store"
)

// Verify checks what the schema's constraints do not: that every lead's
// bucket and hold agree with its status, that its history holds entries
// 2..rev, and that idempotency keys and feed items point at leads of
// their offer. It stops after 100 problems.
func (s *Store) Verify(ctx context.Context) ([]store.Problem, error) {
	if err := s.alive(ctx); err != nil {
		return nil, err
	}
	bucketOf := make([]int16, store.MaxStatus+1)
	for st := store.StatusNew; st <= store.MaxStatus; st++ {
		bucketOf[st] = int16(store.StatusBucket(st))
	}
	checks := []struct {
		key, detail, sql string
		args             []any
	}{
		{"lead %d", "bucket %d does not hold its status", `SELECT id, bucket FROM leads WHERE bucket <> ($1::smallint[])[status + 1]`, []any{bucketOf}},
		{"lead %d", "status %d with hold_until set or missing", `SELECT id, status FROM leads WHERE (status = 4) <> (hold_until IS NOT NULL)`, nil},
		{"lead %d", "history has %d of its entries 2..rev", `SELECT l.id, count(h.rev) FROM leads l LEFT JOIN history h ON h.lead_id = l.id AND h.rev <= l.rev
			GROUP BY l.id, l.rev HAVING count(h.rev) <> l.rev - 1`, nil},
		{"lead %d", "history entry %d beyond the lead's rev", `SELECT h.lead_id, h.rev FROM history h JOIN leads l ON l.id = h.lead_id WHERE h.rev > l.rev`, nil},
		{"idempotency key of lead %d", "points at a lead of another offer (%d)", `SELECT k.lead_id, 0 FROM idempotency_keys k LEFT JOIN leads l ON l.id = k.lead_id
			WHERE l.id IS NULL OR l.offer <> k.offer`, nil},
		{"history of lead %d", "rev %d: no such lead", `SELECT h.lead_id, h.rev FROM history h LEFT JOIN leads l ON l.id = h.lead_id WHERE l.id IS NULL`, nil},
		{"feed item of lead %d", "rev %d: no such lead", `SELECT f.lead_id, f.rev FROM feed_items f LEFT JOIN leads l ON l.id = f.lead_id WHERE l.id IS NULL`, nil},
	}
	var probs []store.Problem
	for _, c := range checks {
		if len(probs) >= 100 {
			break
		}
		rows, err := s.pool.Query(ctx, c.sql+fmt.Sprintf(" LIMIT %d", 100-len(probs)), c.args...)
		if err != nil {
			return probs, dbError(err)
		}
		for rows.Next() {
			var id, n int64
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return probs, err
			}
			probs = append(probs, store.Problem{Key: fmt.Sprintf(c.key, id), Detail: fmt.Sprintf(c.detail, n)})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return probs, dbError(err)
		}
	}
	return probs, nil
}

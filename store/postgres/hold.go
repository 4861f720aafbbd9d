package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"leadhost/store"
)

// ReleaseHolds approves held leads whose hold_until is not after now, at
// most limit of them (0: all), in one transaction, and returns how many
// it approved. A lead that left the hold meanwhile is left alone.
func (s *Store) ReleaseHolds(ctx context.Context, now time.Time, limit int) (int, error) {
	lim := any(nil)
	if limit > 0 {
		lim = limit
	}
	var (
		n int
		w *writes
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		n, w = 0, &writes{}
		due, err := scanLeads(tx.Query(ctx, `SELECT `+leadColumns+` FROM leads WHERE id IN (
				SELECT id FROM leads WHERE hold_until <= $1 ORDER BY hold_until, id LIMIT $2)
			ORDER BY id FOR UPDATE`, now, lim))
		if err != nil {
			return err
		}
		for _, cur := range due {
			// Locked: re-checked, another process may have moved it.
			if cur.Status != store.StatusHold || cur.HoldUntil.After(now) {
				continue
			}
			_, applied, _, err := s.applyAll(ctx, tx, w, cur, []store.Patch{{Accept: true, By: store.HoldRule}})
			if err != nil {
				return err
			}
			n += applied
		}
		return w.send(ctx, tx)
	})
	if err != nil {
		return 0, fmt.Errorf("release holds: %w", err)
	}
	s.publish(w.events)
	return n, nil
}

package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// HoldRule is the history's name for automatic approvals of expired holds.
const HoldRule = "rule:hold"

// ReleaseHolds approves held leads whose hold_until is not after now, at
// most limit of them (0: all), and returns how many it approved. The
// scheduler calls it on every tick. A lead that left the hold meanwhile is
// left alone.
func (s *Badger) ReleaseHolds(ctx context.Context, now time.Time, limit int) (int, error) {
	var due []uint64
	err := s.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kindHold}})
		defer it.Close()
		end := timeKey(now)
		for it.Rewind(); it.Valid(); it.Next() {
			key := it.Item().Key()
			if binary.BigEndian.Uint64(key[1:9]) > end || (limit > 0 && len(due) == limit) {
				break
			}
			due = append(due, tailU64(key))
		}
		return nil
	})
	if err != nil || len(due) == 0 {
		return 0, err
	}
	approved := make([]bool, len(due))
	steps := make([]step, len(due))
	for i, id := range due {
		steps[i] = func(w *stepWriter) error {
			approved[i] = false
			cur, err := readLead(w, id)
			if err != nil || cur == nil {
				return err
			}
			if cur.Status != StatusHold || cur.HoldUntil.After(now) {
				return nil
			}
			_, n, _, err := s.applyAll(w, cur, []Patch{{Accept: true, By: HoldRule}})
			approved[i] = n == 1
			return err
		}
	}
	if err := s.commit.do(newOp(steps...)); err != nil {
		return 0, fmt.Errorf("release holds: %w", err)
	}
	n := 0
	for _, ok := range approved {
		if ok {
			n++
		}
	}
	return n, nil
}

package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// DefineGoal returns the id of the offer's goal with this code, creating it
// on first use. Goal ids are unique across offers.
func (s *Badger) DefineGoal(ctx context.Context, offer, code string) (uint32, error) {
	if err := checkName("offer", offer); err != nil {
		return 0, err
	}
	if err := checkName("goal code", code); err != nil {
		return 0, err
	}
	// A goal defined before is only read: serve restarted on a nearly
	// full disk (read-only) still starts with the goals it had.
	if id, err := s.GoalByCode(ctx, offer, code); err == nil || !errors.Is(err, ErrNotFound) {
		return id, err
	}
	var id uint32
	err := s.commit.do(newOp(func(w *stepWriter) error {
		v, ok, err := w.get(goalKey(offer, code))
		if err != nil {
			return err
		}
		if ok && len(v) == 4 {
			id = binary.BigEndian.Uint32(v)
			return nil
		}
		if id == 0 {
			s.seqMu.Lock()
			n, err := s.goalSeq.Next()
			if n == 0 && err == nil {
				n, err = s.goalSeq.Next()
			}
			s.seqMu.Unlock()
			if err != nil {
				return err
			}
			if n > 1<<32-1 {
				return fmt.Errorf("goal ids exhausted: %w", ErrInvalid)
			}
			id = uint32(n)
		}
		w.set(goalKey(offer, code), binary.BigEndian.AppendUint32(nil, id))
		w.set(goalIDKey(offer, id), []byte(code))
		return nil
	}))
	if err != nil {
		return 0, fmt.Errorf("define goal %q of offer %q: %w", code, offer, err)
	}
	return id, nil
}

// GoalByCode returns the id of the offer's goal with this code, as
// core.goal.bycode does.
func (s *Badger) GoalByCode(ctx context.Context, offer, code string) (uint32, error) {
	var id uint32
	err := s.view(ctx, func(txn *badger.Txn) error {
		v, ok, err := getValue(txn, goalKey(offer, code))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("offer %q has no goal %q: %w", offer, code, ErrNotFound)
		}
		id, err = goalIDFrom(code, v)
		return err
	})
	return id, err
}

// goalIDFrom reads a goal's id as goalKey stores it.
func goalIDFrom(code string, v []byte) (uint32, error) {
	if len(v) != 4 {
		return 0, fmt.Errorf("goal %q: %w", code, errCorrupt)
	}
	return binary.BigEndian.Uint32(v), nil
}

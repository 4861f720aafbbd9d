package store

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// maxSignOutSweep bounds the expired sign-outs one SignOut deletes, so
// that a sign-out after a long quiet spell stays one small write.
const maxSignOutSweep = 1000

func signOutKey(id [32]byte) []byte { return append(keyOf(kindSignOut, len(id)), id[:]...) }

// SignOut remembers the console session's sign-out until its cookie
// expires, and forgets some that expired.
func (s *Badger) SignOut(ctx context.Context, id [32]byte, until time.Time) error {
	now := s.now()
	var expired [][]byte
	err := s.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kindSignOut}, PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Rewind(); it.Valid() && len(expired) < maxSignOutSweep; it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if signOutExpired(v, now) {
				expired = append(expired, it.Item().KeyCopy(nil))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.commit.do(newOp(func(w *stepWriter) error {
		for _, k := range expired {
			w.del(k)
		}
		key := signOutKey(id)
		v, ok, err := w.get(key)
		if err != nil {
			return err
		}
		if ok && len(v) == 8 && int64(binary.BigEndian.Uint64(v)) > until.Unix() {
			return nil // signed out before, with a later cookie's expiry
		}
		w.set(key, binary.BigEndian.AppendUint64(nil, uint64(until.Unix())))
		return nil
	}))
}

// SignedOut says whether the session was signed out and its cookie has
// not expired.
func (s *Badger) SignedOut(ctx context.Context, id [32]byte) (bool, error) {
	var out bool
	err := s.view(ctx, func(txn *badger.Txn) error {
		v, ok, err := getValue(txn, signOutKey(id))
		out = ok && !signOutExpired(v, s.now())
		return err
	})
	return out, err
}

// signOutExpired says whether a sign-out's cookie (until, as SignOut
// stores it) has expired by now.
func signOutExpired(until []byte, now time.Time) bool {
	return len(until) != 8 || !now.Before(time.Unix(int64(binary.BigEndian.Uint64(until)), 0))
}

package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"
)

// Problem is one inconsistency Verify found.
type Problem struct {
	Key    string `json:"key"`
	Detail string `json:"detail"`
}

// String formats the problem as "key: detail".
func (p Problem) String() string { return p.Key + ": " + p.Detail }

// Verify checks that every lead's index entries and history exist and
// match the record, and that every index entry points at a lead that
// matches it. It reads the whole database; it is a tool for tests, backups
// and incident response, not for hot paths. It stops after 100 problems.
func (s *Badger) Verify(ctx context.Context) ([]Problem, error) {
	var probs []Problem
	report := func(key []byte, f string, a ...any) {
		probs = append(probs, Problem{Key: fmt.Sprintf("%q", key), Detail: fmt.Sprintf(f, a...)})
	}
	full := func() bool { return len(probs) >= 100 }
	err := s.view(ctx, func(txn *badger.Txn) error {
		// Forward: every record has its index entries and history.
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kindLead}, PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Rewind(); it.Valid() && !full(); it.Next() {
			key := it.Item().KeyCopy(nil)
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			l, err := decodeLead(v)
			if err != nil {
				report(key, "undecodable: %v", err)
				continue
			}
			if l.ID != tailU64(key) {
				report(key, "record holds id %d", l.ID)
			}
			if !l.Status.Valid() {
				report(key, "status %d out of range", l.Status)
			}
			if _, ok, err := getValue(txn, statusKey(l)); err != nil {
				return err
			} else if !ok {
				report(key, "no offer+status index entry")
			}
			if l.Ext != "" {
				if xv, ok, err := getValue(txn, extKey(l.Offer, l.Ext)); err != nil {
					return err
				} else if !ok || !bytes.Equal(xv, idValue(l.ID)) {
					report(key, "offer+ext index does not point here")
				}
			}
			if (l.Status == StatusHold) != !l.HoldUntil.IsZero() {
				report(key, "status %d with hold_until %v", l.Status, l.HoldUntil)
			}
			if !l.HoldUntil.IsZero() {
				if _, ok, err := getValue(txn, holdKey(l.HoldUntil, l.ID)); err != nil {
					return err
				} else if !ok {
					report(key, "no hold index entry")
				}
			}
			for _, c := range leadContacts(l) {
				if _, ok, err := getValue(txn, contactKey(c, l.ID)); err != nil {
					return err
				} else if !ok {
					report(key, "no contact index entry for %q", c)
				}
			}
			for rev := uint32(2); rev <= l.Rev; rev++ { // 1, the creation, is derived
				if _, ok, err := getValue(txn, historyKey(l.ID, rev)); err != nil {
					return err
				} else if !ok {
					report(key, "history entry %d of %d missing", rev, l.Rev)
					break
				}
			}
		}
		// Backward: every index entry points at a matching record.
		lead := func(id uint64) (*Lead, error) {
			l, err := getLead(txn, id)
			if errors.Is(err, ErrNotFound) {
				return nil, nil
			}
			return l, err
		}
		for _, kind := range []byte{kindStatus, kindExt, kindHold, kindHistory, kindIdem, kindContact} {
			ix := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kind}, PrefetchValues: kind == kindExt || kind == kindIdem})
			for ix.Rewind(); ix.Valid() && !full(); ix.Next() {
				key := ix.Item().KeyCopy(nil)
				var id uint64
				var val []byte
				if kind == kindExt || kind == kindIdem {
					v, err := ix.Item().ValueCopy(nil)
					if err != nil {
						ix.Close()
						return err
					}
					if id, err = readID(v); err != nil {
						report(key, "bad value")
						continue
					}
				} else if kind == kindHistory {
					if len(key) != 13 {
						report(key, "bad history key")
						continue
					}
					id = binary.BigEndian.Uint64(key[1:9])
				} else {
					id = tailU64(key)
				}
				l, err := lead(id)
				if err != nil {
					ix.Close()
					return err
				}
				if l == nil {
					report(key, "points at missing lead %d", id)
					continue
				}
				switch kind {
				case kindStatus:
					val = statusKey(l)
				case kindExt:
					val = extKey(l.Offer, l.Ext)
				case kindHold:
					val = holdKey(l.HoldUntil, l.ID)
				case kindHistory:
					if rev := binary.BigEndian.Uint32(key[9:]); rev < 2 || rev > l.Rev {
						report(key, "history entry %d beyond lead rev %d", rev, l.Rev)
					}
					continue
				case kindIdem:
					if !bytes.HasPrefix(key, offerPrefix(kindIdem, l.Offer)) {
						report(key, "idempotency key points at lead %d of offer %q", id, l.Offer)
					}
					continue
				case kindContact:
					if c := string(key[1 : len(key)-9]); !slices.Contains(leadContacts(l), c) {
						report(key, "stale: lead %d's fields no longer hold contact %q", id, c)
					}
					continue
				}
				if !bytes.Equal(key, val) {
					report(key, "stale: lead %d is offer %q status %d ext %q", id, l.Offer, l.Status, l.Ext)
				}
			}
			ix.Close()
		}
		return nil
	})
	return probs, err
}

package store

import (
	"encoding/json"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// The journal's index by status. A console page of an offer's failed
// webhooks reads only failed entries instead of decoding fifty "ok" ones
// per row shown. An entry is indexed twice (journal.go's key layout): by
// status alone, for "every error", and by status and offer, for "this
// offer's errors" — with many offers the status alone would again read
// mostly other offers' entries.
//
// "ok" entries are not indexed: they are most of the journal, so a list
// of them reads the offer's or the kind's index and keeps nearly every
// entry it decodes, and indexing them made a queued Record 40-70% dearer
// (BenchmarkJournalWrite: 8.8-11.9 µs an entry without the index, 13-20
// µs with every status indexed, 8.9-11.2 µs with all but "ok" — the same
// as without, within the shared machine's noise). The price: "ok" rows
// of an offer that fails nearly always are found among its errors.
//
// Stores written before the index get it in the background, once, from
// the newest entry to the oldest (backfillStatusIndex); until that is done
// lists by status read the offer's or the kind's index as before, so no
// entry is ever missing from a list.

var (
	// statusIndexDone marks a journal whose every entry is in the index
	// by status.
	statusIndexDone = []byte("m/journal/status-index")
	// statusIndexFrom is where an unfinished backfill goes on: the next
	// entry's key.
	statusIndexFrom = []byte("m/journal/status-index/from")
)

// backfillBatch is how many entries one backfill transaction indexes.
const backfillBatch = 1000

func journalStatusPrefix(status JournalStatus) []byte {
	return offerPrefix(kindJournalByStatus, string(status))
}

func journalStatusOfferPrefix(status JournalStatus, offer string) []byte {
	return append(append(offerPrefix(kindJournalByStatusOffer, string(status)), offer...), 0)
}

// statusIndexed says whether entries of a status are in the index by
// status: all but "ok" (see the top of this file).
func statusIndexed(st JournalStatus) bool { return st != JournalOK }

// statusIndexKeys are an entry's keys in the index by status (none when
// its status is not indexed).
func statusIndexKeys(e *JournalEntry) [][]byte {
	if !statusIndexed(e.Status) {
		return nil
	}
	inv := ^e.ID
	return [][]byte{
		appendU64(journalStatusPrefix(e.Status), inv),
		appendU64(journalStatusOfferPrefix(e.Status, e.Offer), inv),
	}
}

// startStatusIndex says whether the index by status is whole and, when
// not, completes it in the background.
func (s *Badger) startStatusIndex() {
	err := s.jdb.View(func(txn *badger.Txn) error {
		_, ok, err := getValue(txn, statusIndexDone)
		s.jr.byStatus.Store(ok)
		return err
	})
	if err != nil {
		s.log.Error("journal: reading the status index's marker", "err", err)
		return
	}
	if s.jr.byStatus.Load() {
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		if gate := s.opts.backfillGate; gate != nil {
			select {
			case <-gate:
			case <-s.closed:
				return
			}
		}
		n, err := s.backfillStatusIndex()
		if err != nil {
			s.log.Error("journal: indexing older entries by status (lists by status read the slower way until a restart finishes it)", "indexed", n, "err", err)
			return
		}
		if n >= 0 {
			s.log.Info("journal: older entries indexed by status", "entries", n)
		}
	}()
}

// backfillStatusIndex indexes every entry by status, a batch a
// transaction, keeping each entry's expiry; it goes on where the last
// run stopped (statusIndexFrom) and, done, marks the journal so. It
// gives the count indexed, -1 when the store closed first.
func (s *Badger) backfillStatusIndex() (int, error) {
	var from []byte
	err := s.jdb.View(func(txn *badger.Txn) error {
		v, _, err := getValue(txn, statusIndexFrom)
		from = v
		return err
	})
	if err != nil {
		return 0, err
	}
	if from == nil {
		from = []byte{kindJournal}
	}
	n := 0
	for from != nil {
		select {
		case <-s.closed:
			return -1, nil
		default:
		}
		if s.disk.journalStop.Load() || s.disk.readOnly.Load() != nil {
			return n, fmt.Errorf("paused for disk space: %w", ErrDiskFull)
		}
		var done int
		var err error
		if from, done, err = s.backfillStatusBatch(from); err != nil {
			return n, err
		}
		n += done
	}
	s.jr.byStatus.Store(true)
	return n, nil
}

// backfillStatusBatch indexes up to backfillBatch entries from the key
// from and gives the key to go on from (nil: the last was done).
func (s *Badger) backfillStatusBatch(from []byte) ([]byte, int, error) {
	var next []byte
	n := 0
	err := s.jdb.Update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kindJournal}, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Seek(from); it.Valid(); it.Next() {
			item := it.Item()
			if n == backfillBatch {
				next = item.KeyCopy(nil)
				break
			}
			var e JournalEntry
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err != nil {
				return fmt.Errorf("journal entry %q: %w", item.Key(), errCorrupt)
			}
			e.ID = ^tailU64(item.Key()) // the key's, whatever the value says
			for _, k := range statusIndexKeys(&e) {
				ie := badger.NewEntry(k, nil)
				ie.ExpiresAt = item.ExpiresAt() // the entry's remaining time, not a new TTL
				if err := txn.SetEntry(ie); err != nil {
					return err
				}
			}
			n++
		}
		if next != nil {
			return txn.Set(statusIndexFrom, next)
		}
		if err := txn.Delete(statusIndexFrom); err != nil {
			return err
		}
		return txn.Set(statusIndexDone, nil)
	})
	return next, n, err
}

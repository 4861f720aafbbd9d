package store

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"
)

// The journal's indexes by offer and by kind hold a batch's entries per
// key. Each key the journal's Badger takes costs it about the same (its
// memtable's log, its skiplist, a dozen allocations), and a webhook's
// entry was three keys: itself and one in each index. Entries of one
// offer (or kind) that the writer moves from the spool in one batch
// (journalLoop) share one index key — a run:
//
//	J offer 0 inv  → (empty): the entry inv alone, as every key was before
//	J offer 0 inv  → inv inv …: the run's entries, newest first, from inv
//
// (K kind 0 … alike). A batch's ids are consecutive in the spool's order,
// so runs of one offer never overlap and keys in order are entries in
// order; a run of one entry is written as before, so a journal holds both
// forms and lists read both. A run expires with its last entry (its
// newest's TTL is the offer's: a run by kind may outlive an entry of an
// offer kept shorter, which a list passes over as it does an entry that
// expired between the index and itself). The indexes by status stay one
// key an entry: their entries are the rare ones.
//
// Runs written again overlap. A writer killed mid-batch leaves its
// entries in the spool from its tail on (the tail moves once Badger has a
// batch), and Open writes all of them again in one batch: each offer's
// run then begins at the same oldest entry as the killed writer's and
// ends at the same or a newer one. So runs that overlap are nested, from
// one oldest entry: a list passes over an entry it has passed (in the
// newer run, listed first), and a page that goes on after an entry
// begins at the run with the nearest key at or before it (runFrom),
// which holds every older entry of the overlap.

// journalRun is one offer's or kind's entries in a batch: the inv of its
// newest, all its invs (newest first) when it has more than one, and when
// it may expire.
type journalRun struct {
	name    string
	first   uint64
	invs    []byte
	expires uint64
}

// journalRuns groups batch's entries by name (an offer, or a kind),
// expires[i] being when batch[i] expires, into runs reused from the last
// batch (Badger is done with their invs once its write returned). A
// batch holds a few offers and kinds: they are looked for in turn.
func journalRuns(runs []journalRun, batch []spooled, expires []uint64, name func(e *spooled) string) []journalRun {
	runs = runs[:0]
	for i := len(batch) - 1; i >= 0; i-- { // newest first
		n, inv := name(&batch[i]), ^batch[i].id
		j := slices.IndexFunc(runs, func(r journalRun) bool { return r.name == n })
		if j < 0 {
			if len(runs) < cap(runs) {
				runs = runs[:len(runs)+1]
			} else {
				runs = append(runs, journalRun{})
			}
			r := &runs[len(runs)-1]
			*r = journalRun{name: n, first: inv, invs: r.invs[:0], expires: expires[i]}
			continue
		}
		r := &runs[j]
		if len(r.invs) == 0 {
			r.invs = appendU64(r.invs, r.first)
		}
		r.invs = appendU64(r.invs, inv)
		r.expires = max(r.expires, expires[i])
	}
	return runs
}

// appendRunKey appends run r's key in the index of kind to b.
func appendRunKey(b []byte, kind byte, r *journalRun) []byte {
	return appendU64(append(append(append(b, kind), r.name...), 0), r.first)
}

// runInvs are the invs an index key holds: the one its key ends with, or
// its run's.
func runInvs(item *badger.Item) ([]byte, error) {
	key := item.Key()
	v, err := item.ValueCopy(nil)
	if err != nil || len(v) == 0 {
		return key[len(key)-8:], err
	}
	if len(v)%8 != 0 || string(v[:8]) != string(key[len(key)-8:]) {
		return nil, fmt.Errorf("journal index %x: a run of %d bytes: %w", key, len(v), errCorrupt)
	}
	return v, nil
}

// runFrom is where a list of an index under prefix that goes on after
// the entry of cursor key start begins: the key of the run holding that
// entry, which may begin before it, or start.
func runFrom(txn *badger.Txn, prefix, start []byte) []byte {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: true})
	defer it.Close()
	if it.Seek(start); it.Valid() {
		return it.Item().KeyCopy(nil)
	}
	return start
}

// invAt is the i-th inv of invs.
func invAt(invs []byte, i int) uint64 { return binary.BigEndian.Uint64(invs[8*i:]) }

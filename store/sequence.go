package store

import (
	"encoding/binary"
	"errors"
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// durableSeq hands out ids in leases whose every one is on disk before an
// id of it is given out. A lease is a key holding the first id past it
// (big-endian, as badger.Sequence wrote it, so a store it made reads the
// same). Badger runs without syncs behind the write-ahead log (wal.go),
// which does not carry leases: a machine crash could take a lease back
// and hand its ids out again. So each new lease syncs Badger's logs; the
// first one Open syncs.
//
// The next lease is taken and synced ahead, behind the callers, once half
// of the current one is given out: a sync of Badger's logs takes 1–67 ms
// on this disk (median 7), and taken when the lease ran out (as
// badger.Sequence does) it held every Add for that long, all of them
// waiting for nextID. Next waits only if the lease runs out before the
// sync ahead is done.
type durableSeq struct {
	db   *badger.DB
	key  []byte
	bw   uint64
	sync func() error // nil: nothing to sync (in memory)

	mu     sync.Mutex
	ready  sync.Cond // renewing ended
	next   uint64    // the next id to give out
	leased uint64    // ids below it are leased, on disk
	// renewing says a lease ahead is being written and synced. If it
	// fails, the Next that runs out of ids takes the lease itself and
	// returns the error.
	renewing bool
	done     sync.WaitGroup // the lease ahead in flight, for Release
}

// openSeq takes a first lease of bw ids at key. It is not synced: Open
// syncs it with what the replay wrote.
func openSeq(db *badger.DB, key []byte, bw uint64, sync func() error) (*durableSeq, error) {
	q := &durableSeq{db: db, key: key, bw: bw, sync: sync}
	q.ready.L = &q.mu
	var err error
	if q.next, err = q.stored(); err != nil {
		return nil, err
	}
	if err := q.store(q.next + bw); err != nil {
		return nil, err
	}
	q.leased = q.next + bw
	return q, nil
}

// Next returns the sequence's next id.
func (q *durableSeq) Next() (uint64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.next >= q.leased {
		if !q.renewing {
			// No lease ahead (the first Next after a failed one, or a
			// bandwidth too small to get ahead): take it here.
			q.renewing = true
			q.mu.Unlock()
			err := q.renew()
			q.mu.Lock()
			if err != nil {
				return 0, err
			}
			continue
		}
		q.ready.Wait()
	}
	id := q.next
	q.next++
	if !q.renewing && q.leased-q.next <= q.bw/2 {
		q.renewing = true
		q.done.Add(1)
		go func() { defer q.done.Done(); q.renew() }()
	}
	return id, nil
}

// renew writes and syncs the lease after the current one, then gives it
// out. Called with renewing set, mu not held.
func (q *durableSeq) renew() error {
	q.mu.Lock()
	lease := q.leased + q.bw
	q.mu.Unlock()
	err := q.store(lease)
	if err == nil && q.sync != nil {
		err = q.sync()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.renewing = false
	if err == nil {
		q.leased = lease
	}
	q.ready.Broadcast()
	return err
}

// Release gives the unused ids of the leases back (Close): the key holds
// the next id, once the lease ahead in flight, if any, is written.
func (q *durableSeq) Release() error {
	q.done.Wait()
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.store(q.next)
}

// stored is what the key holds: the first id no lease has given out.
func (q *durableSeq) stored() (uint64, error) {
	var n uint64
	err := q.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(q.key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if len(v) != 8 {
				return errCorrupt
			}
			n = binary.BigEndian.Uint64(v)
			return nil
		})
	})
	return n, err
}

// store writes n as the first id past the leases.
func (q *durableSeq) store(n uint64) error {
	return q.db.Update(func(txn *badger.Txn) error {
		return txn.Set(q.key, binary.BigEndian.AppendUint64(nil, n))
	})
}

package store

import "github.com/dgraph-io/badger/v4"

// durableSeq is a Badger sequence whose every lease is on disk before an
// id of it is given out. Badger writes a lease as an ordinary update, and
// runs without syncs behind the write-ahead log (wal.go), which does not
// carry leases: a machine crash could take a lease back and hand its ids
// out again. So each new lease syncs Badger's logs (once per bandwidth
// ids); the first one Open syncs.
type durableSeq struct {
	seq   *badger.Sequence
	bw    uint64
	from  uint64 // first id of the current lease
	began bool
	sync  func() error // nil: nothing to sync (in memory)
}

// Next returns the sequence's next id.
func (q *durableSeq) Next() (uint64, error) {
	id, err := q.seq.Next()
	if err != nil {
		return 0, err
	}
	switch {
	case !q.began:
		q.from, q.began = id, true
	case id >= q.from+q.bw: // Next took a new lease to give id
		if q.sync != nil {
			if err := q.sync(); err != nil {
				return 0, err
			}
		}
		q.from = id
	}
	return id, nil
}

// Release gives the unused ids of the lease back (Close).
func (q *durableSeq) Release() error { return q.seq.Release() }

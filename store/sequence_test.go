package store

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

func openSeqDB(t *testing.T, dir string) *badger.DB {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil).WithInMemory(dir == ""))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestSequenceGivesConsecutiveIDsAcrossLeases(t *testing.T) {
	t.Parallel()
	db := openSeqDB(t, "")
	defer db.Close()
	var syncs atomic.Int32
	q, err := openSeq(db, []byte("seq"), 4, func() error { syncs.Add(1); return nil })
	if err != nil {
		t.Fatal(err)
	}
	for want := uint64(0); want < 40; want++ {
		id, err := q.Next()
		if err != nil || id != want {
			t.Fatalf("Next = %d, %v; want %d", id, err, want)
		}
	}
	if err := q.Release(); err != nil {
		t.Fatal(err)
	}
	if n := syncs.Load(); n < 9 {
		t.Errorf("%d leases synced for 40 ids 4 a lease; want 9 or more", n)
	}
	// What Release gave back is given out again.
	q, err = openSeq(db, []byte("seq"), 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := q.Next(); err != nil || id != 40 {
		t.Fatalf("after Release, Next = %d, %v; want 40", id, err)
	}
}

func TestSequenceLeaseIsOnDiskBeforeItsIDs(t *testing.T) {
	t.Parallel()
	db := openSeqDB(t, "")
	defer db.Close()
	// sync checks that the key already holds the lease it makes durable,
	// and remembers it: no id may reach it before.
	var durable atomic.Uint64
	var q *durableSeq
	sync := func() error {
		n, err := q.stored()
		durable.Store(n)
		return err
	}
	q, err := openSeq(db, []byte("seq"), 10, sync)
	if err != nil {
		t.Fatal(err)
	}
	durable.Store(10) // Open syncs the first lease
	for i := 0; i < 100; i++ {
		id, err := q.Next()
		if err != nil {
			t.Fatal(err)
		}
		if id >= durable.Load() {
			t.Fatalf("id %d given out before its lease (up to %d) was synced", id, durable.Load())
		}
	}
}

func TestSequenceNextDoesNotWaitForTheLeaseAhead(t *testing.T) {
	t.Parallel()
	db := openSeqDB(t, "")
	defer db.Close()
	release := make(chan struct{})
	q, err := openSeq(db, []byte("seq"), 100, func() error { <-release; return nil })
	if err != nil {
		t.Fatal(err)
	}
	// The lease ahead starts at id 50 and waits; ids up to 99 need none.
	done := make(chan error, 1)
	go func() {
		for i := 0; i < 100; i++ {
			if _, err := q.Next(); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next waited for the lease ahead while the current one had ids")
	}
	// The 101st id waits for it.
	got := make(chan uint64, 1)
	go func() { id, _ := q.Next(); got <- id }()
	select {
	case id := <-got:
		t.Fatalf("id %d given out before the lease ahead was synced", id)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if id := <-got; id != 100 {
		t.Fatalf("Next = %d, want 100", id)
	}
	if err := q.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestSequenceFailedSyncIsReturnedWhenItsIDsAreNeeded(t *testing.T) {
	t.Parallel()
	db := openSeqDB(t, "")
	defer db.Close()
	broken := errors.New("disk gone")
	var fail atomic.Bool
	q, err := openSeq(db, []byte("seq"), 4, func() error {
		if fail.Load() {
			return broken
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	var last error
	for i := 0; i < 8 && last == nil; i++ {
		_, last = q.Next()
	}
	if !errors.Is(last, broken) {
		t.Fatalf("Next past a lease that failed to sync: %v, want %v", last, broken)
	}
	fail.Store(false)
	if _, err := q.Next(); err != nil {
		t.Fatalf("Next once the sync works again: %v", err)
	}
}

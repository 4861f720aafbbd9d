package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

var errDiskFull = errors.New("no space left on device (test)")

// bigBatchStore opens a store on disk holding n leads of ~2.5 KB and
// returns a batch giving each of them comment c: too big for one Badger
// transaction.
func bigBatchStore(t *testing.T, dir string, n int, c string) (*Badger, []uint64, Batch) {
	t.Helper()
	s, err := Open(Options{Dir: dir, NoSync: true, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = mustAdd(t, s, largeLead(i)).ID
	}
	b := s.NewBatch()
	for _, id := range ids {
		if err := b.Edit(id, Patch{Comment: &c, Status: ptr(StatusCallback), By: "batch"}); err != nil {
			t.Fatal(err)
		}
	}
	return s, ids, b
}

// commented counts the leads whose comment is c.
func commented(t *testing.T, s *Badger, ids []uint64, c string) int {
	t.Helper()
	n := 0
	for _, id := range ids {
		l, err := s.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if l.Comment == c {
			n++
		}
	}
	return n
}

// The worst moment of a crash, made exact: a big batch is in the
// write-ahead log and its first part in Badger, the rest is not (the disk
// filled up, then the process died). The next Open replays it: all of
// the batch, each lead at rev 2 with one history entry for it.
func TestBatchCutShortLandsWholeOnOpen(t *testing.T) {
	dir := t.TempDir()
	s, ids, b := bigBatchStore(t, dir, 1000, "whole")
	s.failPart = func(n int) error {
		if n > 0 {
			return errDiskFull
		}
		return nil
	}
	if _, err := b.Commit(context.Background()); !errors.Is(err, errDiskFull) {
		t.Fatalf("commit with part 2 failing: err = %v", err)
	}
	if n := commented(t, s, ids, "whole"); n == 0 || n == len(ids) {
		t.Fatalf("%d of %d leads written before the failure: the test proves nothing", n, len(ids))
	}
	// Nothing else is written until the batch is finished: a write on top
	// of half a batch would be undone by its recovery.
	other := mustAddFails(t, s)
	if !strings.Contains(other.Error(), "batch") {
		t.Errorf("write while a batch is unfinished: %v, want an error saying why", other)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(Options{Dir: dir, GCInterval: -1})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if n := commented(t, s, ids, "whole"); n != len(ids) {
		t.Fatalf("after reopen %d of %d leads carry the batch, want all", n, len(ids))
	}
	for _, id := range ids[:10] {
		l, _ := s.Get(context.Background(), id)
		hist, err := s.History(context.Background(), id)
		if err != nil || l.Rev != 2 || len(hist) != 2 || hist[1].By != "batch" {
			t.Fatalf("lead %d: rev %d, history %+v (%v): want rev 2 and one batch entry", id, l.Rev, hist, err)
		}
	}
	mustVerify(t, s)
}

func mustAddFails(t *testing.T, s *Badger) error {
	t.Helper()
	_, _, err := s.Add(context.Background(), NewLead{Offer: "other"})
	if err == nil {
		t.Fatal("a write on top of half a batch succeeded")
	}
	return err
}

// A store that can write again finishes the batch by itself, before the
// next write, which then succeeds; a failure that passes at once (the
// first retry works) is no failure at all.
func TestBatchFinishedWhenStoreWritesAgain(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failures int64 // part 2 fails this many times
		wantErr  bool
	}{
		{"disk full a while", 1 << 30, true},
		{"one failure", 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ids, b := bigBatchStore(t, t.TempDir(), 800, "healed")
			defer s.Close()
			var left atomic.Int64
			left.Store(tc.failures)
			s.failPart = func(n int) error {
				if n > 0 && left.Add(-1) >= 0 {
					return errDiskFull
				}
				return nil
			}
			_, err := b.Commit(context.Background())
			if left.Load() >= tc.failures {
				t.Fatal("the batch fit one transaction: the test proves nothing")
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("commit: err = %v, want error: %v", err, tc.wantErr)
			}
			if tc.wantErr {
				mustAddFails(t, s)
				left.Store(0) // space is back
			}
			l, _, err := s.Add(context.Background(), NewLead{Offer: "other"})
			if err != nil {
				t.Fatalf("first write once the store can write again: %v", err)
			}
			if n := commented(t, s, ids, "healed"); n != len(ids) {
				t.Errorf("%d of %d leads carry the batch, want all", n, len(ids))
			}
			if got, err := s.Get(context.Background(), l.ID); err != nil || got.Offer != "other" {
				t.Errorf("the write after the batch: %+v, %v", got, err)
			}
			mustVerify(t, s)
		})
	}
}

// An op whose step fails writes none of its steps, not the ones before.
func TestOpFailingMidwayWritesNothing(t *testing.T) {
	s, _ := newTestStore(t, Options{})
	boom := errors.New("boom")
	err := s.commit.do(newOp(
		func(w *stepWriter) error { w.set([]byte("m/test/a"), []byte("1")); return nil },
		func(w *stepWriter) error { w.set([]byte("m/test/b"), []byte("2")); return boom },
	))
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	// The next op in the same group must not see it either.
	var seen bool
	if err := s.commit.do(newOp(func(w *stepWriter) error {
		_, seen, _ = w.get([]byte("m/test/a"))
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	if seen {
		t.Error("a later op saw the failed op's first step")
	}
	err = s.db.View(func(txn *badger.Txn) error {
		_, seen, err = getValue(txn, []byte("m/test/a"))
		return err
	})
	if err != nil || seen {
		t.Errorf("the failed op's first step was written (%v)", err)
	}
}

// A write queued while a big batch lands is computed on top of all of it
// and lands after all of it, so that a replay could never undo it (and no
// recovery record of an earlier leadhost is left behind). Readers
// meanwhile may see part of the batch, each lead whole.
func TestWriterDuringBigBatch(t *testing.T) {
	s, ids, b := bigBatchStore(t, t.TempDir(), 1000, "whole")
	defer s.Close()
	ctx := context.Background()
	inPart, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	resume := func() { once.Do(func() { close(release) }) }
	defer resume() // before Close: a failing test must not leave the batch parked
	s.failPart = func(n int) error {
		if n == 1 {
			close(inPart)
			<-release
		}
		return nil
	}
	committed := make(chan error, 1)
	go func() { _, err := b.Commit(ctx); committed <- err }()
	<-inPart
	last := ids[len(ids)-1] // in the part not yet landed
	edited := make(chan *Lead, 1)
	go func() {
		l, err := s.Edit(ctx, last, Patch{Track: ptr("T1"), By: "other"})
		if err != nil {
			t.Error(err)
		}
		edited <- l
	}()
	// Wait until the committer has computed the edit, on top of the
	// batch's overlay: an op queued behind it sees it.
	for seen := false; !seen; {
		saw := make(chan bool, 1)
		go s.commit.do(newOp(func(w *stepWriter) error {
			l, err := readLead(w, last)
			select {
			case saw <- err == nil && l != nil && l.Track == "T1":
			default:
			}
			return nil
		}))
		seen = <-saw
	}
	if got, _ := s.Get(ctx, last); got.Comment == "whole" {
		t.Fatal("the last lead landed before its part: the test proves nothing")
	}
	mustVerify(t, s) // each lead consistent with its indexes mid-batch
	resume()
	if err := <-committed; err != nil {
		t.Fatal(err)
	}
	l := <-edited
	if l == nil || l.Comment != "whole" || l.Track != "T1" || l.Rev != 3 {
		t.Fatalf("the edit queued mid-batch: %+v, want the batch's comment, track T1, rev 3", l)
	}
	var record bool
	s.db.View(func(txn *badger.Txn) error {
		_, record, _ = getValue(txn, redoHeadKey)
		return nil
	})
	if record {
		t.Error("the batch's recovery record outlived it")
	}
	mustVerify(t, s)
}

// FuzzDecodePart: a recovery record's part that does not decode is an
// error, never a panic, and what one decodes to survives encoding.
func FuzzDecodePart(f *testing.F) {
	f.Add(encodePart([]write{{key: []byte("l1"), val: []byte("v")}, {key: []byte("s1"), del: true}}))
	f.Add([]byte{0, 2, 'l', '1'})
	f.Add([]byte{2, 1, 'x'})
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		writes, err := decodePart(b)
		if err != nil {
			return
		}
		again, err := decodePart(encodePart(writes))
		if err != nil || fmt.Sprint(again) != fmt.Sprint(writes) {
			t.Fatalf("%x decodes to %v, which encodes to %v (%v)", b, writes, again, err)
		}
	})
}

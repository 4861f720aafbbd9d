package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// These tests steer the committer into rare orders: gate parks it inside a
// step so that ops queue up behind, and badOp makes a group fail at write
// time (Badger refuses keys over 65,000 bytes), as a broken disk would.

func gate(s *Badger) (entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	go s.commit.do(newOp(func(*stepWriter) error { close(entered); <-release; return nil }))
	return entered, release
}

func badOp() *writeOp {
	return newOp(func(w *stepWriter) error { w.set(make([]byte, 70000), nil); return nil })
}

func waitQueued(t *testing.T, s *Badger, n int) {
	t.Helper()
	for i := 0; i < 2000 && len(s.commit.ch) < n; i++ {
		time.Sleep(time.Millisecond)
	}
	if len(s.commit.ch) < n {
		t.Fatalf("queue holds %d ops, want %d", len(s.commit.ch), n)
	}
}

// A group computed on top of a group that failed must not land what it
// computed from the failed writes.
func TestGroupOnFailedFlight(t *testing.T) {
	s, _ := newTestStore(t, Options{})
	ctx := context.Background()
	a := mustAdd(t, s, NewLead{Offer: "acme"})
	s.commit.maxCount = 6 // one status edit and the bad write fill a group
	entered, release := gate(s)
	<-entered
	results := make([]error, 3)
	done := make(chan struct{}, 3)
	run := func(i int, f func() error) { results[i] = f(); done <- struct{}{} }
	go run(0, func() error { _, err := s.Edit(ctx, a.ID, Patch{Status: ptr(StatusProcessing)}); return err })
	waitQueued(t, s, 1)
	go run(1, func() error { return s.commit.do(badOp()) })
	waitQueued(t, s, 2)
	go run(2, func() error {
		_, err := s.Edit(ctx, a.ID, Patch{Status: ptr(StatusCancel), Reason: ptr(ReasonExpensive)})
		return err
	})
	waitQueued(t, s, 3)
	close(release)
	for range results {
		<-done
	}
	if results[1] == nil {
		t.Fatal("the bad write succeeded: the test proves nothing")
	}
	got, _ := s.Get(ctx, a.ID)
	hist, _ := s.History(ctx, a.ID)
	ok := 0
	for _, err := range []error{results[0], results[2]} {
		if err == nil {
			ok++
		}
	}
	if int(got.Rev) != 1+ok || len(hist) != int(got.Rev) {
		t.Errorf("%d edits acknowledged (%v), lead rev %d with %d history entries", ok, results, got.Rev, len(hist))
	}
	if results[2] == nil && got.Status != StatusCancel {
		t.Errorf("acknowledged cancel missing: %+v", got)
	}
	mustVerify(t, s)
}

// An op split over several groups returns only after all of them landed,
// and reports a failure of any of them.
func TestSplitOpWaitsForAllGroups(t *testing.T) {
	for round := 0; round < 10; round++ {
		s, _ := newTestStore(t, Options{})
		ctx := context.Background()
		var ids []uint64
		for i := 0; i < 6; i++ {
			ids = append(ids, mustAdd(t, s, NewLead{Offer: "acme"}).ID)
		}
		s.commit.maxCount = 7 // three comment edits (2 writes each) a group
		b := s.NewBatch()
		for _, id := range ids {
			if err := b.Edit(id, Patch{Comment: ptr("batch")}); err != nil {
				t.Fatal(err)
			}
		}
		entered, release := gate(s)
		<-entered
		commitErr := make(chan error, 1)
		badErr := make(chan error, 1)
		go func() { _, err := b.Commit(ctx); commitErr <- err }()
		waitQueued(t, s, 1)
		go func() { badErr <- s.commit.do(badOp()) }()
		waitQueued(t, s, 2)
		close(release)
		err := <-commitErr
		<-badErr
		written := 0
		for _, id := range ids {
			if l, _ := s.Get(ctx, id); l.Comment == "batch" {
				written++
			}
		}
		if err == nil && written != len(ids) {
			t.Fatalf("round %d: Commit returned nil with %d of %d leads written", round, written, len(ids))
		}
		mustVerify(t, s)
	}
}

// Leads read before a batch refreshed its snapshot keep the older snapshot's
// sequence: an edit made meanwhile by another writer is not overwritten.
func TestBatchRefreshKeepsConcurrentEdit(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{})
	ctx := context.Background()
	a := mustAdd(t, s, NewLead{Offer: "acme"})
	b := s.NewBatch()
	if err := b.Edit(a.ID, Patch{Comment: ptr("from batch")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Edit(ctx, a.ID, Patch{Status: ptr(StatusCancel), Reason: ptr(ReasonExpensive)}); err != nil {
		t.Fatal(err)
	}
	c := mustAdd(t, s, NewLead{Offer: "acme"}) // not in the batch's snapshot
	if err := b.Edit(c.ID, Patch{Comment: ptr("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, a.ID)
	if got.Status != StatusCancel || got.Comment != "from batch" || got.Rev != 3 {
		t.Errorf("lead after batch and concurrent cancel: status %d comment %q rev %d", got.Status, got.Comment, got.Rev)
	}
	mustVerify(t, s)
}

// One lead of a batch may take over the ext another gives up in the same
// batch, whatever order they were first edited in.
func TestBatchExtHandover(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{})
	ctx := context.Background()
	a := mustAdd(t, s, NewLead{Offer: "acme", Ext: "e1"})
	c := mustAdd(t, s, NewLead{Offer: "acme", Ext: "e2"})
	b := s.NewBatch()
	for _, e := range []struct {
		id uint64
		p  Patch
	}{{c.ID, Patch{Comment: ptr("first")}}, {a.ID, Patch{Ext: ptr("e9")}}, {c.ID, Patch{Ext: ptr("e1")}}} {
		if err := b.Edit(e.id, e.p); err != nil {
			t.Fatal(err)
		}
	}
	res, err := b.Commit(ctx)
	if err != nil || len(res.Refused) != 0 || res.Edits != 3 {
		t.Fatalf("commit: %+v, %v", res, err)
	}
	if l, err := s.ByExt(ctx, "acme", "e1"); err != nil || l.ID != c.ID {
		t.Errorf("e1 belongs to %v (%v), want lead %d", l, err, c.ID)
	}
	mustVerify(t, s)
}

// A lead put on 6..11 by a status edit is approved already: approving it
// changes nothing, fires nothing and reports nothing (SPEC §1).
func TestAcceptOfAnApprovedLeadChangesNothing(t *testing.T) {
	t.Parallel()
	s, clk := newTestStore(t, Options{})
	ctx := context.Background()
	l := mustAdd(t, s, NewLead{Offer: "acme", Status: StatusProcessing})
	put, err := s.Edit(ctx, l.ID, Patch{Status: ptr(StatusTransit)})
	if err != nil {
		t.Fatal(err)
	}
	var events []Event
	s.Subscribe(func(ev Event) { events = append(events, ev) })
	clk.Advance(time.Minute)
	got, err := s.Edit(ctx, l.ID, Patch{Accept: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusTransit || got.Rev != put.Rev || !got.AcceptedAt.IsZero() || len(events) != 0 {
		t.Errorf("accept of a lead put in transit: %+v, events %+v", got, events)
	}
}

func TestBatchSeesGoalsDefinedLater(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{})
	ctx := context.Background()
	l := mustAdd(t, s, NewLead{Offer: "acme"})
	b := s.NewBatch()
	defer b.Discard()
	gid, err := s.DefineGoal(ctx, "acme", "sale")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Edit(l.ID, Patch{Goal: &gid}); err != nil {
		t.Errorf("goal defined after the batch began: %v", err)
	}
	if err := b.Edit(l.ID, Patch{Goal: ptr(gid + 100)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown goal: err = %v", err)
	}
}

// A lead of 1 MB of fields is taken by a store on disk: its values go to
// Badger's value log and count as pointers toward a transaction's limit
// (1.2 MB with 8 MB memtables, of which the committer keeps to 40%).
func TestBigLeadFitsOnDisk(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{Dir: t.TempDir(), GCInterval: -1})
	nl := NewLead{Offer: "o1", Fields: map[string]string{}}
	for i := 0; i < 100; i++ {
		nl.Fields[fmt.Sprintf("f%d", i)] = strings.Repeat("x", 10<<10)
	}
	l, _, err := s.Add(context.Background(), nl)
	if err != nil {
		t.Fatalf("add a lead of 1 MB: %.200v", err)
	}
	got, err := s.Get(context.Background(), l.ID)
	if err != nil || len(got.Fields) != 100 {
		t.Fatalf("get: %d fields, %v", len(got.Fields), err)
	}
}

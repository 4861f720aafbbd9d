package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestBatchCommitAndDiscard(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{})
	ctx := context.Background()
	var leads []*Lead
	for i := 0; i < 5; i++ {
		leads = append(leads, mustAdd(t, s, NewLead{Offer: "acme", Status: StatusProcessing, Ext: fmt.Sprint(100 + i)}))
	}
	var events []Event
	s.Subscribe(func(ev Event) { events = append(events, ev) })

	// A discarded batch (a dry run, a handler that raised) writes nothing.
	dry := s.NewBatch()
	for _, l := range leads {
		if err := dry.Edit(l.ID, Patch{Accept: true, By: "dry"}); err != nil {
			t.Fatal(err)
		}
	}
	if changes := dry.Changes(); len(changes) != 5 || changes[0].Fields[0].Field != "status" {
		t.Fatalf("dry-run changes: %+v", changes)
	}
	dry.Discard()
	if _, err := dry.Commit(ctx); !errors.Is(err, ErrInvalid) {
		t.Errorf("commit after discard: err = %v", err)
	}
	for _, l := range leads {
		if got, _ := s.Get(ctx, l.ID); got.Status != StatusProcessing || got.Rev != 1 {
			t.Fatalf("discarded batch changed lead %d: %+v", l.ID, got)
		}
	}
	if len(events) != 0 {
		t.Fatalf("discarded batch fired %d events", len(events))
	}

	b := s.NewBatch()
	if err := b.Edit(leads[0].ID, Patch{Accept: true}); err != nil {
		t.Fatal(err)
	}
	// The batch sees its own edits: back from 6 to 3 is refused at once.
	if err := b.Edit(leads[0].ID, Patch{Status: ptr(StatusCallback)}); !errors.Is(err, ErrRefused) {
		t.Errorf("edit against the batch's own state: err = %v, want ErrRefused", err)
	}
	if err := b.Edit(leads[1].ID, Patch{Status: ptr(StatusCancel), Reason: ptr(ReasonExpensive)}); err != nil {
		t.Fatal(err)
	}
	if err := b.Edit(leads[1].ID, Patch{Comment: ptr("too expensive")}); err != nil {
		t.Fatal(err)
	}
	if err := b.Edit(leads[2].ID, Patch{Status: ptr(StatusProcessing)}); err != nil { // no-op
		t.Fatal(err)
	}
	if err := b.Edit(999999, Patch{Accept: true}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown lead in batch: err = %v", err)
	}
	if b.Len() != 3 {
		t.Errorf("batch recorded %d edits, want 3", b.Len())
	}
	// Before commit, nothing is visible.
	if got, _ := s.Get(ctx, leads[0].ID); got.Status != StatusProcessing {
		t.Fatalf("uncommitted batch visible: %+v", got)
	}
	res, err := b.Commit(ctx)
	if err != nil || res.Leads != 2 || res.Edits != 3 || len(res.Refused) != 0 {
		t.Fatalf("commit: %+v, %v", res, err)
	}
	if got, _ := s.Get(ctx, leads[0].ID); got.Status != StatusPacking || got.AcceptedAt.IsZero() {
		t.Errorf("lead 0 after commit: %+v", got)
	}
	got, _ := s.Get(ctx, leads[1].ID)
	if got.Status != StatusCancel || got.Reason != ReasonExpensive || got.Comment != "too expensive" || got.Rev != 3 {
		t.Errorf("lead 1 after commit: %+v", got)
	}
	if len(events) != 2 || !events[0].Approved || events[1].To != StatusCancel {
		t.Errorf("events: %+v", events)
	}
	mustVerify(t, s)
}

func TestBatchReappliesAtCommit(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{})
	ctx := context.Background()
	l := mustAdd(t, s, NewLead{Offer: "acme", Status: StatusProcessing})
	b := s.NewBatch()
	if err := b.Edit(l.ID, Patch{Status: ptr(StatusCallback), Comment: ptr("recall")}); err != nil {
		t.Fatal(err)
	}
	// A postback approves the lead while the handler still runs.
	if _, err := s.Edit(ctx, l.ID, Patch{Accept: true, By: "postback"}); err != nil {
		t.Fatal(err)
	}
	res, err := b.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Refused) != 1 || !errors.Is(res.Refused[0], ErrRefused) {
		t.Fatalf("commit result %+v: the stale callback edit must be refused", res)
	}
	got, _ := s.Get(ctx, l.ID)
	if got.Status != StatusPacking {
		t.Errorf("the approval was overwritten: %+v", got)
	}
	mustVerify(t, s)
}

// A batch larger than one Badger transaction is split and all of it lands.
func TestBatchSplitsPastTransactionLimit(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{})
	ctx := context.Background()
	const n = 3000
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = mustAdd(t, s, NewLead{Offer: "acme", Status: StatusProcessing}).ID
	}
	comment := strings.Repeat("x", 2000) // 3000 × ~4 KB written > one transaction
	b := s.NewBatch()
	for _, id := range ids {
		if err := b.Edit(id, Patch{Comment: &comment, Status: ptr(StatusCallback)}); err != nil {
			t.Fatal(err)
		}
	}
	if max := s.commit.maxBytes; int64(n*2*len(comment)) < max {
		t.Fatalf("batch of %d bytes does not exceed a transaction (%d): the test proves nothing", n*2*len(comment), max)
	}
	res, err := b.Commit(ctx)
	if err != nil || res.Edits != n {
		t.Fatalf("commit: %+v, %v", res, err)
	}
	page, _ := s.List(ctx, Query{Offer: "acme", Statuses: Statuses(StatusCallback), Limit: 1000})
	if len(page.Leads) != 1000 || page.Next == "" {
		t.Errorf("after split commit: page of %d, next %q", len(page.Leads), page.Next)
	}
	mustVerify(t, s)
}

// A batch seeded with leads read after it began keeps a concurrent
// writer's edit, whether the writer came before the read or after it.
func TestBatchSeed(t *testing.T) {
	s, _ := newTestStore(t, Options{})
	ctx := context.Background()
	var ids []uint64
	for _, ext := range []string{"a", "b"} {
		l, _, err := s.Add(ctx, NewLead{Offer: "o", Ext: ext, Status: StatusProcessing})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, l.ID)
	}
	b := s.NewBatch()
	// Between NewBatch and the read: the read sees it.
	if _, err := s.Edit(ctx, ids[0], Patch{Comment: ptr("before the read")}); err != nil {
		t.Fatal(err)
	}
	page, err := s.List(ctx, Query{Offer: "o"})
	if err != nil || len(page.Leads) != 2 {
		t.Fatalf("list: %v %d", err, len(page.Leads))
	}
	b.Seed(page.Leads)
	// After the read: the batch never saw it.
	if _, err := s.Edit(ctx, ids[1], Patch{Comment: ptr("after the read")}); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := b.Edit(id, Patch{Status: ptr(StatusCallback)}); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := b.Get(ids[0]); got.Comment != "before the read" {
		t.Errorf("the seeded lead is not the one read: %+v", got)
	}
	if _, err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"before the read", "after the read"} {
		l, _ := s.Get(ctx, ids[i])
		if l.Status != StatusCallback || l.Comment != want {
			t.Errorf("lead %d: status %d comment %q, want 3 and %q", ids[i], l.Status, l.Comment, want)
		}
	}
}

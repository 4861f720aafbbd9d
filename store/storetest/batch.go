package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"leadhost/store"
)

// testBatch: the edits of one check run land together or not at all; each
// edit answers at once against what the batch sees; at commit, an edit
// another writer made meanwhile is kept, and what it makes impossible is
// refused and reported, never written over.
func testBatch(t *testing.T, b Backend) {
	f := open(t, b, store.Options{})
	evs := watch(f)
	ctx := f.ctx
	processing := func(offer string, n int) []*store.Lead {
		out := make([]*store.Lead, n)
		for i := range out {
			out[i] = f.add(store.NewLead{Offer: offer, Status: store.StatusProcessing})
		}
		return out
	}

	t.Run("discard writes nothing", func(t *testing.T) {
		leads := processing("discard", 3)
		dry := f.s.NewBatch()
		for _, l := range leads {
			if err := dry.Edit(l.ID, store.Patch{Accept: true, By: "dry"}); err != nil {
				t.Fatal(err)
			}
		}
		if changes := dry.Changes(); len(changes) != 3 || changes[0].By != "dry" || len(changes[0].Fields) == 0 {
			t.Fatalf("a dry run's changes: %+v", changes)
		}
		dry.Discard()
		if _, err := dry.Commit(ctx); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("commit after discard: err = %v, want ErrInvalid", err)
		}
		evs.settle(f)
		for _, l := range leads {
			if got := f.get(l.ID); !sameLead(got, l) {
				t.Errorf("a discarded batch changed lead %d: %s", l.ID, leadText(got))
			}
			if n := len(evs.of(l.ID)); n != 1 {
				t.Errorf("a discarded batch fired %d events for lead %d", n-1, l.ID)
			}
		}
	})

	t.Run("commit", func(t *testing.T) {
		leads := processing("commit", 3)
		b := f.s.NewBatch()
		if err := b.Edit(leads[0].ID, store.Patch{Accept: true}); err != nil {
			t.Fatal(err)
		}
		// The batch sees its own edits: back from 6 to 3 is refused at once.
		if err := b.Edit(leads[0].ID, store.Patch{Status: ptr(store.StatusCallback)}); !errors.Is(err, store.ErrRefused) {
			t.Errorf("an edit against the batch's own state: err = %v, want ErrRefused", err)
		}
		if got, err := b.Get(leads[0].ID); err != nil || got.Status != store.StatusPacking {
			t.Errorf("the batch's view of its lead: %v, %v; want status 6", got, err)
		}
		if err := b.Edit(leads[1].ID, store.Patch{Status: ptr(store.StatusCancel), Reason: ptr(store.ReasonExpensive)}); err != nil {
			t.Fatal(err)
		}
		if err := b.Edit(leads[1].ID, store.Patch{Comment: ptr("too expensive")}); err != nil {
			t.Fatal(err)
		}
		if err := b.Edit(leads[2].ID, store.Patch{Status: ptr(store.StatusProcessing)}); err != nil { // changes nothing
			t.Fatal(err)
		}
		if err := b.Edit(1<<60, store.Patch{Accept: true}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an unknown lead in a batch: err = %v, want ErrNotFound", err)
		}
		if b.Len() != 3 || len(b.Changes()) != 3 {
			t.Errorf("the batch recorded %d edits (%d changes), want 3", b.Len(), len(b.Changes()))
		}
		if got := f.get(leads[0].ID); got.Status != store.StatusProcessing {
			t.Fatalf("an uncommitted batch is visible: %s", leadText(got))
		}
		res, err := b.Commit(ctx)
		if err != nil || res.Leads != 2 || res.Edits != 3 || len(res.Refused) != 0 {
			t.Fatalf("commit: %+v, %v; want 2 leads, 3 edits", res, err)
		}
		if _, err := b.Commit(ctx); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("a second commit: err = %v, want ErrInvalid", err)
		}
		if got := f.get(leads[0].ID); got.Status != store.StatusPacking || got.AcceptedAt.IsZero() || got.Rev != 2 {
			t.Errorf("lead 0 after commit: %s", leadText(got))
		}
		got := f.get(leads[1].ID)
		if got.Status != store.StatusCancel || got.Reason != store.ReasonExpensive || got.Comment != "too expensive" || got.Rev != 3 {
			t.Errorf("lead 1 after commit: %s", leadText(got))
		}
		if h := f.history(leads[1].ID); len(h) != 3 || h[1].Fields[0].Field != "status" || h[2].Fields[0].Field != "comment" {
			t.Errorf("lead 1's history: %+v; want the creation, the cancel, the comment", h)
		}
		if got := f.get(leads[2].ID); got.Rev != 1 {
			t.Errorf("an edit that changes nothing was written: %s", leadText(got))
		}
		if ev := evs.wait(t, leads[0].ID, 2)[1]; !ev.Approved || ev.To != store.StatusPacking {
			t.Errorf("approval event %+v", ev)
		}
		if ev := evs.wait(t, leads[1].ID, 2)[1]; ev.To != store.StatusCancel || ev.Reason != store.ReasonExpensive {
			t.Errorf("cancel event %+v", ev)
		}
	})

	t.Run("a batch past its deadline writes nothing", func(t *testing.T) {
		leads := processing("deadline", 2)
		b := f.s.NewBatch()
		for _, l := range leads {
			if err := b.Edit(l.ID, store.Patch{Accept: true}); err != nil {
				t.Fatal(err)
			}
		}
		gone, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := b.Commit(gone); err == nil {
			t.Error("a commit with its context done succeeded")
		}
		for _, l := range leads {
			if got := f.get(l.ID); !sameLead(got, l) {
				t.Errorf("a batch given up changed lead %d: %s", l.ID, leadText(got))
			}
		}
	})

	t.Run("a big batch lands whole", func(t *testing.T) {
		leads := processing("big", 1500)
		comment := strings.Repeat("x", 2000) // megabytes of edits: more than one write of some backends
		b := f.s.NewBatch()
		for _, l := range leads {
			if err := b.Edit(l.ID, store.Patch{Comment: &comment, Status: ptr(store.StatusCallback)}); err != nil {
				t.Fatal(err)
			}
		}
		res, err := b.Commit(ctx)
		if err != nil || res.Edits != len(leads) || res.Leads != len(leads) {
			t.Fatalf("commit: %+v, %v", res, err)
		}
		if n := len(listAll(t, f, store.Query{Offer: "big", Statuses: store.Statuses(store.StatusCallback), Limit: 1000})); n != len(leads) {
			t.Errorf("%d leads in callback after the commit, want %d", n, len(leads))
		}
	})

	t.Run("refused at commit when another writer changed the lead", func(t *testing.T) {
		leads := processing("stale", 2)
		b := f.s.NewBatch()
		if err := b.Edit(leads[0].ID, store.Patch{Status: ptr(store.StatusCallback), Comment: ptr("recall")}); err != nil {
			t.Fatal(err)
		}
		if err := b.Edit(leads[1].ID, store.Patch{Comment: ptr("unrelated")}); err != nil {
			t.Fatal(err)
		}
		// A postback approves the lead while the handler still runs.
		f.edit(leads[0].ID, store.Patch{Accept: true, By: "postback"})
		res, err := b.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Refused) != 1 || !errors.Is(res.Refused[0], store.ErrRefused) {
			t.Fatalf("commit %+v: the stale callback edit must be refused", res)
		}
		var re *store.RefusedEdit
		if !errors.As(res.Refused[0], &re) || re.LeadID != leads[0].ID {
			t.Errorf("the refusal %v does not name lead %d", res.Refused[0], leads[0].ID)
		}
		if got := f.get(leads[0].ID); got.Status != store.StatusPacking {
			t.Errorf("the approval was overwritten: %s", leadText(got))
		}
		if got := f.get(leads[1].ID); got.Comment != "unrelated" {
			t.Errorf("the batch's other edit did not land: %s", leadText(got))
		}
	})

	t.Run("a concurrent edit is kept", func(t *testing.T) {
		a := processing("kept", 1)[0]
		b := f.s.NewBatch()
		if err := b.Edit(a.ID, store.Patch{Comment: ptr("from batch")}); err != nil {
			t.Fatal(err)
		}
		f.edit(a.ID, store.Patch{Status: ptr(store.StatusCancel), Reason: ptr(store.ReasonExpensive)})
		c := f.add(store.NewLead{Offer: "kept"}) // added after the batch began
		if err := b.Edit(c.ID, store.Patch{Comment: ptr("x")}); err != nil {
			t.Fatalf("editing a lead added after the batch began: %v", err)
		}
		if _, err := b.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		got := f.get(a.ID)
		if got.Status != store.StatusCancel || got.Comment != "from batch" || got.Rev != 3 {
			t.Errorf("lead after a batch and a concurrent cancel: %s; want both, rev 3", leadText(got))
		}
		if got := f.get(c.ID); got.Comment != "x" {
			t.Errorf("the lead added later: %s", leadText(got))
		}
	})

	t.Run("seed", func(t *testing.T) {
		leads := processing("seed", 2)
		b := f.s.NewBatch()
		// Between NewBatch and the read: the read sees it.
		f.edit(leads[0].ID, store.Patch{Comment: ptr("before the read")})
		page, err := f.s.List(ctx, store.Query{Offer: "seed"})
		if err != nil || len(page.Leads) != 2 {
			t.Fatalf("list: %d leads, %v", len(page.Leads), err)
		}
		b.Seed(page.Leads)
		// After the read: the batch never saw it, and must keep it.
		f.edit(leads[1].ID, store.Patch{Comment: ptr("after the read")})
		for _, l := range leads {
			if err := b.Edit(l.ID, store.Patch{Status: ptr(store.StatusCallback)}); err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := b.Get(leads[0].ID); got == nil || got.Comment != "before the read" {
			t.Errorf("the seeded lead is not the one read: %v", got)
		}
		if _, err := b.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		for i, want := range []string{"before the read", "after the read"} {
			if l := f.get(leads[i].ID); l.Status != store.StatusCallback || l.Comment != want {
				t.Errorf("lead %d: status %d comment %q, want 3 and %q", l.ID, l.Status, l.Comment, want)
			}
		}
	})

	t.Run("goal defined after the batch began", func(t *testing.T) {
		l := processing("goal", 1)[0]
		b := f.s.NewBatch()
		defer b.Discard()
		gid, err := f.s.DefineGoal(ctx, "goal", "sale")
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Edit(l.ID, store.Patch{Goal: &gid}); err != nil {
			t.Errorf("a goal defined after the batch began: %v", err)
		}
		if err := b.Edit(l.ID, store.Patch{Goal: ptr(gid + 100)}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("an unknown goal: err = %v, want ErrInvalid", err)
		}
	})

	t.Run("ext handover", func(t *testing.T) {
		// One lead takes the ext another gives up in the same batch,
		// whatever order they were first edited in.
		a := f.add(store.NewLead{Offer: "handover", Ext: "e1"})
		c := f.add(store.NewLead{Offer: "handover", Ext: "e2"})
		b := f.s.NewBatch()
		for _, e := range []struct {
			id uint64
			p  store.Patch
		}{{c.ID, store.Patch{Comment: ptr("first")}}, {a.ID, store.Patch{Ext: ptr("e9")}}, {c.ID, store.Patch{Ext: ptr("e1")}}} {
			if err := b.Edit(e.id, e.p); err != nil {
				t.Fatal(err)
			}
		}
		res, err := b.Commit(ctx)
		if err != nil || len(res.Refused) != 0 || res.Edits != 3 {
			t.Fatalf("commit: %+v, %v", res, err)
		}
		wantExts(t, f, "handover", map[string]uint64{"e1": c.ID, "e9": a.ID, "e2": 0})
	})

	t.Run("ext swap", func(t *testing.T) {
		// Two leads swap their exts through a third, as a partner that
		// renumbered its orders answers. Batch.Edit accepted each edit
		// and no other writer came in between: the commit must land
		// them all, never an ext on two leads nor a swap half done.
		a := f.add(store.NewLead{Offer: "swap", Ext: "s1"})
		c := f.add(store.NewLead{Offer: "swap", Ext: "s2"})
		b := f.s.NewBatch()
		for _, e := range []struct {
			id  uint64
			ext string
		}{{a.ID, "tmp"}, {c.ID, "s1"}, {a.ID, "s2"}} {
			if err := b.Edit(e.id, store.Patch{Ext: ptr(e.ext)}); err != nil {
				t.Fatalf("lead %d to ext %s: %v", e.id, e.ext, err)
			}
		}
		res, err := b.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ga, gc := f.get(a.ID), f.get(c.ID)
		if res.Edits != 3 || len(res.Refused) != 0 || ga.Ext != "s2" || gc.Ext != "s1" {
			t.Errorf("commit %+v: the leads hold %q and %q; want all 3 edits, s2 and s1", res, ga.Ext, gc.Ext)
		}
		if ga.Ext == gc.Ext {
			t.Errorf("both leads hold ext %q", ga.Ext)
		}
		wantExts(t, f, "swap", map[string]uint64{ga.Ext: a.ID, gc.Ext: c.ID})
	})

	t.Run("ext taken meanwhile", func(t *testing.T) {
		a := f.add(store.NewLead{Offer: "taken"})
		c := f.add(store.NewLead{Offer: "taken"})
		b := f.s.NewBatch()
		if err := b.Edit(a.ID, store.Patch{Ext: ptr("E-9"), Comment: ptr("partner id")}); err != nil {
			t.Fatal(err)
		}
		f.edit(c.ID, store.Patch{Ext: ptr("E-9")}) // a postback gets there first
		res, err := b.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Refused) != 1 || !errors.Is(res.Refused[0], store.ErrExists) {
			t.Fatalf("commit %+v: the ext taken meanwhile must be refused (ErrExists)", res)
		}
		if got := f.get(a.ID); got.Ext != "" {
			t.Errorf("lead a took an ext another lead holds: %s", leadText(got))
		}
		wantExts(t, f, "taken", map[string]uint64{"E-9": c.ID})
	})
}

// wantExts checks whom ByExt finds for each ext (0: nobody).
func wantExts(t *testing.T, f *fixture, offer string, want map[string]uint64) {
	t.Helper()
	for ext, id := range want {
		l, err := f.s.ByExt(f.ctx, offer, ext)
		switch {
		case id == 0 && !errors.Is(err, store.ErrNotFound):
			t.Errorf("ByExt(%s, %s) = %v, %v; want ErrNotFound", offer, ext, l, err)
		case id != 0 && (err != nil || l.ID != id || l.Ext != ext):
			t.Errorf("ByExt(%s, %s) = %v, %v; want lead %d", offer, ext, l, err, id)
		}
	}
}

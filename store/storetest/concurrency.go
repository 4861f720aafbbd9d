package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"leadhost/store"
)

// testConcurrency: editors of one lead (hooks, postbacks, check runs on
// any node) never lose an update: every acknowledged edit is in the
// history, each computed from the one before, and an approval is never
// undone by an edit that raced it.
func testConcurrency(t *testing.T, b Backend) {
	f := open(t, b, store.Options{})
	ctx := f.ctx

	t.Run("editors of one lead", func(t *testing.T) {
		const workers, edits = 8, 25
		shared := f.add(store.NewLead{Offer: "shared"})
		own := make([]*store.Lead, workers)
		for i := range own {
			own[i] = f.add(store.NewLead{Offer: "shared"})
		}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range edits {
					text := fmt.Sprintf("w%d-e%d", w, j)
					for _, id := range []uint64{shared.ID, own[w].ID} {
						if _, err := f.s.Edit(ctx, id, store.Patch{Comment: &text, By: fmt.Sprint("worker", w)}); err != nil {
							t.Error(err)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		wantChain(t, f, shared.ID, workers*edits)
		for w, l := range own {
			if got := f.get(l.ID); got.Rev != 1+edits || got.Comment != fmt.Sprintf("w%d-e%d", w, edits-1) {
				t.Errorf("worker %d's own lead: rev %d comment %q", w, got.Rev, got.Comment)
			}
		}
	})

	t.Run("batches on one lead", func(t *testing.T) {
		const workers, batches = 6, 8
		shared := f.add(store.NewLead{Offer: "batches"})
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range batches {
					b := f.s.NewBatch()
					own := f.add(store.NewLead{Offer: "batches"})
					text := fmt.Sprintf("w%d-b%d", w, j)
					for _, id := range []uint64{shared.ID, own.ID} {
						if err := b.Edit(id, store.Patch{Comment: &text}); err != nil {
							t.Error(err)
							return
						}
					}
					res, err := b.Commit(ctx)
					if err != nil || res.Edits != 2 || len(res.Refused) != 0 {
						t.Errorf("commit: %+v, %v; want both edits", res, err)
					}
				}
			}()
		}
		wg.Wait()
		wantChain(t, f, shared.ID, workers*batches)
	})

	t.Run("an approval is never undone by a race", func(t *testing.T) {
		const n = 40
		leads := make([]*store.Lead, n)
		for i := range leads {
			leads[i] = f.add(store.NewLead{Offer: "race", Status: store.StatusProcessing})
		}
		// The check run read its leads before the postbacks came: its
		// edits are accepted at once and meet the approvals at commit.
		b := f.s.NewBatch()
		for _, l := range leads {
			if _, err := b.Get(l.ID); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		var callbacks store.CommitResult
		wg.Add(2)
		go func() { // the partner's status answer: callback, as a batch
			defer wg.Done()
			for _, l := range leads {
				if err := b.Edit(l.ID, store.Patch{Status: ptr(store.StatusCallback)}); err != nil {
					t.Error(err)
				}
			}
			var err error
			if callbacks, err = b.Commit(ctx); err != nil {
				t.Error(err)
			}
		}()
		go func() { // postbacks: approved, one by one
			defer wg.Done()
			for _, l := range leads {
				if _, err := f.s.Edit(ctx, l.ID, store.Patch{Accept: true, By: "postback"}); err != nil {
					t.Error(err)
				}
			}
		}()
		wg.Wait()
		if callbacks.Edits+len(callbacks.Refused) != n {
			t.Errorf("callback batch: %d applied and %d refused, of %d", callbacks.Edits, len(callbacks.Refused), n)
		}
		for _, r := range callbacks.Refused {
			if !errors.Is(r, store.ErrRefused) {
				t.Errorf("callback refused with %v, want ErrRefused", r)
			}
		}
		for _, l := range leads {
			if got := f.get(l.ID); got.Status != store.StatusPacking || got.AcceptedAt.IsZero() {
				t.Errorf("lead %d after an approval and a racing callback: %s; want approved", l.ID, leadText(got))
			}
		}
	})

	t.Run("mixed writers", func(t *testing.T) {
		const workers, leads = 4, 25
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := f.s.NewBatch()
				for j := range leads {
					l, _, err := f.s.Add(ctx, store.NewLead{Offer: "mixed", Ext: fmt.Sprintf("w%d-%d", w, j)})
					if err != nil {
						t.Error(err)
						return
					}
					if _, err := f.s.Edit(ctx, l.ID, store.Patch{Status: ptr(store.StatusProcessing)}); err != nil {
						t.Error(err)
					}
					if err := b.Edit(l.ID, store.Patch{Status: ptr(store.StatusCallback)}); err != nil {
						t.Error(err)
					}
				}
				if _, err := b.Commit(ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if n := len(listAll(t, f, store.Query{Offer: "mixed", Statuses: store.Statuses(store.StatusCallback), Limit: 1000})); n != workers*leads {
			t.Errorf("%d leads in callback, want %d", n, workers*leads)
		}
	})
}

// wantChain checks that a lead's history holds its creation and edits
// distinct comment edits, each one's old value the previous one's new.
func wantChain(t *testing.T, f *fixture, id uint64, edits int) {
	t.Helper()
	hist := f.history(id)
	if len(hist) != 1+edits {
		t.Fatalf("lead %d has %d history entries, want %d: updates were lost", id, len(hist), 1+edits)
	}
	seen := map[string]bool{}
	for i, h := range hist[1:] {
		if h.Rev != uint32(i+2) || len(h.Fields) != 1 || h.Fields[0].Field != "comment" {
			t.Fatalf("history entry %d: %+v", i+1, h)
		}
		if i > 0 && h.Fields[0].Old != hist[i].Fields[0].New {
			t.Fatalf("entry %d old %q, the previous new %q: computed from a stale lead", i+1, h.Fields[0].Old, hist[i].Fields[0].New)
		}
		seen[h.Fields[0].New] = true
	}
	if len(seen) != edits {
		t.Errorf("history holds %d distinct comments, want %d", len(seen), edits)
	}
	if got := f.get(id); got.Rev != uint32(1+edits) || got.Comment != hist[len(hist)-1].Fields[0].New {
		t.Errorf("lead %d: rev %d comment %q, the history ends at %q", id, got.Rev, got.Comment, hist[len(hist)-1].Fields[0].New)
	}
}

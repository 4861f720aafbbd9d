package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

func TestAddSameKeyConcurrently(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{})
	ctx := context.Background()
	const n = 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     = map[uint64]int{}
		created int
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, isNew, err := s.Add(ctx, NewLead{Offer: "getcourse", Key: "order-5501",
				Fields: map[string]string{"phone": "79990001122", "try": fmt.Sprint(i)}})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ids[l.ID]++
			if isNew {
				created++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(ids) != 1 || created != 1 {
		t.Fatalf("16 adds with one key made leads %v, %d reported as new; want one", ids, created)
	}
	page, err := s.List(ctx, Query{Offer: "getcourse"})
	if err != nil || len(page.Leads) != 1 {
		t.Fatalf("offer holds %d leads (%v), want 1", len(page.Leads), err)
	}
	// The same key in another offer is another lead.
	if _, isNew, err := s.Add(ctx, NewLead{Offer: "other", Key: "order-5501"}); err != nil || !isNew {
		t.Errorf("same key, other offer: new=%v err=%v", isNew, err)
	}
	mustVerify(t, s)
}

func TestConcurrentEditsLoseNothing(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{})
	ctx := context.Background()
	const workers, edits = 32, 40
	shared := mustAdd(t, s, NewLead{Offer: "acme"})
	own := make([]*Lead, workers)
	for i := range own {
		own[i] = mustAdd(t, s, NewLead{Offer: "acme"})
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < edits; j++ {
				text := fmt.Sprintf("w%d-e%d", w, j)
				for _, id := range []uint64{shared.ID, own[w].ID} {
					if _, err := s.Edit(ctx, id, Patch{Comment: &text, By: fmt.Sprint("worker", w)}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()

	hist, err := s.History(ctx, shared.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1+workers*edits {
		t.Fatalf("shared lead has %d history entries, want %d", len(hist), 1+workers*edits)
	}
	seen := map[string]bool{}
	for i, h := range hist {
		if h.Rev != uint32(i+1) {
			t.Fatalf("history entry %d has rev %d", i, h.Rev)
		}
		if i > 0 {
			// Each entry's old value is the previous entry's new one: no
			// edit was computed from a stale lead.
			if prev := hist[i-1]; i > 1 && h.Fields[0].Old != prev.Fields[0].New {
				t.Fatalf("entry %d old %q, previous new %q", i, h.Fields[0].Old, prev.Fields[0].New)
			}
			seen[h.Fields[0].New] = true
		}
	}
	if len(seen) != workers*edits {
		t.Errorf("history holds %d distinct comments, want %d", len(seen), workers*edits)
	}
	for w, l := range own {
		got, _ := s.Get(ctx, l.ID)
		if got.Rev != 1+edits || got.Comment != fmt.Sprintf("w%d-e%d", w, edits-1) {
			t.Errorf("worker %d's lead: rev %d comment %q", w, got.Rev, got.Comment)
		}
	}
	mustVerify(t, s)
}

func TestConcurrentMixedWriters(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{})
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := s.NewBatch()
			for j := 0; j < 50; j++ {
				l := mustAdd(t, s, NewLead{Offer: "acme", Ext: fmt.Sprintf("w%d-%d", w, j)})
				if _, err := s.Edit(ctx, l.ID, Patch{Status: ptr(StatusProcessing)}); err != nil {
					t.Error(err)
				}
				if err := b.Edit(l.ID, Patch{Status: ptr(StatusCallback)}); err != nil {
					t.Error(err)
				}
			}
			if _, err := b.Commit(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	ids, err := s.List(ctx, Query{Offer: "acme", Statuses: Statuses(StatusCallback), Limit: 1000})
	if err != nil || len(ids.Leads) != 400 {
		t.Fatalf("%d leads in callback (%v), want 400", len(ids.Leads), err)
	}
	mustVerify(t, s)
}

package storetest

import (
	"errors"
	"sync"
	"testing"

	"leadhost/store"
)

// testExt: the partner's id is unique per offer, ByExt finds the lead that
// holds it now, and an ext given up is free for another lead.
func testExt(t *testing.T, b Backend) {
	f := open(t, b, store.Options{})
	ctx := f.ctx
	a := f.add(store.NewLead{Offer: "acme", Ext: "A"})
	c := f.add(store.NewLead{Offer: "acme"})
	other := f.add(store.NewLead{Offer: "zeta"})

	if _, err := f.s.Edit(ctx, c.ID, store.Patch{Ext: ptr("A")}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("taking another lead's ext: err = %v, want ErrExists", err)
	}
	if got := f.get(c.ID); got.Ext != "" || got.Rev != c.Rev {
		t.Errorf("a refused ext change was stored: %s", leadText(got))
	}
	if _, err := f.s.Edit(ctx, other.ID, store.Patch{Ext: ptr("A")}); err != nil {
		t.Fatalf("the same ext in another offer: %v", err)
	}
	if _, _, err := f.s.Add(ctx, store.NewLead{Offer: "acme", Ext: "A"}); !errors.Is(err, store.ErrExists) {
		t.Errorf("adding a lead with a taken ext: err = %v, want ErrExists", err)
	}
	f.edit(a.ID, store.Patch{Ext: ptr("A2")})
	if _, err := f.s.Edit(ctx, c.ID, store.Patch{Ext: ptr("A")}); err != nil {
		t.Fatalf("an ext its lead gave up: %v", err)
	}
	wantExts(t, f, "acme", map[string]uint64{"A": c.ID, "A2": a.ID, "B": 0})
	wantExts(t, f, "zeta", map[string]uint64{"A": other.ID, "A2": 0})
	wantExts(t, f, "acme-2", map[string]uint64{"A": 0})

	// Two webhooks (or two nodes) give one partner id at once: one lead
	// gets it, the others hear ErrExists.
	t.Run("raced", func(t *testing.T) {
		const n = 8
		targets := make([]*store.Lead, n)
		for i := range targets {
			targets[i] = f.add(store.NewLead{Offer: "raced"})
		}
		var (
			wg            sync.WaitGroup
			mu            sync.Mutex
			added, edited int
		)
		for i := range n {
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, _, err := f.s.Add(ctx, store.NewLead{Offer: "raced", Ext: "ADD"})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					added++
				case !errors.Is(err, store.ErrExists):
					t.Errorf("add: %v, want ErrExists or success", err)
				}
			}()
			go func() {
				defer wg.Done()
				_, err := f.s.Edit(ctx, targets[i].ID, store.Patch{Ext: ptr("EDIT")})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					edited++
				case !errors.Is(err, store.ErrExists):
					t.Errorf("edit: %v, want ErrExists or success", err)
				}
			}()
		}
		wg.Wait()
		if added != 1 || edited != 1 {
			t.Errorf("%d adds and %d edits took one ext at once, want 1 each", added, edited)
		}
		holders := map[string]int{}
		for _, l := range listAll(t, f, store.Query{Offer: "raced", Limit: 100}) {
			holders[l.Ext]++
		}
		if holders["ADD"] != 1 || holders["EDIT"] != 1 {
			t.Errorf("leads holding each ext: %v, want one each", holders)
		}
	})
}

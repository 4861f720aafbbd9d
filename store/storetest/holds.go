package storetest

import (
	"testing"
	"time"

	"leadhost/store"
)

// testHolds: a held lead is approved once its hold ends, by the hold rule,
// and never before; a lead that left the hold is left alone.
func testHolds(t *testing.T, b Backend) {
	f := open(t, b, store.Options{})
	evs := watch(f)
	short := f.add(store.NewLead{Offer: "acme", Status: store.StatusProcessing})
	long := f.add(store.NewLead{Offer: "acme", Status: store.StatusProcessing})
	left := f.add(store.NewLead{Offer: "acme", Status: store.StatusProcessing})
	more := make([]*store.Lead, 3)
	for i := range more {
		more[i] = f.add(store.NewLead{Offer: "acme", Status: store.StatusProcessing})
	}
	for _, h := range []struct {
		l    *store.Lead
		days int
	}{{short, 1}, {long, 10}, {left, 1}, {more[0], 2}, {more[1], 2}, {more[2], 2}} {
		f.edit(h.l.ID, store.Patch{Hold: &store.Hold{Days: h.days}})
	}
	f.edit(left.ID, store.Patch{Status: ptr(store.StatusCancel)})
	extended := f.add(store.NewLead{Offer: "acme", Status: store.StatusProcessing})
	f.edit(extended.ID, store.Patch{Hold: &store.Hold{Days: 1}})
	f.edit(extended.ID, store.Patch{Hold: &store.Hold{Days: 10}}) // the partner wants longer

	if n, err := f.s.ReleaseHolds(f.ctx, f.clk.Now(), 0); err != nil || n != 0 {
		t.Fatalf("nothing is due yet: released %d, %v", n, err)
	}
	f.clk.Advance(36 * time.Hour)
	if n, err := f.s.ReleaseHolds(f.ctx, f.clk.Now(), 0); err != nil || n != 1 {
		t.Fatalf("released %d, %v; want the 1-day hold only", n, err)
	}
	got := f.get(short.ID)
	hist := f.history(short.ID)
	if got.Status != store.StatusPacking || !got.AcceptedAt.Equal(f.clk.Now()) || !got.HoldUntil.IsZero() || hist[len(hist)-1].By != store.HoldRule {
		t.Errorf("released lead: %s by %q", leadText(got), hist[len(hist)-1].By)
	}
	if ev := evs.wait(t, short.ID, 3)[2]; !ev.Approved || ev.To != store.StatusPacking || ev.By != store.HoldRule {
		t.Errorf("release event %+v, want an approval by %s", ev, store.HoldRule)
	}
	if got := f.get(left.ID); got.Status != store.StatusCancel {
		t.Errorf("a lead that left the hold was touched: %s", leadText(got))
	}
	for _, l := range []*store.Lead{long, extended} {
		if got := f.get(l.ID); got.Status != store.StatusHold {
			t.Errorf("a 10-day hold released after 1.5 days: %s", leadText(got))
		}
	}

	// At most limit a call; the rest on the next.
	f.clk.Advance(24 * time.Hour)
	if n, err := f.s.ReleaseHolds(f.ctx, f.clk.Now(), 2); err != nil || n != 2 {
		t.Fatalf("released %d, %v; want 2 (the limit)", n, err)
	}
	if n, err := f.s.ReleaseHolds(f.ctx, f.clk.Now(), 2); err != nil || n != 1 {
		t.Fatalf("released %d, %v; want the third", n, err)
	}
	for _, l := range more {
		if got := f.get(l.ID); got.Status != store.StatusPacking {
			t.Errorf("lead %d due for release: status %d", l.ID, got.Status)
		}
	}
	if n, err := f.s.ReleaseHolds(f.ctx, f.clk.Now(), 0); err != nil || n != 0 {
		t.Errorf("released %d more, %v; want none left", n, err)
	}
}

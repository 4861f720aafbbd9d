package storetest

import (
	"testing"

	"leadhost/store"
)

// testOpen: a new store is empty, takes writes, checks edits against the
// reasons it was given, and a restart keeps what it holds.
func testOpen(t *testing.T, b Backend) {
	reasons, err := store.StandardReasons().With(store.ReasonInfo{ID: reasonNoStock, Code: "no_stock", Label: "Нет в наличии"})
	if err != nil {
		t.Fatal(err)
	}
	f := open(t, b, store.Options{Reasons: reasons})
	if why := f.s.ReadOnly(); why != "" {
		t.Errorf("a new store is read-only: %s", why)
	}
	if _, ok := f.s.Reasons().Lookup(reasonNoStock); !ok {
		t.Errorf("the store's reasons lack the network's own reason %d", reasonNoStock)
	}
	if counts, err := f.s.CountLeads(f.ctx); err != nil || len(counts) != 0 {
		t.Errorf("a new store holds leads: %v, %v", counts, err)
	}
	l := f.add(store.NewLead{Offer: "acme", Ext: "R-1", Key: "order-1", Fields: map[string]string{"phone": "79990001122"}})
	l = f.edit(l.ID, store.Patch{Status: ptr(store.StatusCancel), Reason: ptr(reasonNoStock), Comment: ptr("no stock")})
	hist := f.history(l.ID)
	goals := map[string]uint32{}
	for _, code := range []string{"sale", "deposit"} {
		id, err := f.s.DefineGoal(f.ctx, "acme", code)
		if err != nil {
			t.Fatal(err)
		}
		goals[code] = id
	}

	f.reopen()
	for code, id := range goals {
		if got, err := f.s.GoalByCode(f.ctx, "acme", code); err != nil || got != id {
			t.Errorf("goal %s after a restart: %d, %v; want %d", code, got, err, id)
		}
	}
	if id, err := f.s.DefineGoal(f.ctx, "acme", "refund"); err != nil || id == goals["sale"] || id == goals["deposit"] {
		t.Errorf("a goal defined after a restart: id %d (%v), one of the ids before %v", id, err, goals)
	}
	if got := f.get(l.ID); !sameLead(got, l) {
		t.Errorf("after a restart:\n got %s\nwant %s", leadText(got), leadText(l))
	}
	if got := f.history(l.ID); len(got) != len(hist) || !sameChange(got[1], hist[1]) || !sameChange(got[0], hist[0]) {
		t.Errorf("history after a restart: %+v\nwant %+v", got, hist)
	}
	if got, created, err := f.s.Add(f.ctx, store.NewLead{Offer: "acme", Key: "order-1"}); err != nil || created || got.ID != l.ID {
		t.Errorf("an idempotency key after a restart: lead %v, created %v, %v; want lead %d", got, created, err, l.ID)
	}
	if got, err := f.s.ByExt(f.ctx, "acme", "R-1"); err != nil || got.ID != l.ID {
		t.Errorf("ByExt after a restart: %v, %v", got, err)
	}
	if n := f.add(store.NewLead{Offer: "acme"}); n.ID == l.ID {
		t.Errorf("a lead id was given twice across a restart: %d", n.ID)
	}
}

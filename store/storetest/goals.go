package storetest

import (
	"errors"
	"sync"
	"testing"

	"leadhost/store"
)

// testGoals: an offer's goal codes get ids once, a lead reaches only its
// own offer's goals, and reaching one brings the payouts the offer gives
// it unless the edit names them.
func testGoals(t *testing.T, b Backend) {
	pay, _ := store.ParseMoney("300.50")
	wm, _ := store.ParseMoney("120")
	policies := policyMap{"acme": {Delivery: true, HoldDays: 7, DefaultReason: store.ReasonChangedMind, TrashReason: store.ReasonTrash,
		Goals: map[string]store.GoalPolicy{"deposit": {Name: "First deposit", Pay: pay, WM: wm}}}}
	f := open(t, b, store.Options{Policies: policies})
	ctx := f.ctx

	gid, err := f.s.DefineGoal(ctx, "acme", "deposit")
	if err != nil || gid == 0 {
		t.Fatalf("define goal: %d, %v", gid, err)
	}
	t.Run("define and look up", func(t *testing.T) {
		if again, err := f.s.DefineGoal(ctx, "acme", "deposit"); err != nil || again != gid {
			t.Errorf("defining a goal again: %d, %v; want its id %d", again, err, gid)
		}
		if got, err := f.s.GoalByCode(ctx, "acme", "deposit"); err != nil || got != gid {
			t.Errorf("GoalByCode = %d, %v; want %d", got, err, gid)
		}
		if _, err := f.s.GoalByCode(ctx, "zeta", "deposit"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("another offer's goal code: err = %v, want ErrNotFound", err)
		}
		zeta, err := f.s.DefineGoal(ctx, "zeta", "deposit")
		if err != nil || zeta == gid || zeta == 0 {
			t.Errorf("the same code in another offer: id %d (%v), want one of its own, not %d", zeta, err, gid)
		}
		// Nodes starting together define the same goal: one id.
		ids := make([]uint32, 8)
		var wg sync.WaitGroup
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				if ids[i], err = f.s.DefineGoal(ctx, "acme", "race"); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		for _, id := range ids {
			if id != ids[0] || id == 0 || id == gid {
				t.Fatalf("one goal defined concurrently got ids %v", ids)
			}
		}
		if _, err := f.s.DefineGoal(ctx, "acme", ""); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("an empty goal code: err = %v, want ErrInvalid", err)
		}
	})
	t.Run("a lead reaches its offer's goals only", func(t *testing.T) {
		l := f.add(store.NewLead{Offer: "acme"})
		z := f.add(store.NewLead{Offer: "zeta"})
		if _, err := f.s.Edit(ctx, z.ID, store.Patch{Goal: &gid}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("another offer's goal id: err = %v, want ErrInvalid", err)
		}
		got := f.edit(l.ID, store.Patch{Goal: &gid})
		if got.Goal != gid || !got.Cash.Pay.Equal(pay) || !got.Cash.WM.Equal(wm) {
			t.Errorf("goal reached: goal %d pay %s wm %s, want %d with the offer's payouts %s and %s", got.Goal, got.Cash.Pay, got.Cash.WM, gid, pay, wm)
		}
		if _, _, err := f.s.Add(ctx, store.NewLead{Offer: "zeta", Goal: gid}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("adding a lead with another offer's goal: err = %v, want ErrInvalid", err)
		}
		if added := f.add(store.NewLead{Offer: "acme", Goal: gid}); added.Goal != gid {
			t.Errorf("added with its goal: goal %d, want %d", added.Goal, gid)
		}
	})
	t.Run("by code, with the edit's own payout", func(t *testing.T) {
		l := f.add(store.NewLead{Offer: "acme"})
		own := store.MoneyFromUnits(99, 0)
		got := f.edit(l.ID, store.Patch{GoalCode: "deposit", Cash: &store.CashPatch{Pay: &own}})
		if got.Goal != gid || !got.Cash.Pay.Equal(own) || !got.Cash.WM.Equal(wm) {
			t.Errorf("goal by code: goal %d pay %s wm %s, want %d, the edit's pay 99 and the offer's wm %s", got.Goal, got.Cash.Pay, got.Cash.WM, gid, wm)
		}
	})
}

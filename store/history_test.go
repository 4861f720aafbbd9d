package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// The creation entry is derived, not stored: after any sequence of edits
// it must still read exactly as the lead was created.
func TestDerivedCreationEntry(t *testing.T) {
	t.Parallel()
	s, clk := newTestStore(t, Options{})
	ctx := context.Background()
	gid, _ := s.DefineGoal(ctx, "acme", "sale")
	rng := rand.New(rand.NewPCG(1, 2))
	imports := []NewLead{
		{Offer: "acme", Fields: map[string]string{"name": "Ivan", "phone": "79990001122"}},
		{Offer: "acme", Ext: "X1", Status: StatusCancel, Reason: ReasonExpensive, Comment: "imported", Base: MoneyFromUnits(1210, 2), Curr: 643},
		{Offer: "acme", Status: StatusHold, Counts: 3, Track: "RA1", Cash: Cash{Pay: MoneyFromUnits(5, 1), CC: 840}},
		{Offer: "acme", Status: StatusPaid, Key: "k1", Goal: gid, Created: t0.Add(-72 * time.Hour)},
		{Offer: "acme", By: "script:acme/hook.lua"},
	}
	patches := []func(i int) Patch{
		func(int) Patch { return Patch{Accept: true} },
		func(int) Patch { return Patch{Status: ptr(StatusCallback)} },
		func(int) Patch { return Patch{Status: ptr(StatusCancel), Reason: ptr(ReasonFraud)} },
		func(int) Patch { return Patch{Hold: &Hold{Days: 2}} },
		func(i int) Patch { return Patch{Comment: ptr(fmt.Sprint("c", i))} },
		func(i int) Patch { return Patch{Ext: ptr(fmt.Sprint("E", i))} },
		func(i int) Patch { return Patch{Base: ptr(MoneyFromUnits(int64(i), 1)), Curr: ptr(Currency(978))} },
		func(i int) Patch {
			return Patch{Cash: &CashPatch{WM: ptr(MoneyFromUnits(int64(i), 0)), CC: ptr(Currency(643))}}
		},
		func(int) Patch { return Patch{Counts: ptr(0)} },
		func(int) Patch { return Patch{Goal: ptr(uint32(0)), Track: ptr("")} },
		func(int) Patch { return Patch{Status: ptr(StatusReturn)} },
	}
	for n, nl := range imports {
		created := mustAdd(t, s, nl)
		want := Change{Rev: 1, At: created.addedAt, By: created.addedBy, Fields: diffLeads(&Lead{}, created, true)}
		if want.By == "" {
			want.By = "api"
		}
		for i := 0; i < 40; i++ {
			clk.Advance(time.Minute)
			s.Edit(ctx, created.ID, patches[rng.IntN(len(patches))](n*100+i)) // refusals are part of the mix
		}
		hist, err := s.History(ctx, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(hist[0], want) {
			t.Errorf("lead %d: derived creation entry\n got %+v\nwant %+v", n, hist[0], want)
		}
		cur, _ := s.Get(ctx, created.ID)
		if len(hist) != int(cur.Rev) {
			t.Errorf("lead %d: %d history entries, rev %d", n, len(hist), cur.Rev)
		}
		// Each field's old value is the new value it last had.
		last := map[string]string{}
		for _, c := range hist {
			for _, f := range c.Fields {
				if prev, ok := last[f.Field]; ok && prev != f.Old || !ok && f.Old != zeroText(f.Field) {
					t.Fatalf("lead %d rev %d: %s old %q, but it was %q", n, c.Rev, f.Field, f.Old, prev)
				}
				last[f.Field] = f.New
			}
		}
	}
	mustVerify(t, s)
}

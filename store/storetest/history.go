package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"leadhost/store"
)

// testHistory: a lead's history holds every change, who made it and each
// field's old and new value, the creation first; later edits never alter
// what the creation entry says.
func testHistory(t *testing.T, b Backend) {
	f := open(t, b, store.Options{})

	t.Run("old and new of every field", func(t *testing.T) {
		l := f.add(store.NewLead{Offer: "acme", Status: store.StatusProcessing})
		rub := store.Currency(643)
		base, _ := store.ParseMoney("12.10")
		pay, _ := store.ParseMoney("300.5")
		f.edit(l.ID, store.Patch{Accept: true, Base: &base, Curr: &rub,
			Cash: &store.CashPatch{Pay: &pay, CC: &rub}, By: "script:acme/check.lua"})
		// 12.1 equals 12.10: nothing changes and nothing is written.
		same, _ := store.ParseMoney("12.1")
		f.edit(l.ID, store.Patch{Base: &same})
		hist := f.history(l.ID)
		if len(hist) != 2 {
			t.Fatalf("history has %d entries, want the creation and 1 edit: %+v", len(hist), hist)
		}
		got := map[string][2]string{}
		for _, c := range hist[1].Fields {
			got[c.Field] = [2]string{c.Old, c.New}
		}
		want := map[string][2]string{
			"status": {"2", "6"}, "base": {"", "12.10"}, "curr": {"", "RUB"},
			"cash.pay": {"", "300.5"}, "cash.cc": {"", "RUB"},
			"accepted_at": {"", f.clk.Now().Format(time.RFC3339Nano)},
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("history %s = %q, want %q", k, got[k], v)
			}
		}
		if hist[1].By != "script:acme/check.lua" || hist[1].Rev != 2 || !hist[1].At.Equal(f.clk.Now()) {
			t.Errorf("history entry: rev %d by %q at %v", hist[1].Rev, hist[1].By, hist[1].At)
		}
		if stored := f.get(l.ID); stored.Base.String() != "12.10" {
			t.Errorf("base = %s, want 12.10 exactly", stored.Base)
		}
	})

	t.Run("creation entry", func(t *testing.T) {
		created := f.clk.Now()
		l := f.add(store.NewLead{Offer: "acme", Ext: "C-1", Comment: "from the form",
			Fields: map[string]string{"phone": "79990001122"}, By: "hook:acme"})
		anon := f.add(store.NewLead{Offer: "acme"})
		first := f.history(l.ID)
		if len(first) != 1 {
			t.Fatalf("a new lead's history has %d entries, want 1", len(first))
		}
		c := first[0]
		fields := map[string]string{}
		for _, fc := range c.Fields {
			fields[fc.Field] = fc.New
		}
		if c.Rev != 1 || c.By != "hook:acme" || !c.At.Equal(created) || fields["offer"] != "acme" || fields["ext"] != "C-1" ||
			fields["comment"] != "from the form" || fields["fields.phone"] != "79990001122" {
			t.Errorf("creation entry %+v", c)
		}
		if h := f.history(anon.ID); h[0].By != "api" {
			t.Errorf("a lead added by no one in particular: by %q, want \"api\"", h[0].By)
		}

		// Whatever edits follow, the creation entry reads the same and each
		// field's old value is the new value it last had.
		patches := []store.Patch{
			{Accept: true}, {Status: ptr(store.StatusCallback)}, // refused: past the call
			{Status: ptr(store.StatusCancel), Reason: ptr(store.ReasonFraud)},
			{Comment: ptr("second thoughts")}, {Ext: ptr("C-2")}, {Counts: ptr(0)},
			{Base: ptr(store.MoneyFromUnits(55, 1)), Curr: ptr(store.Currency(978))},
			{Cash: &store.CashPatch{WM: ptr(store.MoneyFromUnits(7, 0)), CC: ptr(store.Currency(643))}},
			{Track: ptr("RA1")}, {Track: ptr("")}, {Status: ptr(store.StatusReturn)}, {Comment: ptr("")},
		}
		for i, p := range patches {
			f.clk.Advance(time.Minute)
			p.By = fmt.Sprint("step-", i)
			f.s.Edit(f.ctx, l.ID, p) // refusals are part of the mix
		}
		hist := f.history(l.ID)
		cur := f.get(l.ID)
		if len(hist) != int(cur.Rev) {
			t.Errorf("%d history entries, lead rev %d", len(hist), cur.Rev)
		}
		if !sameChange(hist[0], first[0]) {
			t.Errorf("the creation entry changed with later edits:\n was %+v\n now %+v", first[0], hist[0])
		}
		last := map[string]string{}
		for i, c := range hist {
			if c.Rev != uint32(i+1) {
				t.Errorf("history entry %d has rev %d", i, c.Rev)
			}
			if i > 0 && !c.At.After(hist[i-1].At) {
				t.Errorf("history entry %d at %v, not after %v", i, c.At, hist[i-1].At)
			}
			for _, fc := range c.Fields {
				if prev, ok := last[fc.Field]; ok && prev != fc.Old {
					t.Errorf("rev %d: %s old %q, but it was %q", c.Rev, fc.Field, fc.Old, prev)
				}
				last[fc.Field] = fc.New
			}
		}
		for field, want := range map[string]string{"status": "11", "reason": "", "ext": "C-2", "comment": "", "track": "", "counts": "0"} {
			if got, ok := last[field]; ok && got != want {
				t.Errorf("history's last %s is %q, the lead's is %q", field, got, want)
			}
		}
	})

	t.Run("unknown lead", func(t *testing.T) {
		if _, err := f.s.History(f.ctx, 1<<60); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("history of an unknown lead: err = %v, want ErrNotFound", err)
		}
	})
}

// sameChange compares history entries, times as instants.
func sameChange(a, b store.Change) bool {
	if !a.At.Equal(b.At) {
		return false
	}
	a.At, b.At = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

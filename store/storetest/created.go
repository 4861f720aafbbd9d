package storetest

import (
	"fmt"
	"testing"
	"time"

	"leadhost/store"
)

// testCreated: what the dates check mode reads, an offer's leads by
// creation time and status, and the days (in the partner's time zone)
// that hold any; and CountLeads, what the metrics start from.
func testCreated(t *testing.T, b Backend) {
	f := open(t, b, store.Options{})
	msk := time.FixedZone("MSK", 3*3600)
	// 21:30 UTC on the 1st is 00:30 on the 2nd in Moscow.
	at := func(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 30, 0, 0, time.UTC) }
	first := f.add(store.NewLead{Offer: "acme", Status: store.StatusProcessing, Created: at(1, 21)})
	third := f.add(store.NewLead{Offer: "acme", Status: store.StatusProcessing, Created: at(3, 10)})
	thirdLater := f.add(store.NewLead{Offer: "acme", Status: store.StatusCallback, Created: at(3, 12)})
	fifth := f.add(store.NewLead{Offer: "acme", Status: store.StatusPaid, Created: at(5, 10)}) // terminal
	seventh := f.add(store.NewLead{Offer: "acme", Status: store.StatusPacking, Created: at(7, 10)})
	f.add(store.NewLead{Offer: "acme-2", Status: store.StatusProcessing, Created: at(4, 10)}) // another offer
	f.add(store.NewLead{Offer: "acme", Status: store.StatusProcessing, Created: at(10, 0)})   // at the range's end: out

	ids := func(leads []*store.Lead) string {
		var out []uint64
		for _, l := range leads {
			out = append(out, l.ID)
		}
		return fmt.Sprint(out)
	}
	id := func(leads ...*store.Lead) string { return ids(leads) }

	t.Run("created between", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			from, to time.Time
			statuses store.StatusSet
			limit    int
			want     string
		}{
			{"every status, oldest first", at(3, 0), at(7, 0), 0, 0, id(third, thirdLater, fifth)},
			{"the range's end is out", at(1, 0), at(10, 0), 0, 0, id(first, third, thirdLater, fifth, seventh)},
			{"non-terminal", at(1, 0), at(10, 0), store.NonTerminal, 0, id(first, third, thirdLater, seventh)},
			{"in processing, at most 2", at(1, 0), at(10, 0), store.InProcessing, 2, id(first, third)},
			{"non-terminal, at most 3", at(1, 0), at(10, 0), store.NonTerminal, 3, id(first, third, thirdLater)},
			{"approved or paid, at most 1", at(1, 0), at(10, 0), store.Statuses(store.StatusPaid, store.StatusPacking), 1, id(fifth)},
			{"one status of a group", at(1, 0), at(10, 0), store.Statuses(store.StatusCallback), 0, id(thirdLater)},
			{"nothing in range", at(8, 0), at(9, 0), 0, 0, id()},
		} {
			got, err := f.s.CreatedBetween(f.ctx, "acme", tc.from, tc.to, tc.statuses, tc.limit)
			if err != nil || ids(got) != tc.want {
				t.Errorf("%s: leads %s (%v), want %s", tc.name, ids(got), err, tc.want)
			}
		}
	})

	t.Run("created days", func(t *testing.T) {
		days, err := f.s.CreatedDays(f.ctx, "acme", at(1, 0), at(10, 0), msk, store.NonTerminal)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range days {
			got = append(got, d.In(msk).Format("2006-01-02 15:04 MST"))
		}
		want := []string{"2026-11-02 00:00 MSK", "2026-11-03 00:00 MSK", "2026-11-07 00:00 MSK"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("days = %v, want %v (Moscow midnights; empty and terminal days skipped)", got, want)
		}
		// A status change takes a lead out of the non-terminal days.
		f.edit(third.ID, store.Patch{Status: ptr(store.StatusCancel)})
		f.edit(thirdLater.ID, store.Patch{Status: ptr(store.StatusCancel)})
		if days, _ := f.s.CreatedDays(f.ctx, "acme", at(3, 0), at(4, 0), time.UTC, store.NonTerminal); len(days) != 0 {
			t.Errorf("cancelled leads still give days %v", days)
		}
		if days, _ := f.s.CreatedDays(f.ctx, "acme", at(3, 0), at(4, 0), time.UTC, store.Statuses(store.StatusCancel)); len(days) != 1 {
			t.Errorf("cancelled leads' day: %v, want the 3rd", days)
		}
	})

	t.Run("count leads", func(t *testing.T) {
		counts, err := f.s.CountLeads(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]map[store.Status]int{
			"acme":   {store.StatusProcessing: 2, store.StatusCancel: 2, store.StatusPaid: 1, store.StatusPacking: 1},
			"acme-2": {store.StatusProcessing: 1},
		}
		if fmt.Sprint(counts) != fmt.Sprint(want) {
			t.Errorf("counts %v, want %v", counts, want)
		}
	})
}

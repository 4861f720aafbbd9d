package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"leadhost/store"
)

// testList: List pages through an offer's leads (or every offer's) with a
// status filter, each lead once, the filter following status changes, and
// paging survives leads added meanwhile.
func testList(t *testing.T, b Backend) {
	f := open(t, b, store.Options{})
	cycle := []store.Status{store.StatusProcessing, store.StatusCallback, store.StatusHold, store.StatusPacking}
	byStatus := map[string]map[store.Status][]uint64{}
	for i := range 120 {
		st := cycle[i%4]
		for _, offer := range []string{"list", "list-2"} { // one offer's name is a prefix of the other's
			l := f.add(store.NewLead{Offer: offer, Status: st})
			if byStatus[offer] == nil {
				byStatus[offer] = map[store.Status][]uint64{}
			}
			byStatus[offer][st] = append(byStatus[offer][st], l.ID)
		}
	}
	want := func(offers []string, set store.StatusSet) map[uint64]bool {
		out := map[uint64]bool{}
		for _, o := range offers {
			for st, ids := range byStatus[o] {
				if set.Has(st) {
					for _, id := range ids {
						out[id] = true
					}
				}
			}
		}
		return out
	}
	check := func(t *testing.T, q store.Query, want map[uint64]bool) {
		t.Helper()
		got := listAll(t, f, q)
		for _, l := range got {
			if !want[l.ID] {
				t.Errorf("list %+v: lead %d (offer %s, status %d) does not belong", q, l.ID, l.Offer, l.Status)
			}
		}
		if len(got) != len(want) {
			t.Errorf("list %+v: %d leads, want %d", q, len(got), len(want))
		}
	}

	t.Run("every offer by status", func(t *testing.T) {
		check(t, store.Query{Statuses: store.Statuses(store.StatusPacking), Limit: 7}, want([]string{"list", "list-2"}, store.Statuses(store.StatusPacking)))
		check(t, store.Query{Limit: 1000}, want([]string{"list", "list-2"}, store.AllStatuses))
	})
	t.Run("one offer by status", func(t *testing.T) {
		check(t, store.Query{Offer: "list", Statuses: store.InProcessing, Limit: 50}, want([]string{"list"}, store.InProcessing))
		check(t, store.Query{Offer: "list", Statuses: store.Statuses(store.StatusCallback, store.StatusPacking), Limit: 13},
			want([]string{"list"}, store.Statuses(store.StatusCallback, store.StatusPacking)))
		check(t, store.Query{Offer: "list"}, want([]string{"list"}, store.AllStatuses))
		check(t, store.Query{Offer: "nobody"}, nil)
	})
	t.Run("a status change moves the lead", func(t *testing.T) {
		toCallback := byStatus["list"][store.StatusProcessing][0]
		toPacking := byStatus["list"][store.StatusProcessing][1]
		f.edit(toCallback, store.Patch{Status: ptr(store.StatusCallback)})
		f.edit(toPacking, store.Patch{Accept: true})
		for _, tc := range []struct {
			set  store.StatusSet
			id   uint64
			want bool
		}{
			{store.Statuses(store.StatusProcessing), toCallback, false},
			{store.Statuses(store.StatusCallback), toCallback, true},
			{store.InProcessing, toCallback, true},
			{store.InProcessing, toPacking, false},
			{store.InAccepted, toPacking, true},
		} {
			found := false
			for _, l := range listAll(t, f, store.Query{Offer: "list", Statuses: tc.set, Limit: 1000}) {
				if l.ID == tc.id {
					found = true
					if !tc.set.Has(l.Status) {
						t.Errorf("lead %d listed for statuses %b with status %d", l.ID, tc.set, l.Status)
					}
				}
			}
			if found != tc.want {
				t.Errorf("lead %d in the list of statuses %b: %v, want %v", tc.id, tc.set, found, tc.want)
			}
		}
	})
	t.Run("refused queries", func(t *testing.T) {
		for _, q := range []store.Query{{Offer: "list", Cursor: "!!"}, {Cursor: "!!"}, {Limit: 5000}} {
			if _, err := f.s.List(f.ctx, q); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("list %+v: err = %v, want ErrInvalid", q, err)
			}
		}
	})
	t.Run("paging while leads are added", func(t *testing.T) {
		before := map[uint64]bool{}
		for range 200 {
			before[f.add(store.NewLead{Offer: "grow"}).ID] = true
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ { // bounded: a pager must reach the end
				select {
				case <-stop:
					return
				default:
				}
				if _, _, err := f.s.Add(f.ctx, store.NewLead{Offer: "grow", Ext: fmt.Sprint("new", i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		defer func() { close(stop); wg.Wait() }()
		for _, q := range []store.Query{{Offer: "grow", Limit: 37}, {Limit: 37}} {
			seen := map[uint64]bool{}
			for _, l := range listAll(t, f, q) {
				seen[l.ID] = true
			}
			for id := range before {
				if !seen[id] {
					t.Errorf("list %+v while leads were added: lead %d missing", q, id)
				}
			}
		}
	})
}

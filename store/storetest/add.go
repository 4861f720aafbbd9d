package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"leadhost/store"
)

// testAdd: a webhook's lead is stored as given, once per idempotency key
// however many times (and however concurrently) the call is repeated, and
// input the model refuses stores nothing.
func testAdd(t *testing.T, b Backend) {
	f := open(t, b, store.Options{})
	ctx := f.ctx

	t.Run("new lead", func(t *testing.T) {
		price, _ := store.ParseMoney("12.10")
		l, created, err := f.s.Add(ctx, store.NewLead{Offer: "acme", Ext: "P-1", Base: price, Curr: 643,
			Fields: map[string]string{"name": "Иван", "phone": "79990001122"}, By: "hook:acme"})
		if err != nil || !created {
			t.Fatalf("add: created %v, %v", created, err)
		}
		if l.ID == 0 || l.Status != store.StatusNew || l.Counts != 1 || l.Rev != 1 ||
			!l.Created.Equal(t0) || !l.Updated.Equal(t0) || l.Base.String() != "12.10" || l.Fields["name"] != "Иван" {
			t.Errorf("new lead as added: %s", leadText(l))
		}
		if got := f.get(l.ID); !sameLead(got, l) {
			t.Errorf("stored lead differs from the one Add returned:\n add %s\n get %s", leadText(l), leadText(got))
		}
		if _, err := f.s.Get(ctx, l.ID+1_000_000); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get of an unknown lead: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("idempotency key", func(t *testing.T) {
		first, created, err := f.s.Add(ctx, store.NewLead{Offer: "keyed", Key: "order-1", Comment: "first"})
		if err != nil || !created {
			t.Fatalf("first add: created %v, %v", created, err)
		}
		f.clk.Advance(time.Minute)
		again, created, err := f.s.Add(ctx, store.NewLead{Offer: "keyed", Key: "order-1", Comment: "repeat"})
		if err != nil || created {
			t.Fatalf("repeated add: created %v, %v; want the first lead, not created", created, err)
		}
		if again.ID != first.ID || again.Comment != "first" {
			t.Errorf("repeated key gave lead %d %q, want the first, %d %q", again.ID, again.Comment, first.ID, first.Comment)
		}
		withExt := f.add(store.NewLead{Offer: "keyed", Key: "order-2", Ext: "P-2"})
		if again, created, err := f.s.Add(ctx, store.NewLead{Offer: "keyed", Key: "order-2", Ext: "P-2"}); err != nil || created || again.ID != withExt.ID {
			t.Errorf("a repeated key with its ext: lead %v created %v, %v; want the first lead, no error", again, created, err)
		}
		for _, tc := range []struct {
			offer, key string
			want       uint64 // 0: none
		}{
			{"keyed", "order-1", first.ID},
			{"keyed", "order-2", withExt.ID},
			{"keyed", "order-3", 0},
			{"keyed-3", "order-1", 0},
		} {
			l, err := f.s.ByKey(ctx, tc.offer, tc.key)
			switch {
			case tc.want == 0 && !errors.Is(err, store.ErrNotFound):
				t.Errorf("ByKey(%s, %s) = %v, %v; want ErrNotFound", tc.offer, tc.key, l, err)
			case tc.want != 0 && (err != nil || l.ID != tc.want):
				t.Errorf("ByKey(%s, %s) = %v, %v; want lead %d", tc.offer, tc.key, l, err, tc.want)
			}
		}
		other, created, err := f.s.Add(ctx, store.NewLead{Offer: "keyed-2", Key: "order-1"})
		if err != nil || !created || other.ID == first.ID {
			t.Errorf("the same key in another offer: lead %v created %v, %v; want a new lead", other, created, err)
		}
		if n := countOffer(t, f, "keyed"); n != 2 {
			t.Errorf("offer holds %d leads after repeated keys, want 2", n)
		}
	})

	t.Run("concurrent adds of one key", func(t *testing.T) {
		const n = 16
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			ids     = map[uint64]int{}
			created int
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l, isNew, err := f.s.Add(ctx, store.NewLead{Offer: "race", Key: "order-5501",
					Fields: map[string]string{"try": fmt.Sprint(i)}})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				ids[l.ID]++
				if isNew {
					created++
				}
			}()
		}
		wg.Wait()
		if len(ids) != 1 || created != 1 {
			t.Errorf("%d adds of one key made leads %v, %d reported new; want one lead, new once", n, ids, created)
		}
		if got := countOffer(t, f, "race"); got != 1 {
			t.Errorf("offer holds %d leads, want 1", got)
		}
	})

	t.Run("refused input stores nothing", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			nl   store.NewLead
			want error
		}{
			{"no offer", store.NewLead{}, store.ErrInvalid},
			{"offer with NUL", store.NewLead{Offer: "bad\x00offer"}, store.ErrInvalid},
			{"status 13", store.NewLead{Offer: "bad", Status: 13}, store.ErrInvalid},
			{"reason without status 5", store.NewLead{Offer: "bad", Reason: store.ReasonTrash}, store.ErrInvalid},
			{"unknown reason", store.NewLead{Offer: "bad", Status: store.StatusCancel, Reason: 99}, store.ErrInvalid},
			{"negative counts", store.NewLead{Offer: "bad", Counts: -2}, store.ErrInvalid},
			{"negative base", store.NewLead{Offer: "bad", Base: store.MoneyFromUnits(-1, 0)}, store.ErrInvalid},
			{"unknown currency", store.NewLead{Offer: "bad", Curr: 5}, store.ErrInvalid},
			{"unknown goal", store.NewLead{Offer: "bad", Goal: 12}, store.ErrInvalid},
			{"empty field name", store.NewLead{Offer: "bad", Fields: map[string]string{"": "x"}}, store.ErrInvalid},
			{"key of 257 bytes", store.NewLead{Offer: "bad", Key: strings.Repeat("k", 257)}, store.ErrInvalid},
			{"ext not UTF-8", store.NewLead{Offer: "bad", Ext: "\xff"}, store.ErrInvalid},
		} {
			l, _, err := f.s.Add(ctx, tc.nl)
			if !errors.Is(err, tc.want) || l != nil {
				t.Errorf("%s: lead %v, err = %v; want no lead and %v", tc.name, l, err, tc.want)
			}
		}
		f.add(store.NewLead{Offer: "dup", Ext: "E"})
		if _, _, err := f.s.Add(ctx, store.NewLead{Offer: "dup", Ext: "E"}); !errors.Is(err, store.ErrExists) {
			t.Errorf("an ext the offer has: err = %v, want ErrExists", err)
		}
		for offer, want := range map[string]int{"bad": 0, "dup": 1} {
			if n := countOffer(t, f, offer); n != want {
				t.Errorf("offer %s holds %d leads after refused adds, want %d", offer, n, want)
			}
		}
	})

	t.Run("exact values", func(t *testing.T) {
		// Money is exact (12.10 stays 12.10), names are text of up to
		// 256 bytes in any script.
		for _, text := range []string{"0.000001", "999999999999.999999", "12.10", "-0.5"} {
			m, err := store.ParseMoney(text)
			base, err2 := store.ParseMoney(strings.TrimPrefix(text, "-")) // a price is not negative
			if err != nil || err2 != nil {
				t.Fatal(err, err2)
			}
			l := f.add(store.NewLead{Offer: "exact", Base: base, Cash: store.Cash{WM: m, CC: 840}, Curr: 643})
			if got := f.get(l.ID); got.Cash.WM.String() != text || got.Base.String() != base.String() {
				t.Errorf("money %s stored as base %s, cash.wm %s", text, got.Base, got.Cash.WM)
			}
		}
		long := strings.Repeat("я", 128) // 256 bytes
		l := f.add(store.NewLead{Offer: long, Ext: long, Key: long, Fields: map[string]string{"имя": "Иван 🙂", "note": strings.Repeat("x", 10_000)}})
		if got, err := f.s.ByExt(ctx, long, long); err != nil || got.ID != l.ID || !sameLead(got, l) {
			t.Errorf("a lead of 256-byte names: %v, %v", got, err)
		}
		if again, created, err := f.s.Add(ctx, store.NewLead{Offer: long, Key: long}); err != nil || created || again.ID != l.ID {
			t.Errorf("a 256-byte key again: %v, %v, %v", again, created, err)
		}
	})

	t.Run("a call given up writes nothing", func(t *testing.T) {
		gone, cancel := context.WithCancel(ctx)
		cancel()
		if l, _, err := f.s.Add(gone, store.NewLead{Offer: "gone"}); err == nil {
			t.Errorf("an add with its context done stored lead %d", l.ID)
		}
		if n := countOffer(t, f, "gone"); n != 0 {
			t.Errorf("an add given up stored %d leads", n)
		}
	})

	t.Run("imported leads", func(t *testing.T) {
		created := t0.Add(-48 * time.Hour)
		paid := f.add(store.NewLead{Offer: "import", Status: store.StatusPaid, Created: created})
		if !paid.Created.Equal(created) || !paid.AcceptedAt.Equal(created) || paid.Counts != 1 {
			t.Errorf("imported paid lead: %s; want created and accepted_at %v", leadText(paid), created)
		}
		cancelled := f.add(store.NewLead{Offer: "import", Status: store.StatusCancel})
		if cancelled.Reason != store.ReasonChangedMind {
			t.Errorf("imported cancel without reason: reason %d, want the default %d", cancelled.Reason, store.ReasonChangedMind)
		}
		held := f.add(store.NewLead{Offer: "import", Status: store.StatusHold})
		if want := f.clk.Now().Add(7 * 24 * time.Hour); !held.HoldUntil.Equal(want) {
			t.Errorf("imported hold: hold_until %v, want %v (the offer's 7 hold days)", held.HoldUntil, want)
		}
		for _, l := range []*store.Lead{paid, cancelled, held} {
			if got := f.get(l.ID); !sameLead(got, l) {
				t.Errorf("stored import differs:\n add %s\n get %s", leadText(l), leadText(got))
			}
		}
	})
}

// countOffer counts an offer's leads through List.
func countOffer(t *testing.T, f *fixture, offer string) int {
	t.Helper()
	return len(listAll(t, f, store.Query{Offer: offer, Limit: 100}))
}

// listAll pages through a query to its end; a lead seen twice fails.
func listAll(t *testing.T, f *fixture, q store.Query) []*store.Lead {
	t.Helper()
	var out []*store.Lead
	seen := map[uint64]bool{}
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			t.Fatalf("list %+v: no end after %d pages", q, pages)
		}
		page, err := f.s.List(f.ctx, q)
		if err != nil {
			t.Fatalf("list %+v: %v", q, err)
		}
		limit := q.Limit
		if limit <= 0 {
			limit = 50
		}
		if len(page.Leads) > limit {
			t.Errorf("list %+v: page of %d leads, limit %d", q, len(page.Leads), limit)
		}
		for _, l := range page.Leads {
			if seen[l.ID] {
				t.Errorf("list %+v: lead %d on two pages", q, l.ID)
			}
			seen[l.ID] = true
			out = append(out, l)
		}
		if page.Next == "" {
			return out
		}
		q.Cursor = page.Next
	}
}

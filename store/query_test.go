package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

func TestListPagesByOfferAndStatus(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{})
	ctx := context.Background()
	want := map[uint64]bool{}
	for i := 0; i < 120; i++ {
		st := []Status{StatusProcessing, StatusCallback, StatusHold, StatusPacking}[i%4]
		l := mustAdd(t, s, NewLead{Offer: "acme", Status: st})
		if InProcessing.Has(st) {
			want[l.ID] = true
		}
		mustAdd(t, s, NewLead{Offer: "acme-2", Status: st}) // a prefix of another offer
	}
	got := map[uint64]bool{}
	cursor, pages := "", 0
	for {
		page, err := s.List(ctx, Query{Offer: "acme", Statuses: InProcessing, Cursor: cursor, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, l := range page.Leads {
			if l.Offer != "acme" || !InProcessing.Has(l.Status) || got[l.ID] {
				t.Fatalf("page %d: unexpected lead %+v", pages, l)
			}
			got[l.ID] = true
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	if len(got) != len(want) || pages != 2 {
		t.Errorf("read %d leads in %d pages, want %d in 2", len(got), pages, len(want))
	}
	if _, err := s.List(ctx, Query{Offer: "acme", Cursor: "!!"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad cursor: err = %v", err)
	}
	if _, err := s.List(ctx, Query{Limit: 5000}); !errors.Is(err, ErrInvalid) {
		t.Errorf("limit 5000: err = %v", err)
	}
}

// Paging stays stable while leads are added: every lead that existed when
// paging began is returned exactly once.
func TestListCursorStableUnderInserts(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{})
	ctx := context.Background()
	before := map[uint64]bool{}
	for i := 0; i < 500; i++ {
		before[mustAdd(t, s, NewLead{Offer: "acme"}).ID] = true
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
				mustAdd(t, s, NewLead{Offer: "acme", Ext: fmt.Sprint("new", i)})
			}
		}
	}()
	seen := map[uint64]int{}
	for _, q := range []Query{{Offer: "acme", Limit: 37}, {Limit: 37}} {
		clear(seen)
		for {
			page, err := s.List(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range page.Leads {
				seen[l.ID]++
			}
			if q.Cursor = page.Next; q.Cursor == "" {
				break
			}
		}
		for id := range before {
			if seen[id] != 1 {
				t.Fatalf("query %+v: lead %d seen %d times", q, id, seen[id])
			}
		}
	}
	close(stop)
	wg.Wait()
}

func TestCreatedDaysAndRanges(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{})
	ctx := context.Background()
	msk := time.FixedZone("MSK", 3*3600)
	// 21:30 UTC on the 1st is 00:30 on the 2nd in Moscow.
	at := func(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 30, 0, 0, time.UTC) }
	mustAdd(t, s, NewLead{Offer: "acme", Status: StatusProcessing, Created: at(1, 21)})
	mustAdd(t, s, NewLead{Offer: "acme", Status: StatusProcessing, Created: at(3, 10)})
	mustAdd(t, s, NewLead{Offer: "acme", Status: StatusPaid, Created: at(5, 10)}) // terminal
	mustAdd(t, s, NewLead{Offer: "acme", Status: StatusPacking, Created: at(7, 10)})
	mustAdd(t, s, NewLead{Offer: "other", Status: StatusProcessing, Created: at(4, 10)})

	days, err := s.CreatedDays(ctx, "acme", at(1, 0), at(10, 0), msk, NonTerminal)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range days {
		got = append(got, d.Format("2006-01-02 MST"))
	}
	want := []string{"2026-11-02 MSK", "2026-11-03 MSK", "2026-11-07 MSK"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("days = %v, want %v (empty and terminal days skipped, Moscow dates)", got, want)
	}
	leads, err := s.CreatedBetween(ctx, "acme", at(3, 0), at(7, 0), 0, 0)
	if err != nil || len(leads) != 2 || leads[0].Created.After(leads[1].Created) {
		t.Errorf("CreatedBetween: %d leads (%v), want the 3rd and 5th in order", len(leads), err)
	}
	// A status change moves the lead out of the non-terminal days.
	if _, err := s.Edit(ctx, leads[0].ID, Patch{Status: ptr(StatusCancel)}); err != nil {
		t.Fatal(err)
	}
	days, _ = s.CreatedDays(ctx, "acme", at(3, 0), at(4, 0), time.UTC, NonTerminal)
	if len(days) != 0 {
		t.Errorf("cancelled lead still counted: %v", days)
	}
	mustVerify(t, s)
}

func TestReleaseHolds(t *testing.T) {
	t.Parallel()
	s, clk := newTestStore(t, Options{})
	ctx := context.Background()
	short := mustAdd(t, s, NewLead{Offer: "acme", Status: StatusProcessing})
	long := mustAdd(t, s, NewLead{Offer: "acme", Status: StatusProcessing})
	left := mustAdd(t, s, NewLead{Offer: "acme", Status: StatusProcessing})
	for id, days := range map[uint64]int{short.ID: 1, long.ID: 10, left.ID: 1} {
		if _, err := s.Edit(ctx, id, Patch{Hold: &Hold{Days: days}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Edit(ctx, left.ID, Patch{Status: ptr(StatusCancel)}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.ReleaseHolds(ctx, clk.Now(), 0); err != nil || n != 0 {
		t.Fatalf("nothing is due yet: released %d, %v", n, err)
	}
	clk.Advance(36 * time.Hour)
	if n, err := s.ReleaseHolds(ctx, clk.Now(), 0); err != nil || n != 1 {
		t.Fatalf("released %d, %v; want the 1-day hold only", n, err)
	}
	got, _ := s.Get(ctx, short.ID)
	hist, _ := s.History(ctx, short.ID)
	if got.Status != StatusPacking || got.AcceptedAt.IsZero() || hist[len(hist)-1].By != HoldRule {
		t.Errorf("released lead: %+v by %q", got, hist[len(hist)-1].By)
	}
	if got, _ := s.Get(ctx, left.ID); got.Status != StatusCancel {
		t.Errorf("a lead that left the hold was touched: %+v", got)
	}
	if got, _ := s.Get(ctx, long.ID); got.Status != StatusHold {
		t.Errorf("10-day hold released early: %+v", got)
	}
	mustVerify(t, s)
}

func TestFeedSurvivesReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := Options{Dir: dir, Feeds: []string{"postback"}, NoSync: true, GCInterval: -1}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l := mustAdd(t, s, NewLead{Offer: "acme"})
	if _, err := s.Edit(ctx, l.ID, Patch{Status: ptr(StatusProcessing)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Edit(ctx, l.ID, Patch{Comment: ptr("not a status change")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Edit(ctx, l.ID, Patch{Accept: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Feed("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown feed: err = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(opts); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	feed, _ := s.Feed("postback")
	evs, err := feed.Pending(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || evs[0].To != StatusNew || evs[1].To != StatusProcessing || !evs[2].Approved {
		t.Fatalf("pending after reopen: %+v", evs)
	}
	if err := feed.Ack(ctx, evs[:2]...); err != nil {
		t.Fatal(err)
	}
	if evs, _ = feed.Pending(ctx, 10); len(evs) != 1 || evs[0].To != StatusPacking {
		t.Fatalf("pending after ack: %+v", evs)
	}
}

func TestVerifyFindsBrokenIndexes(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{})
	l := mustAdd(t, s, NewLead{Offer: "acme", Ext: "E", Status: StatusProcessing})
	mustVerify(t, s)
	// Damage the database behind the store's back, as a bug would.
	moved := *l
	moved.Status = StatusPacking
	err := s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Delete(statusKey(l)); err != nil {
			return err
		}
		return txn.Set(statusKey(&moved), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	probs, err := s.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(probs) != 2 {
		t.Errorf("Verify found %v; want the missing and the stale status entry", probs)
	}
}

// A feed keeps each item's delivery state across a restart, takes only
// what its filter wants, and Begin on an acknowledged item says so.
func TestFeedDeliveryState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := Options{Dir: dir, Feeds: []string{"send"}, NoSync: true, GCInterval: -1,
		FeedFilter: func(feed string, ev Event) bool { return ev.From == 0 && ev.To == StatusNew }}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a := mustAdd(t, s, NewLead{Offer: "acme"})
	mustAdd(t, s, NewLead{Offer: "acme", Status: StatusProcessing}) // not new: filtered out
	if _, err := s.Edit(ctx, a.ID, Patch{Status: ptr(StatusProcessing)}); err != nil {
		t.Fatal(err)
	}
	feed, _ := s.Feed("send")
	items, err := feed.Pending(ctx, 10)
	if err != nil || len(items) != 1 || items[0].LeadID != a.ID || items[0].Attempts != 0 || items[0].InFlight {
		t.Fatalf("pending: %+v %v", items, err)
	}
	it, err := feed.Begin(ctx, items[0])
	if err != nil {
		t.Fatal(err)
	}
	it, err = feed.Retry(ctx, it, t0.Add(time.Minute), "partner down")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := feed.Begin(ctx, it); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(opts); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	feed, _ = s.Feed("send")
	items, _ = feed.Pending(ctx, 10)
	if len(items) != 1 || items[0].Attempts != 2 || !items[0].InFlight || items[0].LastError != "partner down" || !items[0].NotBefore.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after reopen: %+v", items)
	}
	if err := feed.Ack(ctx, items[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := feed.Begin(ctx, items[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("Begin after Ack: %v", err)
	}
}

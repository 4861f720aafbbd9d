package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"leadhost/store"
)

// feedOptions: "send" wants new leads only (as the send outbox does),
// "postback" every status change.
func feedOptions() store.Options {
	return store.Options{Feeds: []string{"send", "postback"},
		FeedFilter: func(feed string, ev store.Event) bool {
			return feed != "send" || (ev.From == 0 && ev.To == store.StatusNew)
		}}
}

// testFeed: every wanted status change is in its feed when the call that
// made it returns, and stays there until acknowledged; a delivery's state
// (attempts, in flight, why it failed, held for a person) is kept, across
// a restart too, so that nothing is sent twice without a person knowing.
func testFeed(t *testing.T, b Backend) {
	f := open(t, b, feedOptions())
	ctx := f.ctx
	send, post := mustFeed(t, f, "send"), mustFeed(t, f, "postback")
	if _, err := f.s.Feed("nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a feed not in Options.Feeds: err = %v, want ErrNotFound", err)
	}
	if send.Name() != "send" || post.Name() != "postback" {
		t.Errorf("feed names %q and %q", send.Name(), post.Name())
	}

	t.Run("an item per wanted change", func(t *testing.T) {
		a := f.add(store.NewLead{Offer: "acme"})
		imported := f.add(store.NewLead{Offer: "acme", Status: store.StatusProcessing}) // not new: not sent
		f.edit(a.ID, store.Patch{Status: ptr(store.StatusProcessing)})
		f.edit(a.ID, store.Patch{Comment: ptr("not a status change")})
		f.edit(a.ID, store.Patch{Status: ptr(store.StatusProcessing)}) // changes nothing
		if _, err := f.s.Edit(ctx, imported.ID, store.Patch{Status: ptr(store.Status(13))}); err == nil {
			t.Fatal("status 13 accepted")
		}
		dry := f.s.NewBatch()
		if err := dry.Edit(imported.ID, store.Patch{Status: ptr(store.StatusCancel)}); err != nil {
			t.Fatal(err)
		}
		dry.Discard()
		b := f.s.NewBatch()
		if err := b.Edit(a.ID, store.Patch{Accept: true}); err != nil {
			t.Fatal(err)
		}
		if err := b.Edit(imported.ID, store.Patch{Status: ptr(store.StatusCallback)}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		// Read at once: an item is written with its change, not after it.
		items := pending(t, f, send)
		if got, want := itemsText(items), fmt.Sprintf("[%d:1 0→1]", a.ID); got != want {
			t.Errorf("send feed: %s, want %s", got, want)
		}
		items = pending(t, f, post)
		want := fmt.Sprintf("[%d:1 0→1 %d:2 1→2 %d:4 2→6 approved %d:1 0→2 %d:2 2→3]", a.ID, a.ID, a.ID, imported.ID, imported.ID)
		if got := itemsText(items); got != want {
			t.Errorf("postback feed: %s, want %s (oldest lead first, a change each)", got, want)
		}
		for _, it := range items {
			if it.Attempts != 0 || it.InFlight || it.Offer != "acme" || it.At.IsZero() {
				t.Errorf("a fresh item: %+v", it)
			}
		}
		if err := post.Ack(ctx, items...); err != nil {
			t.Fatal(err)
		}
		if err := send.Ack(ctx, pending(t, f, send)...); err != nil {
			t.Fatal(err)
		}
		if n := len(pending(t, f, post)) + len(pending(t, f, send)); n != 0 {
			t.Errorf("%d items left after acknowledging them all", n)
		}
	})

	t.Run("delivery attempts", func(t *testing.T) {
		l := f.add(store.NewLead{Offer: "attempts"})
		it := only(t, f, send, l.ID)
		it, err := send.Begin(ctx, it)
		if err != nil || !it.InFlight || it.Attempts != 1 {
			t.Fatalf("begin: %+v, %v", it, err)
		}
		if got := only(t, f, send, l.ID); !got.InFlight || got.Attempts != 1 {
			t.Errorf("pending after Begin: %+v; want in flight, 1 attempt", got)
		}
		notBefore := f.clk.Now().Add(time.Minute)
		if it, err = send.Retry(ctx, it, notBefore, "partner down"); err != nil {
			t.Fatal(err)
		}
		got := only(t, f, send, l.ID)
		if got.InFlight || got.Attempts != 1 || got.LastError != "partner down" || !got.NotBefore.Equal(notBefore) {
			t.Errorf("pending after Retry: %+v", got)
		}
		if it, err = send.Begin(ctx, got); err != nil {
			t.Fatal(err)
		}
		later := notBefore.Add(time.Hour)
		if _, err = send.Defer(ctx, it, later, "partner asked to wait"); err != nil {
			t.Fatal(err)
		}
		got = only(t, f, send, l.ID)
		if !got.InFlight || got.Attempts != 2 || got.LastError != "partner asked to wait" || !got.NotBefore.Equal(later) {
			t.Errorf("pending after Defer: %+v; want still in flight, 2 attempts", got)
		}
		if n := len(pendingOf(t, f, post, l.ID)); n != 1 {
			t.Errorf("the other feed has %d items of the lead, want its own 1", n)
		}
		if err := send.Ack(ctx, got); err != nil {
			t.Fatal(err)
		}
		if _, err := send.Begin(ctx, got); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Begin after Ack: err = %v, want ErrNotFound", err)
		}
		if _, err := send.Retry(ctx, got, later, "late answer"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Retry after Ack: err = %v, want ErrNotFound", err)
		}
		if _, err := send.Defer(ctx, got, later, "late answer"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Defer after Ack: err = %v, want ErrNotFound", err)
		}
		if n := len(pendingOf(t, f, send, l.ID)); n != 0 {
			t.Errorf("an acknowledged item came back: %d", n)
		}
		if n := len(pendingOf(t, f, post, l.ID)); n != 1 {
			t.Errorf("acknowledging in one feed took %d items from the other, want none", 1-n)
		}
	})

	t.Run("a stale copy does not begin again", func(t *testing.T) {
		// Two senders (two nodes on one database, or one sender's stale
		// read) take the same item: the second Begin loses, so one
		// request goes out.
		l := f.add(store.NewLead{Offer: "stale"})
		read := only(t, f, send, l.ID)
		if _, err := send.Begin(ctx, read); err != nil {
			t.Fatal(err)
		}
		if _, err := send.Begin(ctx, read); !errors.Is(err, store.ErrClaimed) {
			t.Errorf("Begin of a copy read before another Begin: err = %v, want ErrClaimed", err)
		}
		if got := only(t, f, send, l.ID); got.Attempts != 1 || !got.InFlight {
			t.Errorf("after a lost Begin: %+v; want the one attempt in flight", got)
		}
	})

	t.Run("held for a person", func(t *testing.T) {
		l := f.add(store.NewLead{Offer: "held"})
		it, err := send.Begin(ctx, only(t, f, send, l.ID))
		if err != nil {
			t.Fatal(err)
		}
		if err := send.Hold(ctx, it, "sent? no answer"); err != nil {
			t.Fatal(err)
		}
		if n := len(pendingOf(t, f, send, l.ID)); n != 0 {
			t.Errorf("a held item is still pending")
		}
		held := heldOf(t, f, send, l.ID)
		if len(held) != 1 || held[0].LastError != "sent? no answer" || held[0].InFlight || held[0].Attempts != 1 {
			t.Fatalf("held: %+v", held)
		}
		rel, err := send.Release(ctx, l.ID, held[0].Rev)
		if err != nil || rel.LastError != "sent? no answer" || rel.Attempts != 1 {
			t.Errorf("release gave %+v, %v; want the item as held", rel, err)
		}
		back := only(t, f, send, l.ID)
		if back.InFlight || !back.NotBefore.IsZero() {
			t.Errorf("a released item: %+v; want ready to send", back)
		}
		if n := len(heldOf(t, f, send, l.ID)); n != 0 {
			t.Errorf("a released item is still held")
		}
		if err := send.Hold(ctx, back, "again"); err != nil {
			t.Fatal(err)
		}
		dropped, err := send.Drop(ctx, l.ID, back.Rev)
		if err != nil || dropped.LeadID != l.ID || dropped.LastError != "again" {
			t.Errorf("drop gave %+v, %v", dropped, err)
		}
		if n := len(heldOf(t, f, send, l.ID)) + len(pendingOf(t, f, send, l.ID)); n != 0 {
			t.Errorf("a dropped item is still there")
		}
		if _, err := send.Release(ctx, l.ID, back.Rev); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("release of a dropped item: err = %v, want ErrNotFound", err)
		}
		if _, err := send.Drop(ctx, l.ID, back.Rev); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("drop of a dropped item: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("once per change, however it raced", func(t *testing.T) {
		// A repeated webhook: one lead, one send.
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, _, err := f.s.Add(ctx, store.NewLead{Offer: "once", Key: "order-77"}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		var sends []store.FeedItem
		for _, it := range pending(t, f, send) {
			if it.Offer == "once" {
				sends = append(sends, it)
			}
		}
		if len(sends) != 1 {
			t.Fatalf("8 adds of one key gave %d send items, want 1", len(sends))
		}
		// A check run approves the lead while a postback approves it too:
		// one approval to report, not two.
		id := sends[0].LeadID
		b := f.s.NewBatch()
		if err := b.Edit(id, store.Patch{Accept: true}); err != nil {
			t.Fatal(err)
		}
		f.edit(id, store.Patch{Accept: true, By: "postback"})
		if _, err := b.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		approvals := 0
		for _, it := range pendingOf(t, f, post, id) {
			if it.Approved {
				approvals++
			}
		}
		if approvals != 1 {
			t.Errorf("%d approval items for one approved lead, want 1: %s", approvals, itemsText(pendingOf(t, f, post, id)))
		}
	})

	t.Run("paging", func(t *testing.T) {
		var want []uint64
		for range 25 {
			want = append(want, f.add(store.NewLead{Offer: "paging"}).ID)
		}
		var got []uint64
		var after *store.FeedItem
		for pages := 0; pages < 100; pages++ {
			page, err := send.PendingAfter(ctx, after, 7)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > 7 {
				t.Fatalf("page of %d items, limit 7", len(page))
			}
			if len(page) == 0 {
				break
			}
			for _, it := range page {
				if it.Offer == "paging" {
					got = append(got, it.LeadID)
				}
			}
			after = &page[len(page)-1]
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("paged %v, want %v, each once, oldest first", got, want)
		}
	})
}

// testFeedReopen: a restart finds every item as it was left: pending,
// in flight (a delivery that may or may not have happened), held.
func testFeedReopen(t *testing.T, b Backend) {
	f := open(t, b, feedOptions())
	ctx := f.ctx
	send := mustFeed(t, f, "send")
	waiting := f.add(store.NewLead{Offer: "acme"})
	inFlight := f.add(store.NewLead{Offer: "acme"})
	held := f.add(store.NewLead{Offer: "acme"})
	f.edit(waiting.ID, store.Patch{Status: ptr(store.StatusProcessing)})
	notBefore := f.clk.Now().Add(time.Minute)
	it, err := send.Begin(ctx, only(t, f, send, inFlight.ID))
	if err == nil {
		it, err = send.Retry(ctx, it, notBefore, "partner down")
	}
	if err == nil {
		_, err = send.Begin(ctx, it)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := send.Hold(ctx, only(t, f, send, held.ID), "no answer"); err != nil {
		t.Fatal(err)
	}

	f.reopen()
	send, post := mustFeed(t, f, "send"), mustFeed(t, f, "postback")
	if got := only(t, f, send, waiting.ID); got.InFlight || got.Attempts != 0 {
		t.Errorf("a waiting item after a restart: %+v", got)
	}
	got := only(t, f, send, inFlight.ID)
	if !got.InFlight || got.Attempts != 2 || got.LastError != "partner down" || !got.NotBefore.Equal(notBefore) {
		t.Errorf("an item in flight after a restart: %+v; want in flight, 2 attempts, its last error and time", got)
	}
	if h := heldOf(t, f, send, held.ID); len(h) != 1 || h[0].LastError != "no answer" {
		t.Errorf("a held item after a restart: %+v", h)
	}
	if items := pendingOf(t, f, post, waiting.ID); itemsText(items) != fmt.Sprintf("[%d:1 0→1 %d:2 1→2]", waiting.ID, waiting.ID) {
		t.Errorf("postback items after a restart: %s", itemsText(items))
	}
}

func mustFeed(t *testing.T, f *fixture, name string) store.Feed {
	t.Helper()
	fd, err := f.s.Feed(name)
	if err != nil {
		t.Fatalf("feed %s: %v", name, err)
	}
	return fd
}

// pending reads a whole feed (at most 1000 items).
func pending(t *testing.T, f *fixture, fd store.Feed) []store.FeedItem {
	t.Helper()
	items, err := fd.Pending(f.ctx, 1000)
	if err != nil {
		t.Fatalf("feed %s: pending: %v", fd.Name(), err)
	}
	return items
}

// pendingOf is the pending items of one lead.
func pendingOf(t *testing.T, f *fixture, fd store.Feed, id uint64) []store.FeedItem {
	t.Helper()
	return itemsOf(pending(t, f, fd), id)
}

// heldOf is the held items of one lead.
func heldOf(t *testing.T, f *fixture, fd store.Feed, id uint64) []store.FeedItem {
	t.Helper()
	items, err := fd.Held(f.ctx, 1000)
	if err != nil {
		t.Fatalf("feed %s: held: %v", fd.Name(), err)
	}
	return itemsOf(items, id)
}

func itemsOf(items []store.FeedItem, id uint64) []store.FeedItem {
	var out []store.FeedItem
	for _, it := range items {
		if it.LeadID == id {
			out = append(out, it)
		}
	}
	return out
}

// only is the one pending item of a lead.
func only(t *testing.T, f *fixture, fd store.Feed, id uint64) store.FeedItem {
	t.Helper()
	items := pendingOf(t, f, fd, id)
	if len(items) != 1 {
		t.Fatalf("feed %s: %d items of lead %d, want 1: %s", fd.Name(), len(items), id, itemsText(items))
	}
	return items[0]
}

// itemsText shows items as "lead:rev from→to".
func itemsText(items []store.FeedItem) string {
	out := "["
	for i, it := range items {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprintf("%d:%d %d→%d", it.LeadID, it.Rev, it.From, it.To)
		if it.Approved {
			out += " approved"
		}
	}
	return out + "]"
}

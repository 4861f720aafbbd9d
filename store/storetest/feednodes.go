package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"leadhost/store"
)

// testFeedNodes: several nodes send from one shared feed (cluster mode).
// Each item is begun by one node only; a lead's changes go out in order
// whichever node takes them; an item a live node has in flight is left
// alone by the others, and one whose node died is listed in flight, in
// doubt, for a person, as one node finds it after a crash.
func testFeedNodes(t *testing.T, b Backend) {
	if b.Peer == nil {
		t.Skip("one process's database: no other node can share its feeds")
	}
	const expiry = time.Minute
	opts := feedOptions()
	opts.Node, opts.ClaimExpiry = "node-a", expiry
	f := open(t, b, opts)
	ctx := f.ctx
	peerOpts := f.opts // the same clock
	peerOpts.Node = "node-b"
	peer := b.Peer(t, f.s, peerOpts)
	onA, onB := mustFeed(t, f, "send"), mustPeerFeed(t, peer, "send")
	postA, postB := mustFeed(t, f, "postback"), mustPeerFeed(t, peer, "postback")

	t.Run("an item begun once however many nodes race for it", func(t *testing.T) {
		var ids []uint64
		for range 40 {
			ids = append(ids, f.add(store.NewLead{Offer: "race"}).ID)
		}
		var begun atomic.Int64
		var wg sync.WaitGroup
		for _, fd := range []store.Feed{onA, onB, onA, onB} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, id := range ids {
					items, err := fd.Pending(ctx, 1000)
					if err != nil {
						t.Error(err)
						return
					}
					for _, it := range itemsOf(items, id) {
						if it.InFlight {
							continue // this node's own: a sender holds it, never begins it again
						}
						_, err := fd.Begin(ctx, it)
						switch {
						case err == nil:
							begun.Add(1)
						case !errors.Is(err, store.ErrClaimed) && !errors.Is(err, store.ErrNotFound):
							t.Error(err)
						}
					}
				}
			}()
		}
		wg.Wait()
		if n := begun.Load(); n != int64(len(ids)) {
			t.Errorf("%d Begins succeeded for %d items raced for by 4 senders on 2 nodes, want one each", n, len(ids))
		}
		for _, id := range ids {
			// Each node lists the items it has in flight, not the other's.
			got := append(pendingOf(t, f, onA, id), pendingOf(t, f, onB, id)...)
			if len(got) != 1 || got[0].Attempts != 1 {
				t.Errorf("lead %d as the two nodes list it: %+v; want one item, 1 attempt", id, got)
			}
		}
		ack(t, f, onA, ids)
		ack(t, f, onB, ids)
	})

	t.Run("a live node's item is left alone", func(t *testing.T) {
		l := f.add(store.NewLead{Offer: "alive"})
		read := only(t, f, onB, l.ID) // node b read it first …
		if _, err := onA.Begin(ctx, only(t, f, onA, l.ID)); err != nil {
			t.Fatal(err) // … node a began it
		}
		if _, err := onB.Begin(ctx, read); !errors.Is(err, store.ErrClaimed) {
			t.Errorf("node b's Begin of node a's item: err = %v, want ErrClaimed", err)
		}
		if items := pendingOf(t, f, onB, l.ID); len(items) != 0 {
			t.Errorf("node b lists node a's item in flight: %+v; want it left alone while node a may be sending it", items)
		}
		if items := pendingOf(t, f, onA, l.ID); len(items) != 1 || !items[0].InFlight {
			t.Errorf("node a's own item in flight: %+v", items)
		}
		ack(t, f, onA, []uint64{l.ID})
	})

	t.Run("a lead's changes in order across nodes", func(t *testing.T) {
		l := f.add(store.NewLead{Offer: "order"})
		f.edit(l.ID, store.Patch{Status: ptr(store.StatusProcessing)})
		items := pendingOf(t, f, postB, l.ID)
		if len(items) != 2 {
			t.Fatalf("postback items of a new lead moved to 2: %s", itemsText(items))
		}
		if _, err := postB.Begin(ctx, items[1]); !errors.Is(err, store.ErrClaimed) {
			t.Errorf("begin of a lead's second change while its first is pending: err = %v, want ErrClaimed", err)
		}
		first, err := postA.Begin(ctx, items[0])
		if err != nil {
			t.Fatal(err)
		}
		if got := pendingOf(t, f, postB, l.ID); len(got) != 0 {
			t.Errorf("node b lists %s while node a sends the lead's first change; want the lead's changes all behind it", itemsText(got))
		}
		if _, err := postB.Begin(ctx, items[1]); !errors.Is(err, store.ErrClaimed) {
			t.Errorf("begin of a lead's second change while its first is in flight elsewhere: err = %v, want ErrClaimed", err)
		}
		if err := postA.Ack(ctx, first); err != nil {
			t.Fatal(err)
		}
		if _, err := postB.Begin(ctx, items[1]); err != nil {
			t.Errorf("begin of the second change once the first went: %v", err)
		}
	})

	t.Run("a dead node's item is in doubt", func(t *testing.T) {
		l := f.add(store.NewLead{Offer: "dead"})
		if _, err := onA.Begin(ctx, only(t, f, onA, l.ID)); err != nil {
			t.Fatal(err)
		}
		// Node a stops here, mid-request, and never comes back.
		f.clk.Advance(expiry + time.Second)
		items := pendingOf(t, f, onB, l.ID)
		if len(items) != 1 || !items[0].InFlight || items[0].Attempts != 1 {
			t.Fatalf("node b after node a's claim expired: %+v; want the item in flight (in doubt), 1 attempt", items)
		}
		if err := onB.Hold(ctx, items[0], "in doubt"); err != nil {
			t.Fatal(err)
		}
		if err := onB.Hold(ctx, items[0], "in doubt"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a second node holding the same item: err = %v, want ErrNotFound (one hold, one report)", err)
		}
		if h := heldOf(t, f, onA, l.ID); len(h) != 1 || h[0].LastError != "in doubt" {
			t.Errorf("held: %+v", h)
		}
	})
}

func mustPeerFeed(t *testing.T, s store.Store, name string) store.Feed {
	t.Helper()
	fd, err := s.Feed(name)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// ack acknowledges the leads' pending items.
func ack(t *testing.T, f *fixture, fd store.Feed, ids []uint64) {
	t.Helper()
	for _, id := range ids {
		if err := fd.Ack(f.ctx, pendingOf(t, f, fd, id)...); err != nil {
			t.Fatal(fmt.Errorf("ack lead %d: %w", id, err))
		}
	}
}

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
// alone by the others however long it takes, and one whose node died
// (no heartbeat for Options.DeadAfter) or left is listed in flight, in
// doubt, for a person, as one node finds it after a crash. Time is the
// suite's clock, heartbeats included: nothing waits for a node to die.
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

	t.Run("a claim of a process that never joined expires", func(t *testing.T) {
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

	// From here the two are nodes of a cluster: their claims live as
	// long as their heartbeats, not a fixed expiry.
	a, ok := f.s.(store.Cluster)
	if !ok {
		t.Fatal("a store several processes share is a store.Cluster")
	}
	b2 := peer.(store.Cluster)
	beat := func(c store.Cluster, name string) {
		t.Helper()
		if err := c.Heartbeat(ctx, store.NodeBeat{Name: name, Started: t0}); err != nil {
			t.Fatal(err)
		}
	}
	for c, name := range map[store.Cluster]string{a: "node-a", b2: "node-b"} {
		if err := c.Join(ctx, store.NodeBeat{Name: name, Started: t0}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("a live node's claim is its own however long its partner takes", func(t *testing.T) {
		l := f.add(store.NewLead{Offer: "slow"})
		read := only(t, f, onB, l.ID)
		begun, err := onA.Begin(ctx, only(t, f, onA, l.ID))
		if err != nil {
			t.Fatal(err)
		}
		// Node a's partner takes ten minutes to answer; node a heartbeats
		// meanwhile, as a live node does.
		for range 120 {
			f.clk.Advance(5 * time.Second)
			beat(a, "node-a")
			beat(b2, "node-b")
			if items := pendingOf(t, f, onB, l.ID); len(items) != 0 {
				t.Fatalf("node b lists %+v after %v while node a, alive, sends it; want it left alone", items, f.clk.Now().Sub(t0))
			}
		}
		if _, err := onB.Begin(ctx, read); !errors.Is(err, store.ErrClaimed) {
			t.Errorf("node b's Begin of a live node's item: err = %v, want ErrClaimed", err)
		}
		if err := onA.Ack(ctx, begun); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a dead node's claims are taken over promptly", func(t *testing.T) {
		sent, waiting := f.add(store.NewLead{Offer: "died"}), f.add(store.NewLead{Offer: "died"})
		if _, err := onA.Begin(ctx, only(t, f, onA, sent.ID)); err != nil {
			t.Fatal(err)
		}
		beat(a, "node-a")
		// Node a is killed here, mid-request: no more heartbeats.
		f.clk.Advance(store.DefaultDeadAfter - time.Second)
		beat(b2, "node-b")
		if items := pendingOf(t, f, onB, sent.ID); len(items) != 0 {
			t.Fatalf("node b lists %+v %v after node a's last heartbeat; want it left alone until node a is dead", items, store.DefaultDeadAfter-time.Second)
		}
		f.clk.Advance(2 * time.Second)
		beat(b2, "node-b")
		items := pendingOf(t, f, onB, sent.ID)
		if len(items) != 1 || !items[0].InFlight || items[0].Attempts != 1 {
			t.Fatalf("node b %v after node a's last heartbeat: %+v; want the item in flight (in doubt: node a began it), 1 attempt",
				store.DefaultDeadAfter+time.Second, items)
		}
		if err := onB.Hold(ctx, items[0], "in doubt"); err != nil {
			t.Fatal(err)
		}
		// The item node a never began carries no claim: a survivor sends it.
		it := only(t, f, onB, waiting.ID)
		if it.InFlight || it.Attempts != 0 {
			t.Errorf("the dead node's item not begun: %+v; want pending, no attempt", it)
		}
		if _, err := onB.Begin(ctx, it); err != nil {
			t.Errorf("node b's Begin of an item the dead node never began: %v", err)
		}
		ack(t, f, onB, []uint64{waiting.ID})
	})

	t.Run("a node restarted or left gives up its claims at once", func(t *testing.T) {
		l := f.add(store.NewLead{Offer: "restart"})
		if _, err := onB.Begin(ctx, only(t, f, onB, l.ID)); err != nil {
			t.Fatal(err)
		}
		// Node b is killed (its connections go with it, and the hold on
		// its name) and started again under its name: the claims of the
		// process before are its own, and in doubt.
		peer.Close()
		again := b.Peer(t, f.s, peerOpts)
		if err := again.(store.Cluster).Join(ctx, store.NodeBeat{Name: "node-b", Started: f.clk.Now()}); err != nil {
			t.Fatal(err)
		}
		onB2 := mustPeerFeed(t, again, "send")
		if items := pendingOf(t, f, onB2, l.ID); len(items) != 1 || !items[0].InFlight {
			t.Errorf("node b restarted lists %+v; want its old process's item in flight, in doubt", items)
		}
		if items := pendingOf(t, f, onA, l.ID); len(items) != 0 {
			t.Errorf("node a lists %+v while node b, restarted, is alive; want it left to node b", items)
		}
		// It stops cleanly (with the item still in flight, as a process
		// that gave up on a partner): node a takes it at once.
		if err := again.(store.Cluster).Leave(ctx, "node-b"); err != nil {
			t.Fatal(err)
		}
		if items := pendingOf(t, f, onA, l.ID); len(items) != 1 || !items[0].InFlight {
			t.Errorf("node a once node b left: %+v; want the item in flight, in doubt", items)
		}
		ack(t, f, onA, []uint64{l.ID})
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

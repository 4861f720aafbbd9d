package console

import (
	"context"
	"os"
	"testing"
	"time"

	"leadhost/host/hosttest"
	"leadhost/store"
	"leadhost/store/postgres"
	"leadhost/store/postgres/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// On a shared database, a node's overview counts the webhooks and
// errors the other nodes journaled, and its own only once (those come
// as they are written, not from the database).
func TestActivityFollowsOtherNodes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := pgtest.URL(t)
	nodeA, nodeB := joined(t, url, "a"), joined(t, url, "b")
	var seen activity // node b's
	go seen.follow(ctx, nodeB, func() string { return "b" }, time.Now().Add(-time.Minute), 20*time.Millisecond, 0)

	now := time.Now()
	entry := func(status store.JournalStatus) store.JournalEntry {
		return store.JournalEntry{At: now, Offer: "shop", Kind: store.KindHook, Status: status}
	}
	nodeA.Record(entry(store.JournalOK), entry(store.JournalOK), entry(store.JournalError))
	nodeB.Record(entry(store.JournalOK)) // b's own: counted by Observe, not here
	hourOf := func() hourCount {
		hours, _ := seen.hourly("shop", now)
		return hours[hoursShown-1]
	}
	hosttest.Eventually(t, "node b counting node a's three webhooks", func() bool { return hourOf().Calls >= 3 })
	time.Sleep(100 * time.Millisecond) // a few more ticks: nothing counted twice
	if got := hourOf(); got.Calls != 3 || got.Errors != 1 {
		t.Errorf("node b's count of the hour: %d calls, %d errors; want 3 and 1 (node a's only)", got.Calls, got.Errors)
	}
}

// An entry another node journaled lands in the database when it can — a
// moment after its time, or minutes after when the database was away and
// the node's journal spool catches up, or with that node's clock behind
// this one's — and is counted all the same. follow windows the entries by
// their ids, the writing node's clock at the webhook, against this node's
// clock less 10 s: one that lands after its window passed is never counted.
func TestActivityCountsAnEntryThatLandsLate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := pgtest.URL(t)
	nodeA, nodeB := joined(t, url, "late-a"), joined(t, url, "late-b")
	var seen activity // node b's
	go seen.follow(ctx, nodeB, func() string { return "late-b" }, time.Now(), 20*time.Millisecond, followLag)

	// Node a's webhook of 30 s ago, written now (its spool catching up).
	at := time.Now().Add(-30 * time.Second)
	nodeA.Record(store.JournalEntry{At: at, Offer: "late", Kind: store.KindHook, Status: store.JournalOK})
	hosttest.Eventually(t, "node b counting node a's webhook that landed late", func() bool {
		hours, _ := seen.hourly("late", at)
		return hours[hoursShown-1].Calls == 1
	})
}

// joined is a store on the database at url joined as node, closed when
// the test ends: one node of a cluster.
func joined(t *testing.T, url, node string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Join(context.Background(), store.NodeBeat{Name: node, Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return s
}

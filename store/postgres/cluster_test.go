package postgres

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"leadhost/store"
	"leadhost/store/postgres/pgtest"
)

// Two nodes on one database: each is listed with what it runs, a lease
// is held by one at a time and taken over once it expires, and the
// journal says which node wrote an entry.
func TestClusterNodesAndLeases(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	a, b := openAt(t, url, store.Options{}), openAt(t, url, store.Options{})
	started := time.Now().UTC().Truncate(time.Second)
	if err := a.Join(ctx, store.NodeBeat{Name: "a", Binary: "v1", Started: started, Listen: "10.0.0.1:8080", Offers: map[string]string{"acme": "h1"}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Join(ctx, store.NodeBeat{Name: "b", Binary: "v1", Started: started, Listen: "10.0.0.2:8080", Offers: map[string]string{"acme": "h2"}}); err != nil {
		t.Fatal(err)
	}
	nodes, err := a.Nodes(ctx, time.Minute)
	if err != nil || len(nodes) != 2 || nodes[0].Name != "a" || nodes[1].Offers["acme"] != "h2" || nodes[0].Listen != "10.0.0.1:8080" {
		t.Fatalf("nodes %+v, %v", nodes, err)
	}
	if !nodes[1].FirstSeen["acme"].After(nodes[0].FirstSeen["acme"]) {
		t.Errorf("version h2 first seen %v, h1 %v: want h2 (joined later) newer", nodes[1].FirstSeen, nodes[0].FirstSeen)
	}

	take := func(s *Store, node string, ttl time.Duration) store.LeaseGrant {
		t.Helper()
		g, err := s.TakeLease(ctx, store.LeaseRequest{Name: "check/acme", Node: node, What: "processing", TTL: ttl, Schedule: "check/acme/processing", Gap: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	if g := take(a, "a", 200*time.Millisecond); !g.Taken {
		t.Fatalf("a free lease not taken: %+v", g)
	}
	if g := take(b, "b", time.Minute); g.Taken || g.Holder != "a" || g.What != "processing" {
		t.Fatalf("a held lease: %+v, want held by a", g)
	}
	time.Sleep(300 * time.Millisecond) // a dies: its lease expires
	if err := a.RenewLease(ctx, "check/acme", "a", 200*time.Millisecond); err != nil {
		// Expired but not yet taken: a renewal still holds it.
		t.Fatalf("renew an expired lease nobody took: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	if g := take(b, "b", time.Minute); !g.Taken {
		t.Fatalf("an expired lease not taken over: %+v", g)
	}
	if err := a.RenewLease(ctx, "check/acme", "a", time.Minute); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("renew a lease taken over: %v, want ErrLeaseLost", err)
	}
	if ls, err := a.Leases(ctx); err != nil || len(ls) != 1 || ls[0].Node != "b" {
		t.Errorf("leases %+v, %v: want one, b's", ls, err)
	}
	if err := b.ReleaseLease(ctx, "check/acme", "b", "check/acme/processing"); err != nil {
		t.Fatal(err)
	}
	// The run just ended: the schedule is not due again for an hour, on
	// any node.
	if g := take(a, "a", time.Minute); g.Taken || g.Holder != "" || g.Wait < 59*time.Minute {
		t.Errorf("right after a run: %+v, want not taken, a wait of about an hour", g)
	}
	if ls, _ := a.Leases(ctx); len(ls) != 0 {
		t.Errorf("leases after release %+v: want none (the refused take rolled back)", ls)
	}

	b.Record(store.JournalEntry{Kind: store.KindCheck, Status: store.JournalOK, Summary: "from b"})
	if err := b.Leave(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	b.Close()
	list, _, err := a.JournalList(ctx, store.JournalQuery{Limit: 10})
	if err != nil || len(list) != 1 || list[0].Node != "b" {
		t.Errorf("journal %+v, %v: want b's entry with node b", list, err)
	}
	nodes, _ = a.Nodes(ctx, time.Minute)
	if len(nodes) != 2 || !nodes[1].Left {
		t.Errorf("after b left: %+v", nodes)
	}
}

// Nodes racing for a free lease: exactly one gets it.
func TestLeaseTakenByOne(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	s := openAt(t, url, store.Options{})
	for round := range 20 {
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			won []string
		)
		for _, node := range []string{"a", "b", "c", "d"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g, err := s.TakeLease(ctx, store.LeaseRequest{Name: "check/x", Node: node, TTL: time.Minute})
				if err != nil {
					t.Error(err)
				}
				if g.Taken {
					mu.Lock()
					won = append(won, node)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(won) != 1 {
			t.Fatalf("round %d: taken by %v, want one", round, won)
		}
		if err := s.ReleaseLease(ctx, "check/x", won[0], ""); err != nil {
			t.Fatal(err)
		}
	}
}

// Nodes writing the journal at the same moments keep every entry: their
// ids never meet.
func TestJournalIDsAreUniqueAcrossNodes(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	at := time.Now().UTC().Truncate(time.Microsecond)
	const each = 2000
	var wg sync.WaitGroup
	for _, node := range []string{"a", "b", "c"} {
		s := openAt(t, url, store.Options{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// The same few microseconds on every node.
				s.Record(store.JournalEntry{At: at.Add(time.Duration(i%5) * time.Microsecond), Kind: store.KindHook, Status: store.JournalOK, Summary: node})
			}
			if err := s.RecordWritten(store.JournalEntry{At: at, Kind: store.KindHook, Status: store.JournalOK, Summary: node}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	s := openAt(t, url, store.Options{})
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM journal`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3*(each+1) {
		t.Errorf("%d entries kept of %d written by three nodes", n, 3*(each+1))
	}
}

// A node's name is one process's at a time: a second store joining under
// it waits until the first leaves or its connection goes (a kill), and
// another name joins at once.
func TestNodeNameHeldByOneProcess(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	first, second, other := openAt(t, url, store.Options{}), openAt(t, url, store.Options{}), openAt(t, url, store.Options{})
	if err := first.Join(ctx, store.NodeBeat{Name: "web1", Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := other.Join(ctx, store.NodeBeat{Name: "web2", Started: time.Now()}); err != nil {
		t.Fatalf("another name: %v", err)
	}
	joined := make(chan error, 1)
	go func() { joined <- second.Join(ctx, store.NodeBeat{Name: "web1", Started: time.Now()}) }()
	select {
	case err := <-joined:
		t.Fatalf("a second process joined under a held name (err %v)", err)
	case <-time.After(500 * time.Millisecond):
	}
	if err := first.Leave(ctx, "web1"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-joined:
		if err != nil {
			t.Fatalf("joining once the first left: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second process did not get the name after the first left")
	}
	// Now held by second; its store closing (a kill closes its
	// connections too) frees it for a third.
	third := openAt(t, url, store.Options{})
	go func() { joined <- third.Join(ctx, store.NodeBeat{Name: "web1", Started: time.Now()}) }()
	select {
	case err := <-joined:
		t.Fatalf("a third process joined under a held name (err %v)", err)
	case <-time.After(500 * time.Millisecond):
	}
	second.Close()
	select {
	case err := <-joined:
		if err != nil {
			t.Fatalf("joining once the holder closed: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the name was not freed when its holder's connections went")
	}
}

// A node whose name lock's connection went (a PostgreSQL restart, an
// idle_session_timeout, a firewall cutting an idle connection, an admin's
// pg_terminate_backend) finds out at its next heartbeat: it takes the name
// again or says so. Nothing watched the connection: the heartbeat went on
// saying nothing while a second process joined under the same name at
// once, so two processes claimed as one node — what the lock is for.
func TestNodeNameLockLostIsNoticed(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	first, second := openAt(t, url, store.Options{}), openAt(t, url, store.Options{})
	beat := store.NodeBeat{Name: "lost-lock", Started: time.Now()}
	if err := first.Join(ctx, beat); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var cut int
	if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND classid = $1 AND objid = hashtext($2)::oid AND objsubid = 2`,
		nameLockClass, beat.Name).Scan(&cut); err != nil || cut != 1 {
		t.Fatalf("cutting the lock's connection: %d cut, %v", cut, err)
	}
	time.Sleep(200 * time.Millisecond)
	beatErr := first.Heartbeat(ctx, beat)
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := second.Join(short, beat); err == nil && beatErr == nil {
		t.Errorf("the first process's lock connection was cut: its heartbeat said nothing, and a second process joined under %q at once", beat.Name)
	}
}

// Closing a store whose Join waits for a held name ends the wait: Close
// returns at once and Join says the store closed. holdName waited on its
// ctx alone while holding the lock's mutex, which Close's releaseName
// takes, so Close hung until the holder left or the minute ran out, and
// then the name was taken (a new connection) only to be dropped.
func TestCloseEndsAJoinWaitingForItsName(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	holder := openAt(t, url, store.Options{})
	if err := holder.Join(ctx, store.NodeBeat{Name: "close-while-waiting", Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	waiter, err := Open(ctx, url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	joined := make(chan error, 1)
	go func() {
		joined <- waiter.Join(ctx, store.NodeBeat{Name: "close-while-waiting", Started: time.Now()})
	}()
	time.Sleep(500 * time.Millisecond) // waiting for the holder
	closed := make(chan struct{})
	go func() { waiter.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
		t.Fatal("Close did not return while Join waited for the name")
	}
	select {
	case err := <-joined:
		if err == nil {
			t.Error("Join succeeded on a closed store")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Join still waits for the name after Close")
	}
}

// The name lock's connection sits idle by design: a server (or database,
// or role) with idle_session_timeout set ends such a session, and with it
// the lock, while the node runs on believing it holds its name. The lock's
// session turns that timeout off for itself, as it sets its keepalives.
func TestNodeNameOutlastsIdleSessionTimeout(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	s := openAt(t, url, store.Options{})
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET idle_session_timeout = ''500ms''', current_database()); END $$`); err != nil {
		t.Skipf("idle_session_timeout (PostgreSQL 14 on): %v", err)
	}
	if err := s.Join(ctx, store.NodeBeat{Name: "idle-lock", Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	held := func() int {
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND classid = $1 AND objid = hashtext($2)::oid AND objsubid = 2`, nameLockClass, "idle-lock").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := held(); n != 1 {
		t.Fatalf("just after Join the name's lock is held by %d sessions", n)
	}
	time.Sleep(1500 * time.Millisecond)
	if held := held(); held != 1 {
		t.Errorf("with idle_session_timeout = 500ms, 1.5 s after Join the name's lock is held by %d sessions, want 1: the idle lock session was ended and the name is free for a second process", held)
	}
}

// A node claiming an item another node's transaction holds this moment
// (claiming it, or writing its outcome) does not wait for it: the row is
// taken FOR UPDATE SKIP LOCKED, and the item is that node's (ErrClaimed).
func TestBeginSkipsAnItemLockedElsewhere(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	s := openAt(t, url, store.Options{Feeds: []string{"send"}})
	l, _, err := s.Add(ctx, store.NewLead{Offer: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	fd, err := s.Feed("send")
	if err != nil {
		t.Fatal(err)
	}
	items, err := fd.Pending(ctx, 10)
	if err != nil || len(items) != 1 || items[0].LeadID != l.ID {
		t.Fatalf("the lead's send item: %+v, %v", items, err)
	}
	other, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM feed_items WHERE lead_id = $1 FOR UPDATE`, int64(l.ID)); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := fd.Begin(short, items[0]); !errors.Is(err, store.ErrClaimed) {
		t.Errorf("Begin of an item locked by another transaction: %v, want ErrClaimed at once", err)
	}
	tx.Rollback(ctx)
	if _, err := fd.Begin(ctx, items[0]); err != nil {
		t.Errorf("Begin once the other transaction ended: %v", err)
	}
}

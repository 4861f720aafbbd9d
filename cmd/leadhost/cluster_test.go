package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"leadhost/host/hosttest"
	"leadhost/store"
	"leadhost/store/postgres"
	"leadhost/store/postgres/pgtest"
)

var clusterLong = flag.Bool("cluster-long", false, "TestClusterKill: a 20 s burst of webhooks instead of until a second after the kill")

// clusterChildEnv, set, makes the test binary run one cluster node:
// `leadhost serve` on the PostgreSQL URL, scripts and data folder it
// holds (tab-separated), with a short heartbeat and check lease.
const clusterChildEnv = "LEADHOST_CLUSTER_CHILD"

// clusterHeartbeat is the nodes' heartbeat: a node silent for three is
// dead, and the survivors take its sends in flight for in doubt.
const clusterHeartbeat = 300 * time.Millisecond

// clusterOffer takes webhooks (the order is the idempotency key) and
// sends each lead to the partner, whose answer carries the order's id,
// four at a time per node: the node killed has several in flight.
const clusterOffer = `[hook]
token = "c"

[send]
url = "%s/order"
body = "form"
format = "json"
fields = { lead = "{id}", phone = "{phone}" }
concurrency = 4
`

// clusterLeaseTTL is the nodes' check lease: a run's offer is held this
// long after its node's last renewal (DefaultLeaseTTL, 30 s, in
// production).
const clusterLeaseTTL = time.Second

// clusterCheckOffer is an offer whose processing leads are asked about
// ten to a request; each answer is one batch: its leads are rejected with
// the request's number in their comment, so that a batch half applied
// shows.
const clusterCheckOffer = `[check]
url = "%s/status"
format = "json"
batch = 10
fields = { ids = "{idsl}" }
processing = { every = "1m" }
accepted = { enabled = false }
`

const clusterCheckLua = `for _, id in ipairs(data.ids) do
  core.lead.edit(id, { status = 5, comment = "b" .. data.batch })
end
`

// TestClusterKill is the acceptance test of cluster mode (issue 15):
// three `leadhost serve` processes on one PostgreSQL database take
// webhooks spread over them and send each lead to a partner that counts
// the orders per lead, while one of them runs an offer's status check.
// That node, the one holding the check's lease, is killed with SIGKILL
// in the middle of the send burst and of its check run: as it commits a
// batch, with a send of its own in flight. Then every lead a webhook was
// answered 200 for is in the database with its fields, no lead reached
// the partner twice, the two survivors drain the outbox (every lead is
// sent, or held for a person because the killed node may have sent it:
// in doubt, as one node after a crash), the check schedule goes on on a
// survivor within the lease's life and a tick, every batch is in whole
// or not at all, and the check finishes every lead. The long form:
//
//	go test ./cmd/leadhost -run TestClusterKill -v -cluster-long
func TestClusterKill(t *testing.T) {
	if spec := os.Getenv(clusterChildEnv); spec != "" {
		tuneRuntime(os.Getenv) // as the binary runs
		os.Exit(clusterNode(spec))
	}
	t.Parallel()
	dbURL := pgtest.URL(t)
	ctx := context.Background()
	burst, clients := 1500*time.Millisecond, 4
	if *clusterLong {
		burst = 20 * time.Second
	}
	const checkLeads, killAt = 200, 4 // the holder dies committing the 4th of 20 batches

	// The leads the check asks about are there before the nodes start.
	seed, err := postgres.Open(ctx, dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range checkLeads {
		if _, _, err := seed.Add(ctx, store.NewLead{Offer: "crm", Status: store.StatusProcessing, Ext: fmt.Sprintf("X%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	seed.Close()

	var (
		mu       sync.Mutex
		orders   = map[string]int{}   // lead id → orders the partner took
		asked    = map[int][]string{} // status request number → the lead ids it asked about
		took     atomic.Int64
		inFlight atomic.Int64 // orders the partner is answering now
		requests atomic.Int64 // status requests
		// The kill: at the killAt-th status request the partner has every
		// node's next send wait (stalled counts them), answers once the
		// test says (answerNow), and tells it (answered) so that the kill
		// lands while the node commits the batch.
		stall                         atomic.Bool
		stalled                       atomic.Int64
		reachedK, answerNow, answered = make(chan struct{}), make(chan struct{}), make(chan struct{})
		killedCh, resumed             = make(chan struct{}), make(chan struct{})
		afterKill                     atomic.Bool
		resumeOnce                    sync.Once
		victimName, resumedBy         atomic.Value
		watch                         = &leaseWatch{url: dbURL}
	)
	partner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/status" {
			n := int(requests.Add(1))
			ids := strings.Split(r.URL.Query().Get("ids"), ",")
			mu.Lock()
			asked[n] = ids
			mu.Unlock()
			answer := fmt.Sprintf(`{"batch": %d, "ids": [%s]}`, n, strings.Join(ids, ","))
			switch {
			case n == killAt:
				close(reachedK)
				<-answerNow
				w.Header().Set("Content-Length", strconv.Itoa(len(answer))) // whole once flushed: the node goes on to commit it
				fmt.Fprint(w, answer)
				w.(http.Flusher).Flush()
				close(answered)
				<-killedCh
				return
			case afterKill.Load():
				// A request the killed node sent before it died may still
				// come in; a survivor's comes under the lease it took.
				if holder := watch.holder(t); holder != victimName.Load() {
					resumeOnce.Do(func() { resumedBy.Store(holder); close(resumed) })
				}
			}
			time.Sleep(20 * time.Millisecond) // a run takes a while
			fmt.Fprint(w, answer)
			return
		}
		r.ParseForm()
		lead := r.PostForm.Get("lead")
		mu.Lock()
		orders[lead]++
		mu.Unlock()
		took.Add(1)
		inFlight.Add(1)
		defer inFlight.Add(-1)
		if stall.Load() {
			stalled.Add(1)
			select {
			case <-killedCh:
			case <-time.After(5 * time.Second):
			}
		}
		time.Sleep(5 * time.Millisecond) // a partner takes a moment: sends are in flight when the kill comes
		fmt.Fprintf(w, `{"id":"P%s"}`, lead)
	}))
	defer partner.Close()
	defer watch.close()
	scripts := filepath.Join(t.TempDir(), "scripts")
	os.MkdirAll(filepath.Join(scripts, "shop"), 0o755)
	os.WriteFile(filepath.Join(scripts, "shop", "offer.toml"), []byte(fmt.Sprintf(clusterOffer, partner.URL)), 0o644)
	os.WriteFile(filepath.Join(scripts, "shop", "hook.lua"), []byte(benchHook), 0o644)
	os.WriteFile(filepath.Join(scripts, "shop", "send.lua"), []byte("return data.id\n"), 0o644)
	os.MkdirAll(filepath.Join(scripts, "crm"), 0o755)
	os.WriteFile(filepath.Join(scripts, "crm", "offer.toml"), []byte(fmt.Sprintf(clusterCheckOffer, partner.URL)), 0o644)
	os.WriteFile(filepath.Join(scripts, "crm", "check.lua"), []byte(clusterCheckLua), 0o644)

	nodes := make([]*serveChild, 3)
	for i := range nodes {
		nodes[i] = startClusterNode(t, dbURL, scripts, filepath.Join(t.TempDir(), "data"))
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	var (
		ackMu  sync.Mutex
		all    []acked
		killed atomic.Int64 // the killed node's index + 1
		client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
	)
	stop := hosttest.Load(clients, func(c, i int) bool {
		n := (c + i) % len(nodes) // round robin
		if k := int(killed.Load()) - 1; n == k {
			n = (k + 1 + i%2) % len(nodes) // the load balancer took the dead node out
		}
		a := acked{phone: fmt.Sprintf("7%03d%07d", c, i), name: fmt.Sprintf("N%d-%d", c, i), email: fmt.Sprintf("e%d.%d@example.com", c, i)}
		id, err := ackedLead(client, fmt.Sprintf("http://%s/hook/shop?token=c&order=o%d-%d&phone=%s&name=%s&email=%s",
			nodes[n].addr, c, i, a.phone, a.name, url.QueryEscape(a.email)))
		if err != nil {
			return true // killed, or not acknowledged
		}
		a.id = id
		ackMu.Lock()
		all = append(all, a)
		ackMu.Unlock()
		time.Sleep(10 * time.Millisecond) // a rate the nodes' sends keep up with
		return true
	})
	begun := time.Now()

	// The kill. The check's first scheduled run starts on one node within
	// a tenth of its minute; when it asks its killAt-th batch, the node
	// holding the lease is found, every node is let get a send stuck at
	// the partner (the burst goes on meanwhile), the answer goes, and the
	// node is killed as it commits the batch.
	select {
	case <-reachedK:
	case <-time.After(30 * time.Second):
		t.Fatalf("no check run asked its %dth batch within 30 s (%d requests)", killAt, requests.Load())
	}
	victim := leaseHolder(t, conn, nodes)
	victimName.Store(nodeName(t, conn, nodes[victim]))
	reachedAt := time.Since(begun)
	stall.Store(true)
	for wait := time.Now().Add(3 * time.Second); stalled.Load() < int64(len(nodes)) && time.Now().Before(wait); {
		time.Sleep(time.Millisecond)
	}
	t.Logf("batch %d asked %v after the burst began; %d sends stuck at the partner %v later", killAt, reachedAt.Round(time.Millisecond), stalled.Load(), (time.Since(begun) - reachedAt).Round(time.Millisecond))
	sentBefore := took.Load()
	close(answerNow)
	<-answered
	// A few milliseconds after the answer, so that over runs the kill
	// lands before, in and after the batch's commit.
	time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
	nodes[victim].kill()
	killedAt := time.Now()
	afterKill.Store(true)
	killed.Store(int64(victim) + 1)
	close(killedCh)
	loadEnded := make(chan struct{})
	go func() {
		// The burst goes on a second after the kill, on the survivors.
		time.Sleep(max(time.Second, time.Until(begun.Add(burst))))
		stop()
		close(loadEnded)
	}()

	// The schedule goes on on a survivor once the lease expires: the
	// killed run recorded no end, so its schedule is still due there.
	var resumedAfter time.Duration
	select {
	case <-resumed:
		resumedAfter = time.Since(killedAt)
	case <-time.After(30 * time.Second):
		t.Fatalf("the check did not go on within 30 s of its node's death")
	}
	if limit := clusterLeaseTTL + time.Second + 3*time.Second; resumedAfter > limit {
		t.Errorf("the check went on %v after its node's death; want within the lease (%v) and a tick (1s), %v with slack", resumedAfter, clusterLeaseTTL, limit)
	}
	<-loadEnded
	if len(all) == 0 || sentBefore == 0 {
		t.Fatalf("%d webhooks acknowledged, %d sends before the kill: the test proves nothing", len(all), sentBefore)
	}

	// The survivors drain the outbox: once the killed node misses three
	// heartbeats, what it had in flight is held, and the rest goes out;
	// and they finish the check.
	var pending, unchecked int
	budget := 3*clusterHeartbeat + 15*time.Second + 4*burst
	drainFrom := time.Now()
	drainBy := drainFrom.Add(budget)
	for {
		if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM feed_items WHERE feed = 'send' AND NOT held),
				(SELECT count(*) FROM leads WHERE offer = 'crm' AND status <> 5)`).Scan(&pending, &unchecked); err != nil {
			t.Fatal(err)
		}
		if pending == 0 && unchecked == 0 || time.Now().After(drainBy) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("outbox drained and check finished %v after the burst", time.Since(drainFrom).Round(time.Millisecond))
	if pending != 0 {
		t.Errorf("%d sends still pending after the survivors had %v to drain the outbox", pending, budget)
	}
	if unchecked != 0 {
		t.Errorf("%d of %d leads not checked after the survivors had %v to finish the check", unchecked, checkLeads, budget)
	}
	held := map[string]bool{}
	rows, err := conn.Query(ctx, `SELECT lead_id::text, last_error FROM feed_items WHERE feed = 'send' AND held`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, why string
		rows.Scan(&id, &why)
		held[id] = true
		if !strings.HasPrefix(why, "in doubt") {
			t.Errorf("lead %s held for %q; want in doubt only (the killed node's sends)", id, why)
		}
	}
	rows.Close()

	// Every acknowledged lead is there with its fields, sent once or held.
	mu.Lock()
	defer mu.Unlock()
	var sent int
	for _, a := range all {
		var phone, name, email, ext string
		var status int
		err := conn.QueryRow(ctx, `SELECT fields->>'phone', fields->>'name', fields->>'email', coalesce(ext, ''), status FROM leads WHERE id = $1`,
			int64(a.id)).Scan(&phone, &name, &email, &ext, &status)
		if err != nil {
			t.Errorf("acknowledged lead %d: %v", a.id, err)
			continue
		}
		if phone != a.phone || name != a.name || email != a.email {
			t.Errorf("lead %d: phone %s name %s email %s, want %s %s %s", a.id, phone, name, email, a.phone, a.name, a.email)
		}
		id := fmt.Sprint(a.id)
		switch n := orders[id]; {
		case n > 1:
			t.Errorf("lead %d reached the partner %d times", a.id, n)
		case held[id]:
			// In doubt: the killed node began it; the partner has it at most once.
		case n == 1 && status == int(store.StatusProcessing) && ext == "P"+id:
			sent++
		default:
			t.Errorf("lead %d: status %d, ext %q, %d orders, not held: neither sent nor held for a person", a.id, status, ext, n)
		}
	}
	for id, n := range orders {
		if n > 1 {
			t.Errorf("lead %s reached the partner %d times", id, n)
		}
	}

	// Each batch is in whole or not at all: the leads a request asked
	// about carry its number all, or none (a batch lost with its node is
	// asked again by the survivor, under a later number).
	comments := map[string]string{}
	rows, err = conn.Query(ctx, `SELECT id::text, comment FROM leads WHERE offer = 'crm'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, comment string
		rows.Scan(&id, &comment)
		comments[id] = comment
	}
	rows.Close()
	var whole, none int
	for n, ids := range asked {
		in := 0
		for _, id := range ids {
			if comments[id] == fmt.Sprintf("b%d", n) {
				in++
			}
		}
		switch in {
		case len(ids):
			whole++
		case 0:
			none++
		default:
			t.Errorf("status request %d: %d of its %d leads edited by its answer; want all or none (one batch)", n, in, len(ids))
		}
	}
	t.Logf("%d webhooks acknowledged over 3 nodes, node %d killed after %d sends, mid check run (batch %d's commit %s); %d leads sent once, %d held in doubt, partner took %d orders; the check went on on node %v %v after the kill, %d batches applied, %d not",
		len(all), victim+1, sentBefore, killAt, map[bool]string{true: "landed", false: "lost"}[comments[asked[killAt][0]] == fmt.Sprintf("b%d", killAt)],
		sent, len(held), took.Load(), resumedBy.Load(), resumedAfter.Round(time.Millisecond), whole, none)

	// The database holds together: every lead matches its indexes and
	// history.
	s, err := postgres.Open(ctx, dbURL, store.Options{Feeds: []string{"send", "postback"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	probs, err := s.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		t.Errorf("verify: %s", p)
	}
}

// leaseHolder is the index of the node holding the crm offer's check lease.
func leaseHolder(t *testing.T, conn *pgx.Conn, nodes []*serveChild) int {
	t.Helper()
	name := leaseHolderName(t, conn, false)
	for i, n := range nodes {
		if nodeName(t, conn, n) == name {
			return i
		}
	}
	t.Fatalf("the check's lease is held by %q, none of the nodes started", name)
	return -1
}

// leaseHolderName is the node holding the crm offer's check lease ("":
// nobody), or with expired the last to take it, expired or not.
func leaseHolderName(t *testing.T, conn *pgx.Conn, expired bool) string {
	t.Helper()
	var name string
	err := conn.QueryRow(context.Background(), `SELECT node FROM leases WHERE name = 'check/crm' AND ($1 OR expires > now())`, expired).Scan(&name)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		t.Error(err)
	}
	return name
}

// leaseWatch tells the partner's handlers who holds the check's lease,
// on a connection of its own.
type leaseWatch struct {
	url string
	mu  sync.Mutex
	c   *pgx.Conn
}

// holder is the node that last took the lease, expired or not.
func (w *leaseWatch) holder(t *testing.T) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.c == nil {
		c, err := pgx.Connect(context.Background(), w.url)
		if err != nil {
			t.Error(err)
			return ""
		}
		w.c = c
	}
	return leaseHolderName(t, w.c, true)
}

func (w *leaseWatch) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.c != nil {
		w.c.Close(context.Background())
	}
}

// nodeName is the name a child serve registered under.
func nodeName(t *testing.T, conn *pgx.Conn, n *serveChild) string {
	t.Helper()
	var name string
	if err := conn.QueryRow(context.Background(), `SELECT name FROM nodes WHERE listen = $1`, n.addr).Scan(&name); err != nil {
		t.Fatalf("node at %s: %v", n.addr, err)
	}
	return name
}

// startClusterNode starts a node (a child of TestClusterKill) and waits
// for its address; the node is stopped (SIGTERM, then waited for) when
// the test ends.
func startClusterNode(t testing.TB, dbURL, scripts, data string) *serveChild {
	t.Helper()
	p := startServeChild(t, "TestClusterKill", clusterChildEnv+"="+strings.Join([]string{dbURL, scripts, data}, "\t"))
	t.Cleanup(func() {
		p.stop(20 * time.Second)
		if t.Failed() {
			t.Logf("node %s said:\n%s", p.addr, lastLinesOf(p.stderr.String(), 30))
		}
	})
	return p
}

// clusterNode is a node's process: serve on the spec's database until
// SIGTERM.
func clusterNode(spec string) int {
	parts := strings.Split(spec, "\t")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	h, err := startHost(ctx, hostConfig{listen: "127.0.0.1:0", databaseURL: parts[0], scripts: parts[1], data: parts[2],
		sendPoll: 50 * time.Millisecond, heartbeat: clusterHeartbeat, leaseTTL: clusterLeaseTTL,
		log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		fmt.Fprintf(os.Stderr, "leadhost: %v\n", err)
		return exitError
	}
	fmt.Printf("leadhost listening on %s\n", h.addr)
	h.wait()
	return exitOK
}

// lastLinesOf is the end of s, n lines at most.
func lastLinesOf(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"leadhost/store"
	"leadhost/store/postgres"
	"leadhost/store/postgres/pgtest"
)

var clusterLong = flag.Bool("cluster-long", false, "TestClusterKill: a 20 s burst of webhooks instead of 1.5 s")

// clusterChildEnv, set, makes the test binary run one cluster node:
// `leadhost serve` on the PostgreSQL URL, scripts and data folder it
// holds (tab-separated), with a short claim expiry.
const clusterChildEnv = "LEADHOST_CLUSTER_CHILD"

// clusterClaimExpiry is the nodes' claim expiry: how soon the survivors
// take the killed node's sends in flight for in doubt.
const clusterClaimExpiry = 2 * time.Second

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

// TestClusterKill is the acceptance test of cluster mode's outbox
// (issue 15): three `leadhost serve` processes on one PostgreSQL
// database take webhooks spread over them, and send each lead to a
// partner that counts the orders per lead. One node is killed with
// SIGKILL in the middle of the send burst. Then every lead a webhook was
// answered 200 for is in the database with its fields, no lead reached
// the partner twice, and the two survivors drain the outbox: every lead
// is sent, or held for a person because the killed node may have sent it
// (in doubt, as one node after a crash). The long form:
//
//	go test ./cmd/leadhost -run TestClusterKill -v -cluster-long
func TestClusterKill(t *testing.T) {
	if spec := os.Getenv(clusterChildEnv); spec != "" {
		os.Exit(clusterNode(spec))
	}
	t.Parallel()
	dbURL := pgtest.URL(t)
	burst, clients := 1500*time.Millisecond, 4
	if *clusterLong {
		burst = 20 * time.Second
	}

	var (
		mu       sync.Mutex
		orders   = map[string]int{} // lead id → orders the partner took
		took     atomic.Int64
		inFlight atomic.Int64 // orders the partner is answering now
	)
	partner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		lead := r.PostForm.Get("lead")
		mu.Lock()
		orders[lead]++
		mu.Unlock()
		took.Add(1)
		inFlight.Add(1)
		defer inFlight.Add(-1)
		time.Sleep(5 * time.Millisecond) // a partner takes a moment: sends are in flight when the kill comes
		fmt.Fprintf(w, `{"id":"P%s"}`, lead)
	}))
	defer partner.Close()
	scripts := filepath.Join(t.TempDir(), "scripts")
	os.MkdirAll(filepath.Join(scripts, "shop"), 0o755)
	os.WriteFile(filepath.Join(scripts, "shop", "offer.toml"), []byte(fmt.Sprintf(clusterOffer, partner.URL)), 0o644)
	os.WriteFile(filepath.Join(scripts, "shop", "hook.lua"), []byte(benchHook), 0o644)
	os.WriteFile(filepath.Join(scripts, "shop", "send.lua"), []byte("return data.id\n"), 0o644)

	nodes := make([]*serveChild, 3)
	for i := range nodes {
		nodes[i] = startClusterNode(t, dbURL, scripts, filepath.Join(t.TempDir(), "data"))
	}

	var (
		ackMu  sync.Mutex
		all    []acked
		killed atomic.Bool
		wg     sync.WaitGroup
		stop   = make(chan struct{})
		client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
	)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				n := (c + i) % len(nodes) // round robin
				if n == 0 && killed.Load() {
					n = 1 + i%2 // the load balancer took the dead node out
				}
				a := acked{phone: fmt.Sprintf("7%03d%07d", c, i), name: fmt.Sprintf("N%d-%d", c, i), email: fmt.Sprintf("e%d.%d@example.com", c, i)}
				resp, err := client.Get(fmt.Sprintf("http://%s/hook/shop?token=c&order=o%d-%d&phone=%s&name=%s&email=%s",
					nodes[n].addr, c, i, a.phone, a.name, url.QueryEscape(a.email)))
				if err != nil {
					continue // killed: not acknowledged
				}
				var answer struct {
					Lead uint64 `json:"lead"`
				}
				err = json.NewDecoder(resp.Body).Decode(&answer)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || err != nil || answer.Lead == 0 {
					continue
				}
				a.id = answer.Lead
				ackMu.Lock()
				all = append(all, a)
				ackMu.Unlock()
				time.Sleep(10 * time.Millisecond) // a rate the nodes' sends keep up with
			}
		}()
	}
	// The kill comes in the middle of the burst, at a moment every node
	// has a send in flight (each sends an offer's leads one at a time), so
	// that the killed node leaves one whose outcome nobody knows.
	deadline := time.Now().Add(burst)
	time.Sleep(time.Until(deadline) / 2)
	for inFlight.Load() < int64(len(nodes)) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	sentBefore := took.Load()
	nodes[0].kill()
	killed.Store(true)
	time.Sleep(time.Until(deadline))
	close(stop)
	wg.Wait()
	if len(all) == 0 || sentBefore == 0 {
		t.Fatalf("%d webhooks acknowledged, %d sends before the kill: the test proves nothing", len(all), sentBefore)
	}

	// The survivors drain the outbox: after the killed node's claims
	// expire, what it had in flight is held, and the rest goes out.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var pending int
	budget := clusterClaimExpiry + 15*time.Second + 4*burst
	drainBy := time.Now().Add(budget)
	for {
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM feed_items WHERE feed = 'send' AND NOT held`).Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if pending == 0 || time.Now().After(drainBy) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if pending != 0 {
		t.Errorf("%d sends still pending after the survivors had %v to drain the outbox", pending, budget)
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
	t.Logf("%d webhooks acknowledged over 3 nodes, node 1 killed after %d sends; %d leads sent once, %d held in doubt, partner took %d orders",
		len(all), sentBefore, sent, len(held), took.Load())

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
		sendPoll: 50 * time.Millisecond, claimExpiry: clusterClaimExpiry,
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

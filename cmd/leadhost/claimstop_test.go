package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"leadhost/store"
	"leadhost/store/postgres/pgtest"
)

// TestStoppingNodeKeepsItsSendInFlight: a node asked to stop (SIGTERM)
// lets its send in flight run to its end (up to send's 30 s timeout),
// and its claim on the item must live as long as the process: "while
// that node heartbeats no other node takes it, however long its partner
// takes to answer … or at once if it stopped cleanly" (README, Outboxes
// across nodes). But app.Run's heartbeat stops with the context while the
// sender still waits for its request: three heartbeats later the other
// node takes the live node's claim for a dead one's and, the offer being
// idempotent, sends the lead again while the first request is still out
// (a non-idempotent one it holds "in doubt" although nothing is in doubt).
func TestStoppingNodeKeepsItsSendInFlight(t *testing.T) {
	url := pgtest.URL(t)
	var (
		mu    sync.Mutex
		calls = map[string]int{}
	)
	arrived := make(chan string, 10)
	release := make(chan struct{})
	partner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		lead := r.Form.Get("lead")
		mu.Lock()
		calls[lead]++
		mu.Unlock()
		arrived <- lead
		<-release // the partner is slow: 2 s, well within send's timeout
		fmt.Fprintf(w, `{"id":"p-%s"}`, lead)
	}))
	defer partner.Close()
	var once sync.Once
	answer := func() { once.Do(func() { close(release) }) }
	defer answer()
	scripts := filepath.Join(t.TempDir(), "scripts")
	os.MkdirAll(filepath.Join(scripts, "shop"), 0o755)
	os.WriteFile(filepath.Join(scripts, "shop", "offer.toml"), []byte(fmt.Sprintf(`[send]
url = "%s/order"
body = "form"
format = "json"
fields = { lead = "{id}" }
idempotent = true
`, partner.URL)), 0o644)
	os.WriteFile(filepath.Join(scripts, "shop", "send.lua"), []byte("return data.id\n"), 0o644)
	const beat = 100 * time.Millisecond // a node silent for 300 ms is dead
	node := func(name string) (*runningHost, func()) {
		return startConfiguredTestHost(t, hostConfig{listen: "127.0.0.1:0", data: filepath.Join(t.TempDir(), name), scripts: scripts,
			databaseURL: url, node: name, heartbeat: beat, log: slog.New(slog.DiscardHandler)})
	}
	a, stopA := node("node-a")
	lead, _, err := a.st.Add(context.Background(), store.NewLead{Offer: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-arrived: // node a's request is out
	case <-time.After(10 * time.Second):
		t.Fatal("node a never sent the lead")
	}
	_, _ = node("node-b")
	// Node a is asked to stop: its request in flight runs to its end.
	stopped := make(chan struct{})
	go func() { stopA(); close(stopped) }()
	select {
	case l := <-arrived:
		t.Errorf("lead %s sent again by node b while node a, stopping but alive, still waits for its partner's answer to the same lead", l)
	case <-time.After(2 * time.Second):
	}
	answer() // node a's answer
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("node a did not stop")
	}
	mu.Lock()
	defer mu.Unlock()
	if n := calls[fmt.Sprint(lead.ID)]; n != 1 {
		t.Errorf("the partner got lead %d %d times, want once", lead.ID, n)
	}
}

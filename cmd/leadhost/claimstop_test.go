package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
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
	p := newHeldPartner(t)
	arrived, answer, scripts := p.arrived, p.answer, p.scripts
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
	if n := p.calls(lead.ID); n != 1 {
		t.Errorf("the partner got lead %d %d times, want once", lead.ID, n)
	}
}

// TestRestartedNodeLeavesTheOldProcesssSend: a serve started again under
// its name on its address while the process before it still finishes
// its send in flight (it closed its listener at SIGTERM, then waits up to
// send's 30 s timeout for its partner) joins as "this node restarted"
// (App.Join lets the same name at the same address in) and, claims being
// made under the node's name alone, takes the old process's claim for its
// own: "the process that made them is gone" (README), but it is not. The
// offer idempotent, the new process would send the lead again while the
// old one's request is still out. The name is held by one process at a
// time (store/postgres/nodename.go): the new one waits for the old to leave.
func TestRestartedNodeLeavesTheOldProcesssSend(t *testing.T) {
	url := pgtest.URL(t)
	p := newHeldPartner(t)
	arrived, answer, scripts := p.arrived, p.answer, p.scripts
	node := func(listen string) (*runningHost, func()) {
		return startConfiguredTestHost(t, hostConfig{listen: listen, data: filepath.Join(t.TempDir(), "data"), scripts: scripts,
			databaseURL: url, heartbeat: 100 * time.Millisecond, log: slog.New(slog.DiscardHandler)})
	}
	old, stopOld := node("127.0.0.1:0")
	lead, _, err := old.st.Add(context.Background(), store.NewLead{Offer: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the first process never sent the lead")
	}
	stopped := make(chan struct{})
	go func() { stopOld(); close(stopped) }()
	// Its listener closes at once; its send runs on.
	addr := old.addr.String()
	for i := 0; ; i++ {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
			break
		}
		if i == 500 {
			t.Fatalf("the first process still listens on %s", addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Started again, as a supervisor or a person does: it waits for the
	// name until the process before it has left.
	type started struct {
		h   *runningHost
		err error
	}
	restarted := make(chan started, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		h, err := startHost(ctx, hostConfig{listen: addr, data: filepath.Join(t.TempDir(), "data"), scripts: scripts, databaseURL: url,
			heartbeat: 100 * time.Millisecond, sendBackoff: 200 * time.Millisecond, sendPoll: 50 * time.Millisecond, log: slog.New(slog.DiscardHandler)})
		restarted <- started{h, err}
	}()
	select {
	case l := <-arrived:
		t.Errorf("lead %s sent again by the restarted process while the process before it still waits for its partner's answer to the same lead", l)
	case r := <-restarted:
		t.Errorf("the restarted process started (err %v) while the process before it still held the node's name", r.err)
	case <-time.After(2 * time.Second):
	}
	answer()
	<-stopped
	select {
	case r := <-restarted:
		if r.err != nil {
			t.Fatalf("the restarted process, once the one before it left: %v", r.err)
		}
		defer func() { cancel(); r.h.wait() }()
	case <-time.After(20 * time.Second):
		t.Fatal("the restarted process did not start after the one before it left")
	}
	if n := p.calls(lead.ID); n != 1 {
		t.Errorf("the partner got lead %d %d times, want once", lead.ID, n)
	}
}

// heldPartner is a partner that holds every send until answer, and an
// idempotent offer "shop" sending to it.
type heldPartner struct {
	arrived chan string // each send's lead, as it arrives
	answer  func()      // lets every send held, and every later one, be answered
	scripts string      // the scripts folder with the offer
	mu      sync.Mutex
	count   map[string]int
}

func newHeldPartner(t *testing.T) *heldPartner {
	t.Helper()
	p := &heldPartner{arrived: make(chan string, 10), count: map[string]int{}}
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		lead := r.Form.Get("lead")
		p.mu.Lock()
		p.count[lead]++
		p.mu.Unlock()
		p.arrived <- lead
		<-release
		fmt.Fprintf(w, `{"id":"p-%s"}`, lead)
	}))
	var once sync.Once
	p.answer = func() { once.Do(func() { close(release) }) }
	t.Cleanup(srv.Close)
	t.Cleanup(p.answer) // runs first: the held requests end before the server closes
	p.scripts = filepath.Join(t.TempDir(), "scripts")
	os.MkdirAll(filepath.Join(p.scripts, "shop"), 0o755)
	os.WriteFile(filepath.Join(p.scripts, "shop", "offer.toml"), []byte(fmt.Sprintf(`[send]
url = "%s/order"
body = "form"
format = "json"
fields = { lead = "{id}" }
idempotent = true
`, srv.URL)), 0o644)
	os.WriteFile(filepath.Join(p.scripts, "shop", "send.lua"), []byte("return data.id\n"), 0o644)
	return p
}

// calls is how many times the partner got the lead.
func (p *heldPartner) calls(lead uint64) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count[fmt.Sprint(lead)]
}

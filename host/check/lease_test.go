package check

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"leadhost/host"
	"leadhost/host/hosttest"
	"leadhost/store"
	"leadhost/store/postgres"
	"leadhost/store/postgres/pgtest"
)

// The lease tests run nodes on a real PostgreSQL, stopped when the tests
// end.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// node is one scheduler on its own connection to the shared database, as
// a leadhost serve on another machine would be.
type node struct {
	name   string
	st     *postgres.Store
	leases *dyingLeases
	s      *Scheduler
	stop   context.CancelFunc
	done   chan struct{}
}

// dyingLeases are a node's leases until die: from then on it neither
// renews nor gives up what it holds, as a node killed mid-run.
type dyingLeases struct {
	Leases
	dead atomic.Bool
}

func (d *dyingLeases) RenewLease(ctx context.Context, name, node string, ttl time.Duration) error {
	if d.dead.Load() {
		return nil
	}
	return d.Leases.RenewLease(ctx, name, node, ttl)
}

func (d *dyingLeases) ReleaseLease(ctx context.Context, name, node, schedule string) error {
	if d.dead.Load() {
		return nil
	}
	return d.Leases.ReleaseLease(ctx, name, node, schedule)
}

// startNode runs a scheduler for o as node name on the database at url.
func startNode(t *testing.T, url, name string, o *host.Offer, ttl time.Duration) *node {
	t.Helper()
	st, err := postgres.Open(context.Background(), url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{name: name, st: st, leases: &dyingLeases{Leases: st}, done: make(chan struct{})}
	n.s = &Scheduler{Offers: &offerList{offers: []*host.Offer{o}}, Runner: newRunner(st), Tick: 10 * time.Millisecond, HoldEvery: time.Hour,
		Log: slog.New(slog.DiscardHandler), Leases: n.leases, Node: name, LeaseTTL: ttl}
	ctx, cancel := context.WithCancel(context.Background())
	n.stop = cancel
	go func() { n.s.Run(ctx); close(n.done) }()
	t.Cleanup(func() {
		n.stop()
		<-n.done
		st.Close()
	})
	return n
}

// shortOffer is the altercpa example asking partner about processing
// leads every period (shorter than offer.toml allows, for the test).
func shortOffer(t *testing.T, partner string, period time.Duration) *host.Offer {
	o := offerAt(t, "../../scripts/altercpa", partner, nil)
	o.Modes = []host.CheckMode{{Name: host.ModeProcessing, Every: period}}
	return o
}

// Three nodes on one database run one schedule: its runs never overlap,
// and they come a period apart (less the jitter) whichever node makes
// them, not three times as often.
func TestScheduleRunsOnOneNodeAtATime(t *testing.T) {
	url := pgtest.URL(t)
	const period = 400 * time.Millisecond
	var (
		inFlight, most atomic.Int32
		mu             sync.Mutex
		starts         []time.Time
	)
	p := startPartner(t, func(w http.ResponseWriter, _ asked) {
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		if n := inFlight.Add(1); n > most.Load() {
			most.Store(n)
		}
		time.Sleep(50 * time.Millisecond) // a slow partner: a window for a second node to overlap
		inFlight.Add(-1)
		w.Write([]byte(`[]`))
	})
	o := shortOffer(t, p.URL, period)
	seed, err := postgres.Open(context.Background(), url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer seed.Close()
	addLeads(t, seed, "altercpa", store.StatusProcessing, time.Time{}, "9001")
	for _, name := range []string{"a", "b", "c"} {
		startNode(t, url, name, o, 5*time.Second)
	}
	const periods = 6
	hosttest.Eventually(t, "six runs", func() bool { return len(p.Requests()) >= periods })
	mu.Lock()
	defer mu.Unlock()
	if most.Load() != 1 {
		t.Errorf("%d runs at once, want 1", most.Load())
	}
	gap := period - period/jitterPart
	for i := 1; i < len(starts); i++ {
		// The partner is asked just after the lease is taken, which is
		// at least gap after the last run's end: more than gap apart.
		if d := starts[i].Sub(starts[i-1]); d < gap {
			t.Errorf("run %d came %v after the one before, want at least %v (one run per period across the nodes)", i+1, d, gap)
		}
	}
	for _, r := range p.Requests() {
		if r.Body != "ids[]=9001" {
			t.Errorf("asked %q, want the one lead", r.Body)
		}
	}
}

// A node that dies mid-run (no renewal, no release) holds the schedule
// until its lease expires; then another node runs it, and a person's
// "check now" on a node meanwhile hears which node runs it.
func TestDeadNodesScheduleMovesWhenItsLeaseExpires(t *testing.T) {
	url := pgtest.URL(t)
	const ttl = 900 * time.Millisecond
	stuck := make(chan struct{})
	var calls atomic.Int32
	p := startPartner(t, func(w http.ResponseWriter, _ asked) {
		if calls.Add(1) == 1 {
			<-stuck // the first run hangs: its node dies in it
		}
		w.Write([]byte(`[]`))
	})
	t.Cleanup(func() { close(stuck) })
	o := shortOffer(t, p.URL, 200*time.Millisecond)
	a := startNode(t, url, "a", o, ttl)
	addLeads(t, a.st, "altercpa", store.StatusProcessing, time.Time{}, "9001")
	hosttest.Eventually(t, "a's run", func() bool { return calls.Load() == 1 })
	a.leases.dead.Store(true)
	died := time.Now()

	b := startNode(t, url, "b", o, ttl)
	if _, err := b.s.RunNow(context.Background(), o, host.ModeProcessing, Options{}); err == nil || err.Error() != "a check of this offer (processing) is running on node a" {
		t.Errorf("check now while a holds the lease: %v", err)
	}
	hosttest.Eventually(t, "b taking the schedule over", func() bool { return calls.Load() >= 2 })
	took := time.Since(died)
	// a renewed at most a third of the lease before it died.
	if took < ttl*2/3 {
		t.Errorf("b ran %v after a died, before a's lease (%v) could expire", took, ttl)
	}
	t.Logf("b ran the schedule %v after a died (lease %v, tick %v)", took.Round(time.Millisecond), ttl, b.s.tick())
	ls, err := b.st.Leases(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if l.Node != "b" {
			t.Errorf("lease %+v held by %s after the takeover", l, l.Node)
		}
	}
}

// A node whose version of an offer is not the cluster's newest (Hold)
// keeps the offer's schedules due without running them, and says why;
// once it has the newest, they run.
func TestHeldScheduleWaitsForTheNewestVersion(t *testing.T) {
	t.Parallel()
	p := startPartner(t, func(w http.ResponseWriter, _ asked) { w.Write([]byte(`[]`)) })
	o := offerAt(t, "../../scripts/altercpa", p.URL, nil)
	st := openStore(t, nil)
	addLeads(t, st, "altercpa", store.StatusProcessing, time.Time{}, "9001")
	clk := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	s := newScheduler(st, &offerList{offers: []*host.Offer{o}}, clk)
	var why atomic.Value
	why.Store("node b runs a newer version")
	s.Hold = func(*host.Offer) string { return why.Load().(string) }
	ctx := context.Background()
	for range 30 {
		s.stepAndWait(ctx)
		clk.add(time.Minute)
	}
	if n := len(p.Requests()); n != 0 {
		t.Fatalf("%d requests from a node held back, want none", n)
	}
	if sc := s.Schedules(); len(sc) == 0 || sc[0].Waiting != "node b runs a newer version" {
		t.Errorf("schedules %+v: want them waiting, saying why", sc)
	}
	why.Store("")
	s.Step(ctx) // both modes, one after the other: only processing has a lead to ask about
	if n := len(p.Requests()); n != 1 {
		t.Errorf("%d requests once the node has the newest version, want 1 (the schedule was due)", n)
	}
}

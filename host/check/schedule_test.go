package check

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"leadhost/host"
	"leadhost/store"
)

// offerList is an OfferSource the test changes, as hot reload would.
type offerList struct {
	mu     sync.Mutex
	offers []*host.Offer
}

func (l *offerList) Offers() []*host.Offer {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*host.Offer(nil), l.offers...)
}

func (l *offerList) set(offers ...*host.Offer) {
	l.mu.Lock()
	l.offers = offers
	l.mu.Unlock()
}

// clock is a test's time, moved by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

func newScheduler(st store.Store, offers OfferSource, clk *clock) *Scheduler {
	r := newRunner(st)
	r.Now = clk.now
	return &Scheduler{Offers: offers, Runner: r, Now: clk.now, HoldEvery: time.Hour, Log: slog.New(slog.DiscardHandler)}
}

// stepAndWait is one tick at the clock's time, waiting for the runs it
// started.
func (s *Scheduler) stepAndWait(ctx context.Context) {
	s.step(ctx, s.now())
	s.wg.Wait()
}

func byExt(got []asked) map[string]int {
	n := map[string]int{}
	for _, a := range got {
		n[a.Body]++
	}
	return n
}

// Each mode runs on its own interval; the two modes of one offer never
// run at once; intervals carry a jitter of a tenth.
func TestSchedulerIntervals(t *testing.T) {
	t.Parallel()
	p := startPartner(t, func(w http.ResponseWriter, _ asked) { w.Write([]byte(`[]`)) })
	o := offerAt(t, "../../scripts/altercpa", p.URL, nil) // processing 10m, accepted 3h
	st := openStore(t, nil)
	addLeads(t, st, "altercpa", store.StatusProcessing, time.Time{}, "9001")
	addLeads(t, st, "altercpa", store.StatusPacking, time.Time{}, "7001")
	clk := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	s := newScheduler(st, &offerList{offers: []*host.Offer{o}}, clk)
	ctx := context.Background()

	s.stepAndWait(ctx)
	clk.add(time.Minute) // the first runs come within a minute
	s.stepAndWait(ctx)   // one mode runs; the other waits for it
	if n := len(p.Requests()); n != 1 {
		t.Fatalf("%d requests after the first due tick, want 1 (one run of an offer at a time)", n)
	}
	s.stepAndWait(ctx)
	if got := byExt(p.Requests()); got["ids[]=9001"] != 1 || got["ids[]=7001"] != 1 {
		t.Fatalf("first runs: %v", got)
	}
	// Over six hours: processing about 36 times (every 10m ± 1m), accepted
	// about twice (every 3h ± 18m).
	for range 6 * 60 {
		clk.add(time.Minute)
		s.stepAndWait(ctx)
	}
	got := byExt(p.Requests())
	if n := got["ids[]=9001"]; n < 33 || n > 41 {
		t.Errorf("processing ran %d times in 6h, want about 37", n)
	}
	if n := got["ids[]=7001"]; n < 2 || n > 3 {
		t.Errorf("accepted ran %d times in 6h, want 3", n)
	}
	for _, sc := range s.Schedules() {
		if sc.Last == nil || sc.Last.Err != "" || sc.Fails != 0 {
			t.Errorf("schedule %+v", sc)
		}
		if d, every := sc.Next.Sub(sc.Last.Started), time.Duration(sc.Every); d < every*8/10 || d > every*12/10 {
			t.Errorf("%s: next run %s after the last, every %s", sc.Mode, d, sc.Every)
		}
	}
}

// A failing partner is retried at the next interval, then backed off;
// one good run resets it.
func TestSchedulerBackoff(t *testing.T) {
	t.Parallel()
	var failing atomic.Bool
	failing.Store(true)
	p := startPartner(t, func(w http.ResponseWriter, _ asked) {
		if failing.Load() {
			w.WriteHeader(503)
			return
		}
		w.Write([]byte(`[]`))
	})
	o := offerAt(t, "../../scripts/altercpa", p.URL, map[string]string{`accepted = { every = "3h" }`: `accepted = { enabled = false }`})
	st := openStore(t, nil)
	addLeads(t, st, "altercpa", store.StatusProcessing, time.Time{}, "9001")
	clk := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	var reports []*Report
	var mu sync.Mutex
	s := newScheduler(st, &offerList{offers: []*host.Offer{o}}, clk)
	s.OnRun = func(r *Report) { mu.Lock(); reports = append(reports, r); mu.Unlock() }
	ctx := context.Background()
	s.step(ctx, clk.now())
	clk.add(time.Minute)

	// Waits after each failure: 10m, 10m, then 20m, 40m, 80m …
	var waits []time.Duration
	for range 6 {
		s.stepAndWait(ctx)
		sc := s.Schedules()[0]
		waits = append(waits, sc.Next.Sub(clk.now()))
		clk.t = sc.Next
	}
	want := []time.Duration{10, 10, 20, 40, 80, 160}
	for i, w := range want {
		w *= time.Minute
		if waits[i] < w*9/10 || waits[i] > w*11/10 {
			t.Errorf("wait after failure %d: %s, want %s ± 10%%", i+1, waits[i], w)
		}
	}
	// The schedule (shown by the admin API) names the request with the
	// partner's key masked.
	if sc := s.Schedules()[0]; sc.Fails != 6 || !strings.Contains(sc.Last.Err, "status 503") ||
		!strings.Contains(sc.Last.Err, "key=***") || strings.Contains(sc.Last.Err, "SECRET") {
		t.Errorf("schedule %+v", sc)
	}
	if len(reports) != 6 || reports[0].Err == nil {
		t.Fatalf("%d reports", len(reports))
	}

	failing.Store(false)
	s.stepAndWait(ctx)
	if sc := s.Schedules()[0]; sc.Fails != 0 || sc.Last.Err != "" || sc.Next.Sub(clk.now()) > 11*time.Minute {
		t.Errorf("after recovery: %+v", sc)
	}
}

// Hot reload: a changed interval applies from the last run, a removed
// offer stops being asked.
func TestSchedulerFollowsReload(t *testing.T) {
	t.Parallel()
	p := startPartner(t, func(w http.ResponseWriter, _ asked) { w.Write([]byte(`[]`)) })
	o := offerAt(t, "../../scripts/altercpa", p.URL, map[string]string{`accepted = { every = "3h" }`: `accepted = { enabled = false }`})
	st := openStore(t, nil)
	addLeads(t, st, "altercpa", store.StatusProcessing, time.Time{}, "9001")
	clk := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	offers := &offerList{offers: []*host.Offer{o}}
	s := newScheduler(st, offers, clk)
	ctx := context.Background()
	s.step(ctx, clk.now())
	clk.add(time.Minute)
	s.stepAndWait(ctx)
	ran := clk.now()

	slower := offerAt(t, "../../scripts/altercpa", p.URL, map[string]string{
		`accepted = { every = "3h" }`: `accepted = { enabled = false }`, `processing = { every = "10m" }`: `processing = { every = "1h" }`})
	slower.Version = o.Version + 1
	offers.set(slower)
	clk.add(time.Minute)
	s.stepAndWait(ctx)
	sc := s.Schedules()
	if len(sc) != 1 || sc[0].Every != store.Duration(time.Hour) || sc[0].Next.Sub(ran) < 54*time.Minute || sc[0].Next.Sub(ran) > 66*time.Minute {
		t.Fatalf("after the interval changed: %+v", sc)
	}

	offers.set()
	for range 120 {
		clk.add(time.Minute)
		s.stepAndWait(ctx)
	}
	if n := len(p.Requests()); n != 1 || len(s.Schedules()) != 0 {
		t.Errorf("a removed offer: %d requests, schedules %+v", n, s.Schedules())
	}
}

// At most Limit runs go at once across offers.
func TestSchedulerLimit(t *testing.T) {
	t.Parallel()
	var inFlight, peak atomic.Int32
	p := startPartner(t, func(w http.ResponseWriter, _ asked) {
		n := inFlight.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
		inFlight.Add(-1)
		w.Write([]byte(`[]`))
	})
	st := openStore(t, nil)
	var offers []*host.Offer
	for _, id := range []string{"a1", "a2", "a3", "a4", "a5"} {
		src := "../../scripts/altercpa"
		o := offerAt(t, src, p.URL, nil)
		o.ID = id // same scripts, five offers
		offers = append(offers, o)
		addLeads(t, st, id, store.StatusProcessing, time.Time{}, "9001")
	}
	clk := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	s := newScheduler(st, &offerList{offers: offers}, clk)
	s.Limit = 2
	ctx := context.Background()
	s.step(ctx, clk.now())
	clk.add(time.Minute)
	for deadline := time.Now().Add(5 * time.Second); len(p.Requests()) < 5 && time.Now().Before(deadline); {
		s.step(ctx, clk.now())
		time.Sleep(5 * time.Millisecond)
	}
	s.wg.Wait()
	if peak.Load() != 2 {
		t.Errorf("peak %d runs at once, want 2", peak.Load())
	}
	if n := len(p.Requests()); n < 5 {
		t.Errorf("%d requests: every offer should have run", n)
	}
}

// Stopping waits for the run in flight, whose edits land.
func TestSchedulerGracefulStop(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	p := startPartner(t, func(w http.ResponseWriter, a asked) {
		started <- struct{}{}
		time.Sleep(300 * time.Millisecond)
		answerFile(t, "../../scripts/altercpa/testdata/list.json")(w, a)
	})
	o := offerAt(t, "../../scripts/altercpa", p.URL, nil)
	st := openStore(t, nil)
	leads := addLeads(t, st, "altercpa", store.StatusProcessing, time.Time{}, "9001")
	clk := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	s := newScheduler(st, &offerList{offers: []*host.Offer{o}}, clk)
	s.Tick = 5 * time.Millisecond
	s.init()
	s.step(context.Background(), clk.now()) // schedules, nothing due yet
	clk.add(2 * time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	<-started
	cancel()
	<-done
	if l := snapshot(t, st, leads)[0]; l.Status != store.StatusPacking {
		t.Errorf("the run in flight did not finish: status %d", l.Status)
	}
}

// Expired holds are approved on the scheduler's tick.
func TestSchedulerReleasesHolds(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Now()}
	st := openStore(t, clk.now)
	l := addLeads(t, st, "altercpa", store.StatusProcessing, time.Time{}, "9001")[0]
	if _, err := st.Edit(context.Background(), l.ID, store.Patch{Hold: &store.Hold{Days: 1}}); err != nil {
		t.Fatal(err)
	}
	s := newScheduler(st, &offerList{}, clk)
	s.stepAndWait(context.Background())
	if got := snapshot(t, st, []*store.Lead{l})[0]; got.Status != store.StatusHold {
		t.Fatalf("status %d, want hold", got.Status)
	}
	clk.add(25 * time.Hour)
	s.stepAndWait(context.Background())
	if got := snapshot(t, st, []*store.Lead{l})[0]; got.Status != store.StatusPacking {
		t.Errorf("an expired hold was not released: status %d", got.Status)
	}
}

// The registry is the scheduler's offer source: an offer.toml edited on
// disk and reloaded changes the schedule; a deleted offer folder ends it.
func TestSchedulerWithRegistry(t *testing.T) {
	t.Parallel()
	p := startPartner(t, func(w http.ResponseWriter, _ asked) { w.Write([]byte(`[]`)) })
	o := offerAt(t, "../../scripts/altercpa", p.URL, nil)
	reg := host.NewRegistry(filepath.Dir(o.Dir))
	if _, err := reg.Reload(); err != nil {
		t.Fatal(err)
	}
	st := openStore(t, nil)
	clk := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	s := newScheduler(st, reg, clk)
	s.stepAndWait(context.Background())
	if got := s.Schedules(); len(got) != 2 || got[0].Every != store.Duration(10*time.Minute) || got[1].Every != store.Duration(3*time.Hour) {
		t.Fatalf("schedules %+v", got)
	}
	toml := filepath.Join(o.Dir, "offer.toml")
	b, _ := os.ReadFile(toml)
	b = []byte(strings.Replace(string(b), `processing = { every = "10m" }`, `processing = { every = "2m" }`, 1))
	if err := os.WriteFile(toml, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Reload(); err != nil {
		t.Fatal(err)
	}
	s.stepAndWait(context.Background())
	if got := s.Schedules(); len(got) != 2 || got[0].Every != store.Duration(2*time.Minute) {
		t.Fatalf("after the edit: %+v", got)
	}
	if err := os.RemoveAll(o.Dir); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Reload(); err != nil {
		t.Fatal(err)
	}
	s.stepAndWait(context.Background())
	if got := s.Schedules(); len(got) != 0 {
		t.Fatalf("after the removal: %+v", got)
	}
}

func TestBackoffNeverOverflows(t *testing.T) {
	for _, every := range []time.Duration{time.Minute, 10 * time.Minute, 3 * time.Hour, 100 * 24 * time.Hour} {
		for fails := 0; fails < 200; fails++ {
			if d := backedOff(every, fails); d < every || d > max(every, 24*time.Hour) {
				t.Fatalf("backedOff(%s, %d) = %s", every, fails, d)
			}
		}
	}
}

// Once the scheduler stops, a run asked for now is refused: it cannot
// slip in while the stop waits for the runs in flight, nor after.
func TestRunNowRefusedOnceStopping(t *testing.T) {
	t.Parallel()
	p := startPartner(t, func(w http.ResponseWriter, _ asked) { w.Write([]byte(`[]`)) })
	o := offerAt(t, "../../scripts/altercpa", p.URL, nil)
	st := openStore(t, nil)
	clk := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	s := newScheduler(st, &offerList{offers: []*host.Offer{o}}, clk)
	if _, err := s.RunNow(context.Background(), o, host.ModeProcessing, Options{}); err != nil {
		t.Fatalf("a run before the stop: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- s.Run(ctx) }()
	cancel()
	<-stopped
	if _, err := s.RunNow(context.Background(), o, host.ModeProcessing, Options{}); !errors.Is(err, ErrStopping) {
		t.Errorf("a run after the stop: %v, want ErrStopping", err)
	}
}

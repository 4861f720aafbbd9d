package check

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"leadhost/host"
	"leadhost/store"
)

// OfferSource is what the scheduler needs of the registry: the offers as
// they are now, after any reload.
type OfferSource interface {
	Offers() []*host.Offer
}

// Scheduler runs every offer's check modes on their intervals. It follows
// hot reload (a changed interval applies from the last run, a removed
// offer stops), never overlaps runs of one offer, runs at most Limit
// offers at once, spreads starts with jitter and backs off from a partner
// that keeps failing. It also releases expired holds.
//
// On several nodes sharing a store (Leases set), a run takes its offer's
// lease first (lease.go), and a schedule is due on every node from its
// last run's end on whichever node ran it: the node that takes the lease
// runs, the others find it held or the run just done and wait.
type Scheduler struct {
	Offers OfferSource
	Runner *Runner
	// Limit is how many runs may go at once, across offers (default 4).
	Limit int
	// Tick is how often schedules are looked at (default 1s).
	Tick time.Duration
	// HoldEvery is how often expired holds are released (default 1m).
	HoldEvery time.Duration
	// OnRun receives every finished run's report (for the log and the
	// journal); it is called from the run's goroutine.
	OnRun func(*Report)
	Log   *slog.Logger     // nil: slog.Default()
	Now   func() time.Time // nil: time.Now
	// Leases, when set, are the leases of the nodes sharing the store;
	// Node is this one's name in them. nil: this node is the only one.
	Leases Leases
	Node   string
	// LeaseTTL is how long a lease lasts unless renewed (default 30s).
	LeaseTTL time.Duration
	// Hold, when set, says why an offer's schedules wait on this node
	// ("" when they run): a node with another version of the offer than
	// the cluster's newest.
	Hold func(o *host.Offer) string

	mu        sync.Mutex
	entries   map[scheduleKey]*schedule
	running   map[string]bool // offers with a run in flight
	stopping  bool            // Run is waiting for the runs in flight to end
	halt      chan struct{}   // closed when Run stops: runs asked for stop too
	started   int             // runs step started, ever (for Step)
	sem       chan struct{}
	wg        sync.WaitGroup
	rng       *rand.Rand
	lastHolds time.Time
}

type scheduleKey struct {
	offer string
	mode  host.Mode
}

type schedule struct {
	every   time.Duration
	version uint64
	next    time.Time
	since   time.Time // the last run's end, or when the schedule began
	fails   int       // failed runs in a row
	last    *RunSummary
	held    string // why it does not run on this node (Hold)
	busy    string // the run of it another node was making when last asked
}

// Schedule is one offer mode's schedule as the API shows it.
type Schedule struct {
	Offer string         `json:"offer"`
	Mode  host.Mode      `json:"mode"`
	Every store.Duration `json:"every"`
	Next  time.Time      `json:"next"`
	Fails int            `json:"fails"` // failed runs in a row; 3 and more back off
	Last  *RunSummary    `json:"last,omitempty"`
	// Waiting says why it does not run on this node now: another
	// version of the offer than the cluster's newest, or a run of it on
	// another node.
	Waiting string `json:"waiting,omitempty"`
}

// RunSummary is what a schedule keeps of its last run.
type RunSummary struct {
	Started  time.Time      `json:"started"`
	Duration store.Duration `json:"duration"`
	Requests int            `json:"requests"`
	Leads    int            `json:"leads"`
	Edits    int            `json:"edits"`
	Err      string         `json:"error,omitempty"`
}

// Backoff: after backoffAfter failed runs in a row the interval doubles
// with each further failure, up to backoffMax times the interval (and no
// more than a day, unless the interval itself is longer).
const (
	backoffAfter = 3
	backoffMax   = 16
	jitterPart   = 10 // ±1/10 of the interval
)

// Run schedules until ctx ends, then waits for the runs in flight: each
// finishes the request it is making (unless StopGrace passes without an
// answer) and stops before the next.
func (s *Scheduler) Run(ctx context.Context) error {
	s.init()
	tick := time.NewTicker(s.tick())
	defer tick.Stop()
	for {
		s.step(ctx, s.now())
		select {
		case <-ctx.Done():
			s.mu.Lock()
			s.stopping = true // RunNow refuses from here on: nothing joins the wait
			select {          // and the runs it started stop as the scheduled ones do
			case <-s.halt:
			default:
				close(s.halt)
			}
			s.mu.Unlock()
			s.wg.Wait()
			return nil
		case <-tick.C:
		}
	}
}

// Step is one step of the scheduler at its clock's now, waiting for the
// runs it starts: the schedules due run, expired holds are released. It
// is how a test with a clock of its own (leadhost test's cases) moves
// time on.
func (s *Scheduler) Step(ctx context.Context) {
	s.init()
	// A step starts one run per offer (runs of an offer never overlap):
	// step again while that started any, so that every mode due runs.
	for range 8 {
		s.mu.Lock()
		before := s.started
		s.mu.Unlock()
		s.step(ctx, s.now())
		s.wg.Wait()
		s.mu.Lock()
		started := s.started != before
		s.mu.Unlock()
		if !started {
			return
		}
	}
}

// Schedules lists the schedules, by offer and mode.
func (s *Scheduler) Schedules() []Schedule {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Schedule, 0, len(s.entries))
	for k, e := range s.entries {
		out = append(out, Schedule{Offer: k.offer, Mode: k.mode, Every: store.Duration(e.every), Next: e.next.UTC(), Fails: e.fails, Last: e.last, Waiting: cmp.Or(e.held, e.busy)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Offer != out[j].Offer {
			return out[i].Offer < out[j].Offer
		}
		return modeOrder(out[i].Mode) < modeOrder(out[j].Mode)
	})
	return out
}

func modeOrder(m host.Mode) int { return slices.Index(host.Modes, m) }

func (s *Scheduler) init() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries != nil {
		return
	}
	s.entries = map[scheduleKey]*schedule{}
	s.running = map[string]bool{}
	limit := s.Limit
	if limit <= 0 {
		limit = 4
	}
	s.sem = make(chan struct{}, limit)
	s.halt = make(chan struct{})
	s.rng = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x1ead))
}

func (s *Scheduler) tick() time.Duration {
	if s.Tick > 0 {
		return s.Tick
	}
	return time.Second
}

func (s *Scheduler) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Scheduler) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// step brings the schedules in line with the offers, releases holds when
// due, and starts the runs that are due.
func (s *Scheduler) step(ctx context.Context, now time.Time) {
	s.init()
	if ctx.Err() != nil {
		return
	}
	offers := map[string]*host.Offer{}
	s.mu.Lock()
	seen := map[scheduleKey]bool{}
	for _, o := range s.Offers.Offers() {
		if o.Config.Check == nil || o.Scripts["check.lua"] == nil {
			continue
		}
		offers[o.ID] = o
		for _, m := range o.Modes {
			k := scheduleKey{o.ID, m.Name}
			seen[k] = true
			e := s.entries[k]
			switch {
			case e == nil:
				// The first run comes within a tenth of the interval (at most
				// a minute), spread so that offers do not all start at once.
				first := min(m.Every/jitterPart, time.Minute)
				s.entries[k] = &schedule{every: m.Every, version: o.Version, since: now, next: now.Add(s.randUpTo(first))}
			case e.every != m.Every || e.version != o.Version:
				// A changed interval counts from the last run; a new version
				// of the scripts gets a fresh start from its failures.
				e.every, e.version, e.fails = m.Every, o.Version, 0
				e.next = e.since.Add(s.jittered(m.Every))
			}
		}
	}
	for k := range s.entries {
		if !seen[k] {
			delete(s.entries, k)
		}
	}
	var due []scheduleKey
	for k, e := range s.entries {
		// A schedule held stays due: it runs once the node has the
		// newest version.
		e.held = s.hold(offers[k.offer])
		if !e.next.After(now) && !s.running[k.offer] && e.held == "" {
			due = append(due, k)
		}
	}
	sort.Slice(due, func(i, j int) bool { return s.entries[due[i]].next.Before(s.entries[due[j]].next) })
	holdsDue := now.Sub(s.lastHolds) >= s.holdEvery()
	if holdsDue {
		s.lastHolds = now
	}
	for _, k := range due {
		if s.running[k.offer] {
			continue // an earlier mode of the same offer just started
		}
		select {
		case s.sem <- struct{}{}:
		default:
			continue // at the limit: the rest wait for a later tick
		}
		s.running[k.offer] = true
		s.started++
		s.wg.Add(1)
		go s.run(ctx, offers[k.offer], k.mode)
	}
	s.mu.Unlock()
	if holdsDue {
		s.releaseHolds(ctx, now)
	}
}

// hold is why the offer's schedules wait on this node ("": they run).
func (s *Scheduler) hold(o *host.Offer) string {
	if s.Hold == nil {
		return ""
	}
	return s.Hold(o)
}

func (s *Scheduler) holdEvery() time.Duration {
	if s.HoldEvery > 0 {
		return s.HoldEvery
	}
	return time.Minute
}

// releaseHolds approves the leads whose hold ended, in rounds.
func (s *Scheduler) releaseHolds(ctx context.Context, now time.Time) {
	const round = 500
	for {
		n, err := s.Runner.Store.ReleaseHolds(ctx, now, round)
		if err != nil {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, store.ErrClosed) {
				s.log().Error("releasing holds", "err", err)
			}
			return
		}
		if n > 0 {
			s.log().Info("holds released", "leads", n)
		}
		if n < round {
			return
		}
	}
}

func (s *Scheduler) run(ctx context.Context, o *host.Offer, mode host.Mode) {
	defer s.wg.Done()
	defer func() { <-s.sem }()
	release := func() {}
	if s.Leases != nil {
		ctx, release = s.leaseForSchedule(ctx, o, mode)
		if release == nil {
			return
		}
	}
	rep := s.Runner.Run(ctx, o, mode, Options{})
	stopped := rep.Stopped
	// Reported before the offer is free again, so that one offer's
	// reports reach OnRun in the order of its runs.
	if rep.Err != nil && !stopped {
		s.log().Warn("check run failed", "offer", o.ID, "mode", mode, "err", store.Mask(rep.Err.Error()))
	}
	if s.OnRun != nil {
		s.OnRun(rep)
	}
	// Given up before the offer is free on this node again, so that its
	// next run here takes the lease anew.
	release()
	end := s.now()
	s.mu.Lock()
	s.running[o.ID] = false
	if e := s.entries[scheduleKey{o.ID, mode}]; e != nil {
		e.since = end
		switch {
		case e.version != o.Version:
			// A run of the previous version: its outcome says nothing
			// about the new one.
		case rep.Err != nil && !stopped:
			e.fails++
		case rep.Err == nil:
			e.fails = 0
		}
		e.next = end.Add(s.jittered(backedOff(e.every, e.fails)))
		e.last = &RunSummary{Started: rep.Started, Duration: rep.Duration, Requests: len(rep.Exchanges), Leads: rep.Leads, Edits: len(rep.Edits), Err: store.Mask(rep.Error())}
		e.busy = ""
	}
	s.mu.Unlock()
}

// leaseForSchedule takes the offer's lease for a scheduled run of mode:
// the run's context (ended too if the lease is lost) and the lease's
// release, or no release when the run is not this node's to make now.
// Then the schedule's next is put off: to the next tick while another
// node runs the offer (so that this one takes over within a lease's
// life and a tick when that node dies), to a gap after the last run
// when it just ran elsewhere.
func (s *Scheduler) leaseForSchedule(ctx context.Context, o *host.Offer, mode host.Mode) (context.Context, func()) {
	k := scheduleKey{o.ID, mode}
	s.mu.Lock()
	e := s.entries[k]
	if e == nil {
		// The offer went (a reload) since the step that started this.
		s.running[o.ID] = false
		s.mu.Unlock()
		return nil, nil
	}
	every := e.every
	s.mu.Unlock()
	// The shortest jittered interval: two nodes never run a schedule
	// closer together than that.
	gap := every - every/jitterPart
	runCtx, cancel := context.WithCancel(ctx)
	g, release, err := s.lease(ctx, o, mode, gap, cancel)
	if release != nil {
		return runCtx, func() { release(); cancel() }
	}
	cancel()
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running[o.ID] = false
	if e = s.entries[k]; e == nil {
		return nil, nil
	}
	switch {
	case err != nil:
		if !errors.Is(err, context.Canceled) && !errors.Is(err, store.ErrClosed) {
			s.log().Warn("taking a check lease", "offer", o.ID, "mode", mode, "err", err)
		}
		e.next = now.Add(min(every, 10*s.tick()))
	case g.Holder != "":
		e.busy = (&BusyError{Node: g.Holder, Mode: host.Mode(g.What)}).Error()
		e.next = now.Add(s.tick())
	default:
		// Ran elsewhere: due a gap after that run, spread by the jitter
		// so that the nodes do not all ask at once.
		e.busy = ""
		e.since = now
		e.next = now.Add(g.Wait + s.randUpTo(2*(every/jitterPart)))
	}
	return nil, nil
}

// backedOff is the wait after fails failed runs in a row.
func backedOff(every time.Duration, fails int) time.Duration {
	if fails < backoffAfter {
		return every
	}
	factor := time.Duration(backoffMax)
	if k := fails - backoffAfter + 1; k < 5 { // 2, 4, 8, 16: no shift that overflows
		factor = min(1<<k, factor)
	}
	limit := max(every, 24*time.Hour)
	if every > limit/factor {
		return limit
	}
	return every * factor
}

// jittered is d give or take a tenth, so that schedules drift apart.
func (s *Scheduler) jittered(d time.Duration) time.Duration {
	spread := d / jitterPart
	if spread <= 0 {
		return d
	}
	return d - spread + s.randUpTo(2*spread)
}

// randUpTo is a random duration in [0, d); called with s.mu held.
func (s *Scheduler) randUpTo(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(s.rng.Int64N(int64(d)))
}

// ErrStopping says the scheduler is stopping: no run starts any more.
var ErrStopping = errors.New("the host is stopping: no check runs start now")

// ErrBusy says a run of the offer is in flight: runs of one offer never
// overlap, so a run asked for now has to wait for it.
var ErrBusy = errors.New("a check of this offer is running")

// RunNow runs one mode of an offer at once (the API, a person), unless a
// run of the offer is in flight (ErrBusy) or Run is stopping
// (ErrStopping). It counts as the offer's run for overlap, not for the
// schedule. It ends with ctx, or when Run stops: the host's stop does not
// wait for a person's run any longer than for a scheduled one.
func (s *Scheduler) RunNow(ctx context.Context, o *host.Offer, mode host.Mode, opt Options) (*Report, error) {
	s.init()
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return nil, ErrStopping
	}
	if s.running[o.ID] {
		s.mu.Unlock()
		return nil, ErrBusy
	}
	select {
	case s.sem <- struct{}{}: // the global limit holds for runs asked for too
	default:
		s.mu.Unlock()
		return nil, fmt.Errorf("%w (the most runs at once are going)", ErrBusy)
	}
	s.running[o.ID] = true
	s.wg.Add(1) // a stopping scheduler waits for it
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running[o.ID] = false
		s.mu.Unlock()
		<-s.sem
		s.wg.Done()
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if s.Leases != nil {
		// The same lease as the schedules', with no gap: a person may
		// run a check right after a scheduled one, not during one.
		g, release, err := s.lease(ctx, o, mode, 0, cancel)
		if err != nil {
			return nil, err
		}
		if release == nil {
			return nil, &BusyError{Node: g.Holder, Mode: host.Mode(g.What)}
		}
		defer release()
	}
	go func() {
		select {
		case <-s.halt:
			cancel()
		case <-ctx.Done():
		}
	}()
	rep := s.Runner.Run(ctx, o, mode, opt)
	if s.OnRun != nil {
		s.OnRun(rep)
	}
	return rep, nil
}

// DryRun is the runner's DryRun (check.Runner.DryRun): a partner answer
// given by a person, handled without committing. It does not wait for
// the offer's runs, since it changes nothing.
func (s *Scheduler) DryRun(ctx context.Context, o *host.Offer, mode host.Mode, body []byte, leads []uint64) *Report {
	return s.Runner.DryRun(ctx, o, mode, body, leads)
}

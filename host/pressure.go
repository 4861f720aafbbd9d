package host

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Pressure is how bulk work (check runs) gives way to calls (webhooks,
// postbacks): Go has no priority between goroutines, so on two cores a
// check run's listing, decoding and check.lua take the CPU a webhook
// waits for, and the webhook's tail grows with the run (issue 16). The
// calls mark themselves in flight (Enter, and the func it returns); bulk
// work, between its units, rests (Rest) in proportion to what the unit
// took while calls are in flight — it keeps at most a share of the time
// then — and goes on at once when they are done, or when the bound
// passes: a run is slowed, never stopped. One for the host, owned by
// the app; the zero value is ready, and a nil *Pressure never rests.
type Pressure struct {
	// RestFactor is how long bulk work rests per unit of time it worked,
	// while calls are in flight (0: DefaultRestFactor): 2 leaves it a
	// third of the time.
	RestFactor float64
	// MaxRest bounds one rest (0: DefaultMaxRest).
	MaxRest time.Duration
	// After is the rest's timer (nil: time.After); tests stop time with it.
	After func(time.Duration) <-chan time.Time

	// inFlight is counted without a lock: every webhook counts itself
	// twice, 64 at once, where a mutex would make them queue.
	inFlight atomic.Int64
	waiting  atomic.Int64 // rests in progress
	mu       sync.Mutex
	calm     chan struct{} // closed when inFlight falls to 0 with rests waiting

	rests  atomic.Int64
	rested atomic.Int64 // nanoseconds
}

// Defaults of Pressure.
const (
	DefaultRestFactor = 2
	DefaultMaxRest    = 100 * time.Millisecond
)

// Enter marks a call in flight until the func it returns is called.
func (p *Pressure) Enter() (leave func()) {
	if p == nil {
		return func() {}
	}
	p.inFlight.Add(1)
	return p.leave
}

func (p *Pressure) leave() {
	// Rest counts itself in waiting before it reads inFlight, and this
	// takes from inFlight before it reads waiting: one of the two sees
	// the other, so no rest waits for a call that has left.
	if p.inFlight.Add(-1) == 0 && p.waiting.Load() > 0 {
		p.mu.Lock()
		if p.calm != nil {
			close(p.calm)
			p.calm = nil
		}
		p.mu.Unlock()
	}
}

// Busy says whether a call is in flight now.
func (p *Pressure) Busy() bool {
	return p != nil && p.inFlight.Load() > 0
}

// Rest is called by bulk work after a unit that took worked: with calls
// in flight it waits RestFactor × worked (at most MaxRest), until no call
// is in flight, or until ctx ends, whichever comes first; with none it
// returns at once. It returns how long it waited.
func (p *Pressure) Rest(ctx context.Context, worked time.Duration) time.Duration {
	if !p.Busy() || worked <= 0 {
		return 0
	}
	p.waiting.Add(1)
	defer p.waiting.Add(-1)
	p.mu.Lock()
	if p.calm == nil {
		p.calm = make(chan struct{})
	}
	calm := p.calm
	p.mu.Unlock()
	if !p.Busy() { // the last call left before this rest was seen waiting
		return 0
	}
	factor, bound := p.RestFactor, p.MaxRest
	if factor <= 0 {
		factor = DefaultRestFactor
	}
	if bound <= 0 {
		bound = DefaultMaxRest
	}
	after := p.After
	if after == nil {
		after = time.After
	}
	started := time.Now()
	select {
	case <-calm:
	case <-ctx.Done():
	case <-after(min(time.Duration(factor*float64(worked)), bound)):
	}
	took := time.Since(started)
	p.rests.Add(1)
	p.rested.Add(int64(took))
	return took
}

// PressureStats is what bulk work gave way: rests taken and their time.
type PressureStats struct {
	Rests  int64
	Rested time.Duration
}

// Stats counts the rests since the host started.
func (p *Pressure) Stats() PressureStats {
	if p == nil {
		return PressureStats{}
	}
	return PressureStats{Rests: p.rests.Load(), Rested: time.Duration(p.rested.Load())}
}

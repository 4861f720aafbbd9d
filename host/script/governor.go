package script

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// Governor is what the runs of every pool share, so that one offer's
// runs cannot take the host from the others (one for all offers in the
// host; a pool without one makes its own): a watch of the process's heap,
// and the slots long computations take turns in.
//
// The heap: gopher-lua cannot cap a state's memory, and its VM makes
// strings (`s = s .. s`) where no builtin of ours sees them, so the heap
// is watched instead. A sampler reads runtime/metrics every sampleEvery
// while runs are in progress (and sampleLinger after), and the runs look at that figure before
// each instruction (meter). Each run measures what it holds when the
// heap has grown by a quarter of its memory bound since it last did, and
// stops over its bound (BoundMemory). Above the pressure level the
// sampler asks every run to measure itself and stops the one holding the
// most (BoundPressure), then waits for a garbage collection before it
// judges again, so that one hostile run is stopped, not every run in
// turn. Runs holding less than pressureFloor are never stopped for
// pressure: the heap is then someone else's (the store's caches).
//
// The slots: a run that has computed for long (slotAfter steps) takes one
// of as many slots as half the CPUs (at least one) and keeps it while it
// computes (not while http.request waits); the others wait for one, their
// deadline running. CPUs, not processors: the leadhost binary runs more
// processors than CPUs (store.SuggestedProcsPerCPU). Half the cores stay
// for the short runs and requests of every offer: with two cores, four
// webhooks stuck in a backtracking pattern took both and moved another
// offer's p99 from 2 to 1,300 ms; in turns, one of them computes at a
// time. Shadow runs
// (a candidate's, host/shadow) take turns in a slot of their own: a
// candidate that loops never holds a slot a live run waits for.
type Governor struct {
	pressure    uint64
	heap        atomic.Uint64 // heap objects, as last sampled
	slots       chan struct{}
	shadowSlots chan struct{}

	mu   sync.Mutex
	runs map[*meter]struct{}
	// sampling says the sampler runs; it stops itself once no run has been
	// in progress for sampleLinger (sample), so that a run following
	// another finds it running: starting it (a goroutine, a ticker, a read
	// of runtime/metrics) per run cost a webhook's run a fifth of its CPU.
	sampling bool
	// idle counts the sampler's ticks with no run in progress.
	idle int
	// stoppedAt is the GC cycle count when the sampler last stopped a
	// run; it stops no other until a collection has run since.
	stoppedAt uint64
}

const (
	sampleEvery   = 2 * time.Millisecond
	sampleLinger  = 100 * time.Millisecond // see Governor.sampling
	pressureFloor = 8 << 20
)

// DefaultPressure is the heap above which the largest run is stopped:
// well above what the host holds without scripts (the leadhost binary's
// soft memory limit, 256 MiB, is a collection target, not a ceiling),
// and a few of its runs at their memory bound.
const DefaultPressure = 1 << 30

// NewGovernor makes a governor that stops the largest run above pressure
// bytes of heap (0: DefaultPressure) and gives long runs half of cpus,
// the CPUs the process may use (0: runtime.GOMAXPROCS, which is that
// unless the process runs more processors than CPUs, as the leadhost
// binary does).
func NewGovernor(pressure uint64, cpus int) *Governor {
	if pressure == 0 {
		pressure = DefaultPressure
	}
	if cpus <= 0 {
		cpus = runtime.GOMAXPROCS(0)
	}
	return &Governor{pressure: pressure, runs: map[*meter]struct{}{},
		slots: make(chan struct{}, max(1, cpus/2)), shadowSlots: make(chan struct{}, 1)}
}

// Pressure is the heap above which the largest run is stopped.
func (g *Governor) Pressure() uint64 { return g.pressure }

func (g *Governor) enter(m *meter) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.runs[m] = struct{}{}
	g.idle = 0
	if !g.sampling {
		s := newHeapSample()
		g.heap.Store(s.heap())
		g.sampling = true
		go g.sample(s)
	}
	m.seen = g.heap.Load()
}

func (g *Governor) leave(m *meter) {
	m.left.Store(true)
	m.release()
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.runs, m)
}

// stopIdle says whether the sampler stops at this tick: no run has been
// in progress for sampleLinger.
func (g *Governor) stopIdle() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.runs) > 0 {
		g.idle = 0
		return false
	}
	g.idle++
	if g.idle < int(sampleLinger/sampleEvery) {
		return false
	}
	g.sampling = false
	return true
}

// heapSample reads the two figures the watch needs.
type heapSample []metrics.Sample

func newHeapSample() heapSample {
	s := heapSample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s
}

func (s heapSample) heap() uint64   { return s[0].Value.Uint64() }
func (s heapSample) cycles() uint64 { return s[1].Value.Uint64() }

func (g *Governor) sample(s heapSample) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for range t.C {
		if g.stopIdle() {
			return
		}
		metrics.Read(s)
		g.heap.Store(s.heap())
		if s.heap() > g.pressure {
			g.relieve(s)
		}
	}
}

// relieve stops the run holding the most, as last measured, and asks
// every run to measure itself again.
func (g *Governor) relieve(s heapSample) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var largest *meter
	for m := range g.runs {
		m.flags.Or(flagMeasure)
		if m.flags.Load()&flagStopped == 0 && m.size.Load() >= pressureFloor && (largest == nil || m.size.Load() > largest.size.Load()) {
			largest = m
		}
	}
	if largest == nil || (g.stoppedAt != 0 && s.cycles() <= g.stoppedAt) {
		return
	}
	g.stoppedAt = s.cycles()
	largest.stop(&BoundError{Bound: BoundPressure, Msg: fmt.Sprintf(
		"the host's heap is over %s and this run held the most (%s)", mib(int64(g.pressure)), mib(largest.size.Load()))})
}

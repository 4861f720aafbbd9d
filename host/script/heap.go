package script

import (
	"fmt"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// Heap watches the process's heap for the runs of the pools that share
// it (one for all offers in the host; a pool without one makes its own).
//
// gopher-lua cannot cap a state's memory, and its VM makes strings
// (`s = s .. s`) where no builtin of ours sees them, so the heap is
// watched instead: a sampler reads runtime/metrics every sampleEvery
// while runs are in progress, and the runs look at that figure between
// instructions (meter). Each run measures what it holds when the heap
// has grown by a quarter of its memory bound since it last did, and
// stops over its bound (BoundMemory). Above the pressure level the
// sampler asks every run to measure itself and stops the one holding
// the most (BoundPressure), then waits for a garbage collection before
// it judges again, so that one hostile run is stopped, not every run
// in turn. Runs holding less than pressureFloor are never stopped for
// pressure: the heap is then someone else's (the store's caches).
type Heap struct {
	pressure uint64
	bytes    atomic.Uint64 // heap objects, as last sampled

	mu       sync.Mutex
	runs     map[*meter]struct{}
	stopping chan struct{} // closes the sampler when the last run leaves
	// stoppedAt is the GC cycle count when the sampler last stopped a
	// run; it stops no other until a collection has run since.
	stoppedAt uint64
}

const (
	sampleEvery   = 2 * time.Millisecond
	pressureFloor = 8 << 20
)

// NewHeap makes a watch that stops the largest run above pressure bytes
// of heap; 0 means three quarters of the Go memory limit (GOMEMLIMIT)
// when one is set, else 2 GiB.
func NewHeap(pressure uint64) *Heap {
	if pressure == 0 {
		pressure = 2 << 30
		if limit := debug.SetMemoryLimit(-1); limit > 0 && limit < math.MaxInt64 {
			pressure = uint64(limit) / 4 * 3
		}
	}
	return &Heap{pressure: pressure, runs: map[*meter]struct{}{}}
}

// Pressure is the heap above which the largest run is stopped.
func (h *Heap) Pressure() uint64 { return h.pressure }

func (h *Heap) enter(m *meter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.runs[m] = struct{}{}
	if len(h.runs) == 1 {
		s := newHeapSample()
		h.bytes.Store(s.heap())
		h.stopping = make(chan struct{})
		go h.sample(h.stopping, s)
	}
	m.seen = h.bytes.Load()
}

func (h *Heap) leave(m *meter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.runs, m)
	if len(h.runs) == 0 {
		close(h.stopping)
	}
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

func (h *Heap) sample(stopping chan struct{}, s heapSample) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		select {
		case <-stopping:
			return
		case <-t.C:
		}
		metrics.Read(s)
		h.bytes.Store(s.heap())
		if s.heap() > h.pressure {
			h.relieve(s)
		}
	}
}

// relieve stops the run holding the most, as last measured, and asks
// every run to measure itself again.
func (h *Heap) relieve(s heapSample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var largest *meter
	for m := range h.runs {
		m.flags.Or(flagMeasure)
		if m.flags.Load()&flagStopped == 0 && m.size.Load() >= pressureFloor && (largest == nil || m.size.Load() > largest.size.Load()) {
			largest = m
		}
	}
	if largest == nil || (h.stoppedAt != 0 && s.cycles() <= h.stoppedAt) {
		return
	}
	h.stoppedAt = s.cycles()
	largest.stop(&BoundError{Bound: BoundPressure, Msg: fmt.Sprintf(
		"the host's heap is over %s and this run held the most (%s)", mib(int64(h.pressure)), mib(largest.size.Load()))})
}

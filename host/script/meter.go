package script

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// A run's bounds (issue 12, item 5): memory, log bytes, leads added. A
// run that passes one is stopped with a Lua error naming it, at the
// script's line, and cannot carry on by catching that error: every later
// instruction fails the same way.
//
// The memory bound needs the VM's help, and gopher-lua has no instruction
// hook. It does check the run's context before every instruction
// (mainLoopWithContext: `case <-L.ctx.Done()`), on the goroutine running
// the script; meter is the context the VM is given, and its Done is the
// hook: before every instruction it looks at the process heap (an atomic
// the Governor keeps, governor.go) and, once the heap has grown by a step
// since it last did, measures what the run holds (size.go). The run's
// modules keep the run's own context (Run.Ctx); only the VM sees the
// meter.

// Bound names a per-run bound, as a stopped run's error says it.
type Bound string

// The bounds a run can be stopped for.
const (
	BoundMemory   Bound = "memory"          // what the run holds (Limits.Memory)
	BoundPressure Bound = "memory pressure" // the host's heap, largest run first (Governor)
	BoundLog      Bound = "log"             // bytes of core.log and print (Limits.LogBytes)
	BoundLeads    Bound = "leads"           // leads added with core.lead.add (Limits.Leads)
)

// BoundError is a run stopped for a bound: Msg says what it did.
type BoundError struct {
	Bound Bound
	Msg   string
}

func (e *BoundError) Error() string {
	return fmt.Sprintf("stopped by the %s bound: %s", e.Bound, e.Msg)
}

// meter is the context the VM checks before each instruction.
type meter struct {
	context.Context
	v       *vm
	gov     *Governor
	step    uint64 // heap growth between two measures: a quarter of the bound
	stopped atomic.Pointer[BoundError]
	halt    chan struct{} // closed when stopped or past the deadline: the VM fails at once
	// deadline is the run's (deadline.go); expired is closed when it
	// passes (the state's channel, the run's while it runs).
	deadline time.Time
	expired  chan struct{}
	// flags has flagStopped once stopped, and flagMeasure while the
	// Governor, under pressure, asks the run to measure itself so that the
	// largest can be found: one load tells Done both.
	flags atomic.Uint32
	// size is what the run held when it last measured itself.
	size atomic.Int64
	// seen is the heap when the run last measured itself; logged and
	// added count the run's log bytes and the leads it added (the run's
	// goroutine only).
	seen   uint64
	logged int
	added  int
	steps  uint32      // instructions and matcher steps, for yield
	slot   atomic.Bool // the run holds one of the Governor's slots
	// shadow is a candidate's run (Run.Shadow): it takes the Governor's
	// shadow slot, never one of the live runs', and rests more (yield).
	// Set before the run starts, read-only after.
	shadow bool
	rested time.Time   // when the run last rested, holding its slot
	left   atomic.Bool // the run is over for the Governor (see yield)
	// nextWalk is when the run may measure itself again (walkShare).
	nextWalk time.Time
}

const (
	flagStopped = 1 << iota
	flagMeasure
	flagDeadline // the run passed its deadline (deadline.go)
	flagHalted   // halt is closed
)

func newMeter(ctx context.Context, v *vm, gov *Governor) *meter {
	return &meter{Context: ctx, v: v, gov: gov, halt: make(chan struct{}), step: uint64(v.limits.Memory) / 4}
}

// Done is called by the VM before every instruction, on the run's
// goroutine. Every instruction: one instruction can double a string, so
// looking every n would let it grow 2^n-fold in between. What it costs
// (two atomic loads) is in BenchmarkInstructions.
func (m *meter) Done() <-chan struct{} {
	m.steps++
	if m.steps%yieldEvery == 0 {
		m.yield()
	}
	// h - seen wraps past step when a collection brought h below seen.
	if m.flags.Load() != 0 || m.gov.heap.Load()-m.seen >= m.step {
		if m.slow() {
			return m.halt
		}
	}
	return m.Context.Done() // the caller's end; the deadline closes halt
}

// slow is Done's rare path: it says whether the run is stopped.
func (m *meter) slow() bool {
	f := m.flags.Load()
	if f&(flagStopped|flagDeadline) != 0 {
		return true
	}
	h := m.gov.heap.Load()
	if h < m.seen && f&flagMeasure == 0 {
		m.seen = h // a collection freed memory: grow from here
		return false
	}
	m.look(h)
	return m.flags.Load()&flagStopped != 0
}

// A run that computes for long shares the CPU (yield).
const (
	yieldEvery = 4096    // instructions or matcher steps between two yields
	slotAfter  = 1 << 18 // steps a run computes before it needs a slot: some 5-20 ms
)

// yield shares the CPU once the run has computed for slotAfter steps
// (counted, not timed: a hook waiting on http.request computes nothing):
// it takes one of the Governor's slots (waiting for one until its
// deadline), steps aside every few thousand instructions, and rests a
// millisecond every four. Go preempts a busy goroutine every 10 ms
// only; a webhook's path takes several hops (the poller, the handler,
// the store's writer), and each hop waited behind every stuck run. The
// rest costs a long run a fifth of its speed, and gave another offer's
// webhooks a p99 of 9–23 ms beside four stuck patterns (23–337 ms without
// it; `leadhost bench hostile`, on a loaded 2-core machine). A shadow
// run takes the shadow slot instead and rests a millisecond every one:
// a looping candidate held the only live slot of a 2-core machine, and
// a live hook of 85 ms took 9.8 s behind it. The run's goroutine only.
func (m *meter) yield() {
	if !m.slot.Load() {
		if m.steps < slotAfter {
			return
		}
		select {
		case m.slots() <- struct{}{}:
			m.slot.Store(true)
			if m.left.Load() {
				m.release() // an abandoned run's goroutine, after its leave: give the slot back
				return
			}
		case <-m.Context.Done(): // the VM raises at this instruction
			return
		case <-m.expired:
			return
		case <-m.halt:
			return
		}
		m.rested = time.Now()
	}
	if time.Since(m.rested) > m.restEvery() {
		time.Sleep(time.Millisecond)
		m.rested = time.Now()
		return
	}
	runtime.Gosched()
}

// slots are the slots the run takes turns in: the live runs' or the
// shadow runs'.
func (m *meter) slots() chan struct{} {
	if m.shadow {
		return m.gov.shadowSlots
	}
	return m.gov.slots
}

// restEvery is how long the run computes between two rests of a
// millisecond: a shadow run computes at half speed at most, and leaves
// the rest of its core to the live path.
func (m *meter) restEvery() time.Duration {
	if m.shadow {
		return time.Millisecond
	}
	return 4 * time.Millisecond
}

// release gives the run's slot back while it waits on something else
// (http.request): it takes one again when it computes on. Either
// goroutine (the Governor's leave too): the swap decides who gives it.
func (m *meter) release() {
	if m != nil && m.slot.CompareAndSwap(true, false) {
		<-m.slots()
	}
}

// Err is what the VM raises when Done is closed: the bound, if the run
// was stopped for one.
func (m *meter) Err() error {
	if b := m.stopped.Load(); b != nil {
		return b
	}
	return m.ctxErr()
}

// stop stops the run for a bound; the first bound stays. Any goroutine.
func (m *meter) stop(b *BoundError) {
	if m.stopped.CompareAndSwap(nil, b) {
		m.flags.Or(flagStopped)
		m.closeHalt()
	}
}

// closeHalt closes halt once, for a bound or the deadline.
func (m *meter) closeHalt() {
	if m.flags.Or(flagHalted)&flagHalted == 0 {
		close(m.halt)
	}
}

// look measures the run when the heap grew by a step since the last
// measure, or when the Governor asks; a run over its memory is stopped.
func (m *meter) look(h uint64) {
	m.seen = h
	limit := m.v.limits.Memory
	now := time.Now()
	if now.Before(m.nextWalk) && m.flags.Load()&flagMeasure == 0 {
		// Measured a moment ago (walkShare): only the strings where a
		// doubling string is.
		if m.v.quickStrings(m.v.L) > limit {
			m.stop(&BoundError{Bound: BoundMemory, Msg: fmt.Sprintf("the run holds over %s (memory_mb in offer.toml)", mib(limit))})
		}
		return
	}
	m.flags.And(^uint32(flagMeasure))
	size := m.v.size(m.v.L, limit)
	m.size.Store(size)
	m.nextWalk = time.Now().Add(min(time.Since(now)*walkShare, maxWalkWait))
	if size > limit {
		m.stop(&BoundError{Bound: BoundMemory, Msg: fmt.Sprintf("the run holds over %s (memory_mb in offer.toml)", mib(limit))})
	}
}

// walkShare bounds the time a run spends measuring itself to about a
// tenth of its own: after a walk that took d, the next waits 10·d. The
// heap grows with every run's garbage, and a run holding a big table
// walked it at every step of that growth. A run growing meanwhile is
// measured when the wait is over; the walk stops at the bound, so the
// wait is bounded too.
const walkShare = 10

// maxWalkWait bounds that wait: a walk descheduled for a while (a
// collection of a huge heap) must not exempt the run for seconds.
const maxWalkWait = time.Second

// raise stops the run for a bound and raises the error at the script's
// line; for the modules, on the run's goroutine.
func (m *meter) raise(L *lua.LState, b *BoundError) {
	m.stop(b)
	L.RaiseError("%s", m.stopped.Load().Error())
}

// countLog counts a line of the run's log (core.log, print, a refused
// edit) and stops the run past its log bound: the line is not logged.
// A nil meter (a Run used without Pool.Run) counts nothing.
func (m *meter) countLog(L *lua.LState, line string) {
	if m == nil {
		return
	}
	m.logged += len(line)
	if m.logged > m.v.limits.LogBytes {
		m.raise(L, &BoundError{Bound: BoundLog, Msg: fmt.Sprintf("the run wrote over %s of log (log_kb in offer.toml)", mib(int64(m.v.limits.LogBytes)))})
	}
}

// countLead stops the run before it adds a lead past its leads bound.
func (m *meter) countLead(L *lua.LState) {
	if m != nil && m.added >= m.v.limits.Leads {
		m.raise(L, &BoundError{Bound: BoundLeads, Msg: fmt.Sprintf("the run added %d leads, its bound (leads_per_run in offer.toml)", m.v.limits.Leads)})
	}
}

func mib(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	if n >= 1<<10 && n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

package script

import (
	"context"
	"sync/atomic"
	"time"
)

// A run's deadline without a context per run (issue 16): a
// context.WithTimeout (its context, timer, channel and cancel) was 5 of an
// empty run's 8 allocations. The meter is the VM's context over the
// caller's (whose cancellation it passes on as before) and says the
// deadline itself; the state keeps one timer, re-armed for each run, whose
// firing marks the run's meter and closes the state's expired channel.
// A timer that fired (or may be firing) is not re-armed: the next run gets
// a new one and a new channel, so that a late firing can only reach the
// run it was armed for.

// deadlineTimer is a state's timer and the meter it is armed for.
type deadlineTimer struct {
	t   *time.Timer
	run atomic.Pointer[meter]
}

// arm starts m's deadline, the sooner of timeout and its context's.
func (v *vm) arm(m *meter, timeout time.Duration) {
	m.deadline = time.Now().Add(timeout)
	if d, ok := m.Context.Deadline(); ok && d.Before(m.deadline) {
		m.deadline = d
	}
	if v.expired == nil {
		v.expired = make(chan struct{})
	}
	m.expired = v.expired
	if v.timer == nil {
		dt := &deadlineTimer{}
		dt.t = time.AfterFunc(time.Hour, func() {
			if m := dt.run.Load(); m != nil {
				m.expire()
			}
		})
		dt.t.Stop()
		v.timer = dt
	}
	v.timer.run.Store(m)
	v.timer.t.Reset(time.Until(m.deadline))
}

// disarm stops the run's timer; one that fired, or may be firing, is
// dropped with the channel it closes.
func (v *vm) disarm() {
	if !v.timer.t.Stop() {
		v.timer, v.expired = nil, nil
		return
	}
	v.timer.run.Store(nil)
}

// expire is the deadline passing: the VM fails at its next instruction.
func (m *meter) expire() {
	if m.flags.Or(flagDeadline)&flagDeadline == 0 {
		close(m.expired)
		m.closeHalt()
	}
}

// Deadline is the run's: the pool's timeout or the caller's, if sooner.
func (m *meter) Deadline() (time.Time, bool) { return m.deadline, true }

// timedOut says whether the run ended at its deadline or its caller's end.
func (m *meter) timedOut() bool {
	return m.flags.Load()&flagDeadline != 0 || m.Context.Err() != nil
}

// ctxErr is what the run's context would say: past its deadline, or the
// caller's end.
func (m *meter) ctxErr() error {
	if m.flags.Load()&flagDeadline != 0 {
		return context.DeadlineExceeded
	}
	return m.Context.Err()
}

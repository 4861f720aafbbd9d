package host

import (
	"context"
	"testing"
	"time"
)

// A rest waits only while calls are in flight, and ends when they are
// done, at its bound (RestFactor × the work, at most MaxRest) or when its
// context ends. Time is the test's: the timer fires only when told.
func TestPressureRestsWhileCallsAreInFlight(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		inFlight  int
		worked    time.Duration
		end       func(leave []func(), fire chan time.Time, cancel context.CancelFunc)
		wantBound time.Duration // the timer asked for; 0: no rest at all
	}{
		{name: "no call in flight", inFlight: 0, worked: 10 * time.Millisecond},
		{name: "no work to rest for", inFlight: 1, worked: 0},
		{name: "the calls end", inFlight: 2, worked: 10 * time.Millisecond, wantBound: 20 * time.Millisecond,
			end: func(leave []func(), _ chan time.Time, _ context.CancelFunc) {
				for _, l := range leave {
					l()
				}
			}},
		{name: "the bound passes", inFlight: 1, worked: 10 * time.Millisecond, wantBound: 20 * time.Millisecond,
			end: func(_ []func(), fire chan time.Time, _ context.CancelFunc) { fire <- time.Time{} }},
		{name: "a long unit rests MaxRest", inFlight: 1, worked: time.Second, wantBound: DefaultMaxRest,
			end: func(_ []func(), fire chan time.Time, _ context.CancelFunc) { fire <- time.Time{} }},
		{name: "the run stops", inFlight: 1, worked: 10 * time.Millisecond, wantBound: 20 * time.Millisecond,
			end: func(_ []func(), _ chan time.Time, cancel context.CancelFunc) { cancel() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := make(chan time.Duration, 1)
			fire := make(chan time.Time, 1)
			p := &Pressure{After: func(d time.Duration) <-chan time.Time { asked <- d; return fire }}
			var leave []func()
			for range tc.inFlight {
				leave = append(leave, p.Enter())
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan struct{})
			go func() { defer close(done); p.Rest(ctx, tc.worked) }()
			if tc.wantBound == 0 {
				<-done
				if n := p.Stats().Rests; n != 0 || len(asked) != 0 {
					t.Fatalf("rested %d times (timer asked: %d)", n, len(asked))
				}
				return
			}
			if d := <-asked; d != tc.wantBound { // resting from here
				t.Errorf("rests up to %s, want %s", d, tc.wantBound)
			}
			select {
			case <-done:
				t.Fatal("the rest ended with the calls still in flight and its bound not passed")
			default:
			}
			tc.end(leave, fire, cancel)
			<-done
			if n := p.Stats().Rests; n != 1 {
				t.Errorf("%d rests counted, want 1", n)
			}
		})
	}
}

// A nil Pressure (a runner without a host) marks nothing and never rests.
func TestNilPressureNeverRests(t *testing.T) {
	t.Parallel()
	var p *Pressure
	p.Enter()()
	if d := p.Rest(context.Background(), time.Hour); d != 0 {
		t.Errorf("rested %s", d)
	}
}

// A call's leave after a busy period ended starts a new one: the next
// rest waits again.
func TestPressureBusyAgainAfterCalm(t *testing.T) {
	t.Parallel()
	fire := make(chan time.Time)
	asked := make(chan time.Duration, 1)
	p := &Pressure{After: func(d time.Duration) <-chan time.Time { asked <- d; return fire }}
	p.Enter()()
	if d := p.Rest(context.Background(), time.Millisecond); d != 0 || p.Busy() {
		t.Fatalf("rested %s with no call in flight (busy %v)", d, p.Busy())
	}
	leave := p.Enter()
	if !p.Busy() {
		t.Fatal("not busy with a call in flight")
	}
	done := make(chan struct{})
	go func() { defer close(done); p.Rest(context.Background(), time.Millisecond) }()
	<-asked
	leave()
	<-done
}

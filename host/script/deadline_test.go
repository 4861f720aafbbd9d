package script

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestDeadlinesStopTheirRunOnly holds the state's re-armed deadline
// (deadline.go) to what a context per run did: a run past its deadline
// stops with a timeout, and the runs after it, on the same pool and its
// re-armed or new timer, run to their end; a caller's sooner deadline
// or its cancellation stops a run as before, and the error says so.
func TestDeadlinesStopTheirRunOnly(t *testing.T) {
	t.Parallel()
	p := NewPool(Limits{Timeout: 100 * time.Millisecond})
	loop := mustCompile(t, "scripts/test/loop.lua", `while true do end`)
	quick := mustCompile(t, "scripts/test/quick.lua", `local n = 0 for i = 1, 1000 do n = n + i end return n`)
	timedOut := func(what string, err error, want string) {
		t.Helper()
		var re *RunError
		if !errors.As(err, &re) || !re.Timeout || !strings.Contains(re.Msg, want) {
			t.Fatalf("%s: %v, want a timeout saying %q", what, err, want)
		}
	}
	for round := 0; round < 3; round++ {
		timedOut("a loop", p.Run(context.Background(), loop, nil, nil), "context deadline exceeded")
		// Quick runs, each on a timer re-armed after the last (or new
		// after one that fired): none is stopped by an earlier run's.
		for i := 0; i < 200; i++ {
			if err := p.Run(context.Background(), quick, nil, nil); err != nil {
				t.Fatalf("round %d, run %d after a timed-out one: %v", round, i, err)
			}
		}
	}
	patient := NewPool(Limits{Timeout: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	timedOut("the caller's deadline", patient.Run(ctx, loop, nil, nil), "context deadline exceeded")
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	timedOut("the caller's end", patient.Run(ctx, loop, nil, nil), "context canceled")
	if err := patient.Run(context.Background(), quick, nil, nil); err != nil {
		t.Fatalf("after the caller's end: %v", err)
	}
}

package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"leadhost/store"
)

// TestTimelineShowsAStallThatTheRunsP99Hides: a 150 ms stall in one
// window of a 1 s load is under 1% of the calls, so the run's p99 misses
// it; the timeline shows it in its own window, and only there.
func TestTimelineShowsAStallThatTheRunsP99Hides(t *testing.T) {
	t.Parallel()
	var calls []call
	for i := range 1000 {
		at := time.Duration(i) * time.Millisecond
		took := time.Millisecond
		if at >= 500*time.Millisecond && at < 505*time.Millisecond {
			took = 150 * time.Millisecond
		}
		calls = append(calls, call{at: at, took: took})
	}
	if _, p99 := percentiles(calls); p99 > 10*time.Millisecond {
		t.Fatalf("the run's p99 is %v: the test meant it to miss the stall", p99)
	}
	ws := timeline(calls, 100*time.Millisecond)
	if len(ws) != 10 {
		t.Fatalf("%d windows, want 10", len(ws))
	}
	for i, w := range ws {
		stalled := i == 5
		if w.n != 100 {
			t.Errorf("window %d holds %d calls, want 100", i, w.n)
		}
		if got := w.p99 >= 150*time.Millisecond; got != stalled {
			t.Errorf("window %d (from %v): p99 %v, stall seen %v, want %v", i, w.from, w.p99, got, stalled)
		}
	}
	var out bytes.Buffer
	printTimeline(&out, ws, 10*time.Millisecond)
	if !strings.Contains(out.String(), "1 of 10 windows with p99 over 10ms") {
		t.Errorf("the timeline does not count the stalled window:\n%s", out.String())
	}
}

// TestPrintRoundPerWriteAndPerGroup: the committer's sums read as µs per
// write and per group, as the README's table gives them.
func TestPrintRoundPerWriteAndPerGroup(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		st   store.CommitStats
		want []string
	}{
		{"none", store.CommitStats{}, []string{"no durable writes"}},
		{"64 writes in 4 groups", store.CommitStats{Ops: 64, Groups: 4, Queued: 64 * 100 * time.Microsecond,
			Build: 64 * 10 * time.Microsecond, Held: 4 * 900 * time.Microsecond, Write: 4 * 1800 * time.Microsecond, Log: 4 * 1500 * time.Microsecond,
			Wake: 64 * 300 * time.Microsecond, Round: 64 * 3 * time.Millisecond,
			Waited: 64 * 800 * time.Microsecond, InBadger: 64 * 1800 * time.Microsecond, Writes: [8]int64{2: 3, 7: 1}},
			[]string{"64 writes in 4 groups, 16.0 a group", "100 µs queued", "800 µs until its group was sent", "1800 µs while its group was written",
				"300 µs from the write's end", "= 3000 µs", "160 µs of the committer's CPU", "900 µs open", "1800 µs written: 1500 µs in the write-ahead log",
				"+ 300 µs in Badger (no sync)",
				"≤2ms 3,", "longer 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			printRound(&out, "rounds", tc.st)
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("no %q in:\n%s", w, out.String())
				}
			}
		})
	}
}

package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// TestCommitStatsAccountForEveryWrite: after concurrent adds, the stats
// count each add once, gather them into no more groups than adds, and a
// caller's round holds the stages it is made of.
func TestCommitStatsAccountForEveryWrite(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		opts    Options
		writers int
	}{
		{"in memory, one writer", Options{}, 1},
		{"on disk with fsync, 16 writers", Options{Dir: t.TempDir()}, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestStore(t, tc.opts)
			before := s.CommitStats()
			const each = 20
			var wg sync.WaitGroup
			for w := range tc.writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						if _, _, err := s.Add(context.Background(), NewLead{Offer: "o", Key: fmt.Sprintf("%d-%d", w, i)}); err != nil {
							t.Error(err)
						}
					}
				}()
			}
			wg.Wait()
			st := s.CommitStats().Sub(before)
			n := int64(tc.writers * each)
			if st.Ops != n {
				t.Errorf("ops = %d, want %d", st.Ops, n)
			}
			if st.Groups < 1 || st.Groups > n {
				t.Errorf("groups = %d, want 1..%d", st.Groups, n)
			}
			if st.Write <= 0 || st.Round <= 0 || st.Wake <= 0 || st.Build <= 0 {
				t.Errorf("a stage took no time: %+v", st)
			}
			// A write that took one group: its stages add up to its round.
			if sum := st.Queued + st.Waited + st.InBadger + st.Wake; sum != st.Round {
				t.Errorf("queued + waited + in Badger + wake = %v, round %v: %+v", sum, st.Round, st)
			}
			var writes int64
			for _, n := range st.Writes {
				writes += n
			}
			if writes != st.Groups {
				t.Errorf("%d Badger writes by duration, %d groups", writes, st.Groups)
			}
			// Every group has an op, which waited at least for its write.
			if st.Round < st.Write {
				t.Errorf("the callers waited %v in all, less than Badger's %v: %+v", st.Round, st.Write, st)
			}
		})
	}
}

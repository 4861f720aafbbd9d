package store

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

// The bulk lane (commit.go): a webhook's write does not wait behind check
// answers' batches queued before it, each batch is still one group, and
// batches keep landing while small writes never stop coming.

// batchOf records a status edit of each of leads in one batch: one op of
// len(leads) steps, bulk past bulkSteps.
func batchOf(t *testing.T, s *Badger, leads []uint64, to Status) Batch {
	t.Helper()
	b := s.NewBatch()
	for _, id := range leads {
		if err := b.Edit(id, Patch{Status: ptr(to)}); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func addLeads(t *testing.T, s *Badger, n int) []uint64 {
	t.Helper()
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = mustAdd(t, s, NewLead{Offer: "acme"}).ID
	}
	return ids
}

// TestSmallWriteLandsBeforeQueuedBatches: two check answers' batches are
// queued, then a webhook's lead; the committer, free again, lands the
// lead first (its event is published first) and puts the two batches in
// groups of their own, not one group with everything.
func TestSmallWriteLandsBeforeQueuedBatches(t *testing.T) {
	tests := []struct {
		name    string
		batches int
	}{
		{"one batch ahead", 1},
		{"two batches ahead", 2},
		{"four batches ahead", 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestStore(t, Options{})
			ctx := context.Background()
			var mu sync.Mutex
			var order []Event
			s.Subscribe(func(ev Event) { mu.Lock(); order = append(order, ev); mu.Unlock() })
			per := bulkSteps * 2
			var bs []Batch
			for range tc.batches {
				bs = append(bs, batchOf(t, s, addLeads(t, s, per), StatusProcessing))
			}
			mu.Lock()
			order = order[:0] // the adds' events
			mu.Unlock()
			var wg sync.WaitGroup
			entered, release := gate(s)
			<-entered
			groups := s.CommitStats().Groups
			for i, b := range bs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := b.Commit(ctx); err != nil {
						t.Error(err)
					}
				}()
				waitQueued(t, s, i+1)
			}
			added := make(chan *Lead, 1)
			go func() {
				l, _, err := s.Add(ctx, NewLead{Offer: "hook"})
				if err != nil {
					t.Error(err)
				}
				added <- l
			}()
			waitQueued(t, s, tc.batches+1)
			close(release)
			wg.Wait()
			lead := <-added
			mu.Lock()
			defer mu.Unlock()
			if len(order) != tc.batches*per+1 {
				t.Fatalf("%d events, want %d", len(order), tc.batches*per+1)
			}
			if order[0].LeadID != lead.ID {
				for i, ev := range order {
					if ev.LeadID == lead.ID {
						t.Errorf("the webhook's lead landed after %d batch edits queued before it", i)
					}
				}
			}
			if got := s.CommitStats().Groups - groups; got < int64(tc.batches) {
				t.Errorf("%d batches and a lead landed in %d groups: batches shared a group", tc.batches, got)
			}
			mustVerify(t, s)
		})
	}
}

// TestBatchesLandUnderSustainedSmallWrites: writers adding leads without
// pause do not starve check answers' batches, and the batches do not stop
// the writers: both make progress, and every batch lands whole.
func TestBatchesLandUnderSustainedSmallWrites(t *testing.T) {
	s, _ := newTestStore(t, Options{})
	ctx := context.Background()
	const batches = 5
	per := bulkSteps * 4
	leads := addLeads(t, s, per)
	var (
		stop   atomic.Bool
		adds   atomic.Int64
		wg     sync.WaitGroup
		during []int64 // adds landed while each batch was committing
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if _, _, err := s.Add(ctx, NewLead{Offer: "hook"}); err != nil {
					t.Error(err)
					return
				}
				adds.Add(1)
			}
		}()
	}
	statuses := []Status{StatusProcessing, StatusCallback}
	for i := range batches {
		b := batchOf(t, s, leads, statuses[i%2])
		from := adds.Load()
		res, err := b.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Leads != per {
			t.Fatalf("batch %d wrote %d leads of %d", i, res.Leads, per)
		}
		during = append(during, adds.Load()-from)
	}
	stop.Store(true)
	wg.Wait()
	if s.CommitStats().Bulk < batches {
		t.Errorf("%d bulk ops counted, want %d", s.CommitStats().Bulk, batches)
	}
	var total int64
	for _, n := range during {
		total += n
	}
	if total == 0 {
		t.Errorf("no lead added while %d batches committed: the writers were held back", batches)
	}
	for _, id := range leads {
		if l, _ := s.Get(ctx, id); l.Status != statuses[(batches-1)%2] {
			t.Fatalf("lead %d: status %d after the last batch", id, l.Status)
		}
	}
	mustVerify(t, s)
}

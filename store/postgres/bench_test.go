package postgres

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"leadhost/store"
	"leadhost/store/postgres/pgtest"
)

// The test server runs with fsync off (pgtest): these measure leadhost's
// and PostgreSQL's CPU per write, not the disk. `leadhost bench hook
// --store postgres://…` measures webhooks on a durable server.

// BenchmarkAdd: webhooks' writes, 32 callers at once, each a lead with an
// idempotency key and a send item.
func BenchmarkAdd(b *testing.B) {
	s, err := Open(context.Background(), pgtest.URL(b), store.Options{Feeds: []string{"send"}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var n atomic.Int64
	fields := map[string]string{"phone": "79990001122", "name": "Иван", "email": "ivan@example.com"}
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.Add(context.Background(), store.NewLead{Offer: "bench", Key: fmt.Sprint(n.Add(1)), Fields: fields}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "leads/s")
}

// BenchmarkBatchCommit1000: a status-check response, 1,000 leads moved
// from 2 to 3 or back, committed as one batch.
func BenchmarkBatchCommit1000(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, pgtest.URL(b), store.Options{Feeds: []string{"send"}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ids := make([]uint64, 1000)
	for i := range ids {
		l, _, err := s.Add(ctx, store.NewLead{Offer: "bench", Status: store.StatusProcessing})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = l.ID
	}
	b.ResetTimer()
	for i := range b.N {
		to := store.StatusCallback
		if i%2 == 1 {
			to = store.StatusProcessing
		}
		page, err := s.List(ctx, store.Query{Offer: "bench", Limit: 1000})
		if err != nil {
			b.Fatal(err)
		}
		bt := s.NewBatch()
		bt.Seed(page.Leads)
		for _, id := range ids {
			if err := bt.Edit(id, store.Patch{Status: &to}); err != nil {
				b.Fatal(err)
			}
		}
		if res, err := bt.Commit(ctx); err != nil || res.Edits != len(ids) {
			b.Fatalf("commit: %+v %v", res, err)
		}
	}
	b.ReportMetric(float64(b.N*len(ids))/b.Elapsed().Seconds(), "edits/s")
}

// BenchmarkLeaseRun is what a check run on several nodes adds: taking
// its offer's lease with the schedule's gap checked, then giving it up
// with the run's end recorded.
func BenchmarkLeaseRun(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, pgtest.URL(b), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	req := store.LeaseRequest{Name: "check/bench", Node: "a", What: "processing", TTL: 30 * time.Second, Schedule: "check/bench/processing"}
	for b.Loop() {
		if g, err := s.TakeLease(ctx, req); err != nil || !g.Taken {
			b.Fatalf("%+v, %v", g, err)
		}
		if err := s.ReleaseLease(ctx, req.Name, req.Node, req.Schedule); err != nil {
			b.Fatal(err)
		}
	}
}

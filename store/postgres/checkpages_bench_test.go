package postgres

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"leadhost/store"
	"leadhost/store/postgres/pgtest"
)

// BenchmarkCheckPages is the store's side of a 10,000-lead processing
// check run (host/check's BenchmarkProcessingRunPostgres without the
// partner and check.lua): 200-lead pages listed, each lead's status moved
// (callback ↔ hold, with a comment every other time) in a batch,
// committed before the next page is read. On the server at
// LEADHOST_BENCH_DATABASE_URL (durable) or the test server.
func BenchmarkCheckPages(b *testing.B) {
	const leads, size = 10_000, 200
	ctx := context.Background()
	s, err := Open(ctx, pgtest.On(b, os.Getenv("LEADHOST_BENCH_DATABASE_URL")), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < leads; i += 32 {
				if _, _, err := s.Add(ctx, store.NewLead{Offer: "bench", Ext: strconv.Itoa(100000 + i), Status: store.StatusProcessing,
					Fields: map[string]string{"phone": "79990001122"}}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var list, edit, commit time.Duration
	b.ResetTimer()
	for i := range b.N {
		to, comment := store.StatusHold, (*string)(nil)
		if i%2 == 1 {
			to, comment = store.StatusCallback, ptr(fmt.Sprint("operator note ", i))
		}
		q := store.Query{Offer: "bench", Statuses: store.Statuses(store.StatusProcessing, store.StatusCallback, store.StatusHold), Limit: size}
		for {
			t0 := time.Now()
			bt := s.NewBatch()
			page, err := s.List(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			bt.Seed(page.Leads)
			for _, l := range page.Leads {
				if err := bt.Edit(l.ID, store.Patch{Status: &to, Comment: comment, By: "check"}); err != nil {
					b.Fatal(err)
				}
			}
			t2 := time.Now()
			if res, err := bt.Commit(ctx); err != nil || res.Edits != len(page.Leads) {
				b.Fatalf("commit: %+v %v", res, err)
			}
			list, edit, commit = list+t1.Sub(t0), edit+t2.Sub(t1), commit+time.Since(t2)
			if page.Next == "" {
				break
			}
			q.Cursor = page.Next
		}
	}
	pages := float64(b.N * leads / size)
	b.ReportMetric(float64(b.N*leads)/b.Elapsed().Seconds(), "leads/s")
	b.ReportMetric(float64(list.Milliseconds())/pages, "list-ms/page")
	b.ReportMetric(float64(edit.Milliseconds())/pages, "edit-ms/page")
	b.ReportMetric(float64(commit.Milliseconds())/pages, "commit-ms/page")
}

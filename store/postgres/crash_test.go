package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"leadhost/store"
	"leadhost/store/postgres/pgtest"
)

// Every lead Add acknowledged is in the database after PostgreSQL
// crashes under the load and starts again (an immediate shutdown: no
// checkpoint, recovery from the WAL): Add answers only once the server
// has committed. Calls the crash cut short answer with an error.
func TestAcknowledgedAddsSurviveAServerCrash(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.Own(t)
	url, _, err := srv.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, url, store.Options{Feeds: []string{"send"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const writers, crashAfter = 16, 400
	var (
		mu      sync.Mutex
		acked   []uint64
		failed  int
		crashed = make(chan struct{})
		once    sync.Once
		wg      sync.WaitGroup
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				l, _, err := s.Add(ctx, store.NewLead{Offer: "acme", Key: fmt.Sprintf("%d-%d", w, i)})
				mu.Lock()
				if err != nil {
					failed++
					mu.Unlock()
					return
				}
				acked = append(acked, l.ID)
				n := len(acked)
				mu.Unlock()
				if n == crashAfter {
					once.Do(func() { go func() { srv.Crash(); close(crashed) }() })
				}
			}
		}()
	}
	wg.Wait()
	<-crashed
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	after, err := Open(ctx, url, store.Options{Feeds: []string{"send"}})
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	for _, id := range acked {
		if _, err := after.Get(ctx, id); err != nil {
			t.Errorf("lead %d was acknowledged before the crash: %v", id, err)
		}
	}
	f, _ := after.Feed("send")
	items, err := f.Pending(ctx, 100_000)
	if err != nil || len(items) < len(acked) {
		t.Errorf("%d send items (%v) for %d acknowledged leads: each lead's item is committed with it", len(items), err, len(acked))
	}
	if probs, err := after.Verify(ctx); err != nil || len(probs) > 0 {
		t.Errorf("verify after the crash: %v %v", probs, err)
	}
	t.Logf("%d adds acknowledged, %d cut short by the crash", len(acked), failed)
}

package send

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"leadhost/host/hosttest"
	"leadhost/store"
)

// timedFeed is a feed that sums the time spent reading it.
type timedFeed struct {
	store.Feed
	mu      sync.Mutex
	reading time.Duration
	reads   int
}

func (f *timedFeed) PendingAfter(ctx context.Context, after *store.FeedItem, limit int) ([]store.FeedItem, error) {
	start := time.Now()
	items, err := f.Feed.PendingAfter(ctx, after, limit)
	f.mu.Lock()
	f.reading += time.Since(start)
	f.reads++
	f.mu.Unlock()
	return items, err
}

// TestWakesDoNotKeepTheDispatcherReading: with a backlog behind a send
// in progress, a wake per new lead (thousands a second on a busy day)
// must not have the dispatcher read the whole outbox back to back: it
// rests after each round, so reading takes a small share of its time,
// whatever the wakes.
func TestWakesDoNotKeepTheDispatcherReading(t *testing.T) {
	release := make(chan struct{})
	p := &fakePartner{}
	base := p.serve(t, func(n int, _ string) (int, string) {
		<-release
		return 200, fmt.Sprintf(`{"id":"P-%d"}`, n)
	})
	defer close(release)
	o := partnerAt(t, base, "")
	tf := &timedFeed{}
	e := newEnv(t, o, func(s store.Store) {
		for i := range 3000 {
			if _, _, err := s.Add(context.Background(), store.NewLead{Offer: "partner", Fields: map[string]string{"phone": fmt.Sprint(79000000000 + i)}}); err != nil {
				t.Fatal(err)
			}
		}
	}, func(s *Sender) { s.Timeout = 30 * time.Second; tf.Feed = s.feed; s.feed = tf })
	hosttest.Eventually(t, "a send in progress", func() bool { return p.n() > 0 })
	tf.mu.Lock()
	tf.reading, tf.reads = 0, 0
	tf.mu.Unlock()
	start := time.Now()
	reads := func() int { tf.mu.Lock(); defer tf.mu.Unlock(); return tf.reads }
	// Some twenty pages read (seven rounds of three pages), however long
	// that takes on a loaded machine.
	for reads() < 20 && time.Since(start) < 20*time.Second {
		e.sender.Wake()
		time.Sleep(50 * time.Microsecond)
	}
	elapsed := time.Since(start)
	tf.mu.Lock()
	defer tf.mu.Unlock()
	if tf.reads < 20 {
		t.Fatalf("%d pages read in %s of wakes: the test proves nothing", tf.reads, elapsed)
	}
	if share := float64(tf.reading) / float64(elapsed); share > 0.25 {
		t.Errorf("the dispatcher spent %.0f%% of %s reading the outbox (%d pages of 1,000 items)", 100*share, elapsed.Round(time.Millisecond), tf.reads)
	}
}

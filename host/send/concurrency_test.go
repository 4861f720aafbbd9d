package send

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"leadhost/host/hosttest"
	"leadhost/store"
)

// TestSendConcurrency: an offer with send.concurrency = N has N sends in
// flight to its partner at once (the partner here answers none until N
// wait together), each recorded as begun in the outbox before its
// request left; every lead is sent once. Without the key, one at a time.
func TestSendConcurrency(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		want  int // requests in flight together, at most
	}{
		{"one at a time by default", "", 1},
		{"four at once", "concurrency = 4\n", 4},
		{"eight at once", "concurrency = 8\n", 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const leads = 24
			var (
				mu        sync.Mutex
				inFlight  int
				most      int
				notBegun  int
				together  = make(chan struct{})
				closeOnce sync.Once
				st        store.Store
				ids       []uint64
			)
			p := &fakePartner{}
			base := p.serve(t, func(n int, body string) (int, string) {
				mu.Lock()
				inFlight++
				most = max(most, inFlight)
				if inFlight >= tc.want {
					closeOnce.Do(func() { close(together) })
				}
				mu.Unlock()
				// This request's lead was durably begun before it left: its
				// item is in flight in the outbox (phones are 790000000NN).
				var i int
				fmt.Sscanf(body[strings.Index(body, "790"):], "%d", &i)
				feed, _ := st.Feed(Feed)
				items, _ := feed.Pending(context.Background(), 1000)
				begun := false
				for _, it := range items {
					begun = begun || (it.LeadID == ids[i-79000000000] && it.InFlight)
				}
				select {
				case <-together:
				case <-time.After(2 * time.Second): // the old code never gets there: fail, not hang
				}
				mu.Lock()
				if !begun {
					notBegun++
				}
				inFlight--
				mu.Unlock()
				return 200, fmt.Sprintf(`{"id":"P-%d"}`, n)
			})
			o := partnerAt(t, base, tc.extra)
			// Every lead is queued before the sender starts: one round takes them all.
			e := newEnv(t, o, func(s store.Store) {
				st = s
				for i := range leads {
					l, _, err := s.Add(context.Background(), store.NewLead{Offer: "partner", Fields: map[string]string{"phone": fmt.Sprint(79000000000 + i)}})
					if err != nil {
						t.Fatal(err)
					}
					ids = append(ids, l.ID)
				}
			}, func(s *Sender) { s.Timeout = 5 * time.Second })
			hosttest.Eventually(t, "every lead sent", func() bool {
				for _, id := range ids {
					if e.lead(t, id).Status != store.StatusProcessing {
						return false
					}
				}
				return true
			})
			mu.Lock()
			defer mu.Unlock()
			if most != tc.want {
				t.Errorf("%d requests in flight at most, want %d", most, tc.want)
			}
			if notBegun > 0 {
				t.Errorf("%d requests left before their attempt was recorded", notBegun)
			}
			if p.n() != leads {
				t.Errorf("the partner was asked %d times for %d leads", p.n(), leads)
			}
		})
	}
}

// TestHalfOpenCircuitTriesOnce: an offer sending four at a time whose
// partner is down opens its circuit; when the circuit's time is up, one
// request tries the partner (half open), not four.
func TestHalfOpenCircuitTriesOnce(t *testing.T) {
	t.Parallel()
	p := &fakePartner{}
	base := p.serve(t, func(int, string) (int, string) { return 503, "maintenance" })
	var clk struct {
		sync.Mutex
		t time.Time
	}
	clk.t = time.Now()
	now := func() time.Time { clk.Lock(); defer clk.Unlock(); return clk.t }
	e := newEnv(t, partnerAt(t, base, "concurrency = 4\n"), func(s store.Store) {
		for i := range 16 {
			if _, _, err := s.Add(context.Background(), store.NewLead{Offer: "partner", Fields: map[string]string{"phone": fmt.Sprint(79000000000 + i)}}); err != nil {
				t.Fatal(err)
			}
		}
	}, func(s *Sender) { s.Now = now })
	idle := func() bool {
		open, _ := e.sender.Circuit("partner")
		e.sender.mu.Lock()
		defer e.sender.mu.Unlock()
		return open && !e.sender.busy["partner"]
	}
	hosttest.Eventually(t, "the circuit open, the worker done", idle)
	before := p.n()
	clk.Lock()
	clk.t = clk.t.Add(11 * time.Minute) // past any open time, and every retry due
	clk.Unlock()
	e.sender.Wake()
	hosttest.Eventually(t, "a try, the circuit open again, the worker done", func() bool { return p.n() > before && idle() })
	if tries := p.n() - before; tries != 1 {
		t.Errorf("%d requests when the circuit half-opened, want 1", tries)
	}
}

// TestNoSendLeavesWhileCircuitOpen: an offer sending four at a time under
// a rate (5 a second: one request every 200 ms, each failing at once) opens
// its circuit on the fifth failure, and from then on "no sends for a
// minute" (README). But each lane checks the circuit before it waits for
// its rate slot, not after: the lanes already waiting for their slots
// when the fifth failure opened the circuit send anyway, into a partner
// known to be down (each failure also doubling the open time).
func TestNoSendLeavesWhileCircuitOpen(t *testing.T) {
	t.Parallel()
	p := &fakePartner{}
	base := p.serve(t, func(int, string) (int, string) { return 503, "maintenance" })
	e := newEnv(t, partnerAt(t, base, "concurrency = 4\nrate = 5\n"), func(s store.Store) {
		for i := range 16 {
			if _, _, err := s.Add(context.Background(), store.NewLead{Offer: "partner", Fields: map[string]string{"phone": fmt.Sprint(79000000000 + i)}}); err != nil {
				t.Fatal(err)
			}
		}
	})
	hosttest.Eventually(t, "the circuit open, the worker done", func() bool {
		open, _ := e.sender.Circuit("partner")
		e.sender.mu.Lock()
		defer e.sender.mu.Unlock()
		return open && !e.sender.busy["partner"]
	})
	if n := p.n(); n != breakAfter {
		t.Errorf("the partner was asked %d times, want %d: the failures that opened the circuit, none after", n, breakAfter)
	}
}

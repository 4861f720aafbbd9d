package store

import (
	"context"
	"sync"
	"testing"
	"time"
)

// clock is a settable time source for tests of holds and timestamps.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 11, 20, 10, 30, 0, 0, time.UTC)

type policyMap map[string]OfferPolicy

func (m policyMap) Policy(offer string) OfferPolicy {
	if p, ok := m[offer]; ok {
		return p
	}
	return DefaultPolicy()
}

// newTestStore opens an in-memory store with a fixed clock at t0.
func newTestStore(t testing.TB, opts Options) (*Badger, *clock) {
	t.Helper()
	c := &clock{t: t0}
	if opts.Dir == "" {
		opts.InMemory = true
	}
	if opts.Now == nil {
		opts.Now = c.Now
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s, c
}

func mustAdd(t testing.TB, s *Badger, nl NewLead) *Lead {
	t.Helper()
	l, _, err := s.Add(context.Background(), nl)
	if err != nil {
		t.Fatalf("add %+v: %v", nl, err)
	}
	return l
}

func mustVerify(t testing.TB, s *Badger) {
	t.Helper()
	probs, err := s.Verify(context.Background())
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	for _, p := range probs {
		t.Errorf("verify: %s", p)
	}
}

func ptr[T any](v T) *T { return &v }

func money(t testing.TB, s string) Money {
	t.Helper()
	m, err := ParseMoney(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

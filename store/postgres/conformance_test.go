package postgres

import (
	"context"
	"sync"
	"testing"

	"leadhost/store"
	"leadhost/store/postgres/pgtest"
	"leadhost/store/storetest"
)

// PostgreSQL passes the store's conformance suite, each store in a
// database of its own on the test server; a reopen is a new Store on the
// same database, as the next process would open it.
func TestConformance(t *testing.T) {
	var (
		mu   sync.Mutex
		urls = map[store.Store]string{}
	)
	open := func(t *testing.T, url string, opts store.Options) store.Store {
		s, err := Open(context.Background(), url, opts)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		mu.Lock()
		urls[s] = url
		mu.Unlock()
		return s
	}
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T, opts store.Options) store.Store { return open(t, pgtest.URL(t), opts) },
		Reopen: func(t *testing.T, s store.Store, opts store.Options) store.Store {
			mu.Lock()
			url := urls[s]
			mu.Unlock()
			if err := s.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			return open(t, url, opts)
		},
		Peer: func(t *testing.T, s store.Store, opts store.Options) store.Store {
			mu.Lock()
			url := urls[s]
			mu.Unlock()
			return open(t, url, opts)
		},
	})
}

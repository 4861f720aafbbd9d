package store_test

import (
	"sync"
	"testing"

	"leadhost/store"
	"leadhost/store/storetest"
)

// Badger passes the store's conformance suite, each store in a folder of
// its own. NoSync is enough: a reopen is a clean Close and Open, which
// loses nothing unsynced.
func TestConformance(t *testing.T) {
	var (
		mu   sync.Mutex
		dirs = map[store.Store]string{}
	)
	open := func(t *testing.T, dir string, opts store.Options) store.Store {
		opts.Dir, opts.NoSync, opts.GCInterval = dir, true, -1
		s, err := store.Open(opts)
		if err != nil {
			t.Fatalf("open %s: %v", dir, err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close %s: %v", dir, err)
			}
		})
		mu.Lock()
		dirs[s] = dir
		mu.Unlock()
		return s
	}
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T, opts store.Options) store.Store { return open(t, t.TempDir(), opts) },
		Reopen: func(t *testing.T, s store.Store, opts store.Options) store.Store {
			mu.Lock()
			dir := dirs[s]
			mu.Unlock()
			if err := s.Close(); err != nil {
				t.Fatalf("close %s: %v", dir, err)
			}
			return open(t, dir, opts)
		},
	})
}

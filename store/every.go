package store

import (
	"sync"
	"time"
)

// Every calls fn every d on a goroutine of its own until done is closed;
// wg counts the goroutine, so that a store's Close can wait for it. Both
// backends run their background loops (the disk check, the value-log
// collection, the reachability ping, the journal's sweep) with it.
func Every(wg *sync.WaitGroup, done <-chan struct{}, d time.Duration, fn func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fn()
			}
		}
	}()
}

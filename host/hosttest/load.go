package hosttest

import "sync"

// Load calls call from workers goroutines at once, each with its own
// index and a count from 0, back to back until the returned stop is
// called or call answers false (that worker is done: its server went
// away). stop returns once every call in flight has ended, so what the
// calls recorded is complete when the test reads it.
func Load(workers int, call func(worker, i int) bool) (stop func()) {
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				if !call(w, i) {
					return
				}
			}
		}()
	}
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}

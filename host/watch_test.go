package host

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"leadhost/host/script"
)

// waitFor polls until cond holds and returns how long it took.
func waitFor(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < 2*time.Second {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s: not within 2 s", what)
	return 0
}

// TestHotReloadUnderLoad runs the offer's script continuously from 8
// goroutines while its files are edited, saved the way editors do
// (write a temporary file, rename it over), broken, fixed and deleted. No
// run may fail because of a reload, and every good change goes live.
func TestHotReloadUnderLoad(t *testing.T) {
	scripts, acme := copyOffer(t)
	writeFile(t, filepath.Join(acme, "check.lua"), "return 1\n")
	r := NewRegistry(scripts)
	ctx, cancel := context.WithCancel(context.Background())
	var watchErr error
	watching := make(chan struct{})
	go func() { defer close(watching); watchErr = r.Watch(ctx, nil, WatchOptions{Rescan: time.Hour}) }()
	waitFor(t, "first load", func() bool { _, ok := r.Offer("acme"); return ok })

	var runs, failures atomic.Int64
	var lastErr atomic.Value
	version := func() int {
		o, ok := r.Offer("acme")
		if !ok {
			return -1
		}
		got := -1
		o.Pool.Run(ctx, o.Scripts["check.lua"], nil, func(_ *script.Env, rets []lua.LValue) error {
			if len(rets) == 1 {
				got, _ = strconv.Atoi(rets[0].String())
			}
			return nil
		})
		return got
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				o, ok := r.Offer("acme")
				if !ok {
					continue // unloaded: nothing to run, not a failure
				}
				err := o.Pool.Run(ctx, o.Scripts["check.lua"], nil, nil)
				runs.Add(1)
				if err != nil {
					failures.Add(1)
					lastErr.Store(err)
				}
			}
		}()
	}

	steps := []struct {
		name  string
		do    func()
		check func() bool
	}{
		{"edit in place", func() { writeFile(t, filepath.Join(acme, "check.lua"), "return 2\n") }, func() bool { return version() == 2 }},
		{"rename-save", func() {
			tmp := filepath.Join(acme, ".check.lua.swp")
			writeFile(t, tmp, "return 3\n")
			if err := os.Rename(tmp, filepath.Join(acme, "check.lua")); err != nil {
				t.Fatal(err)
			}
		}, func() bool { return version() == 3 }},
		{"break", func() { writeFile(t, filepath.Join(acme, "check.lua"), "return (\n") }, func() bool {
			return len(r.Errors()["acme"]) > 0 && version() == 3
		}},
		{"fix", func() { writeFile(t, filepath.Join(acme, "check.lua"), "return 4\n") }, func() bool {
			return version() == 4 && len(r.Errors()) == 0
		}},
		{"offer.toml change", func() {
			writeFile(t, filepath.Join(acme, "offer.toml"), "name = \"ACME\"\nhold_days = 9\n")
		}, func() bool { return r.Policy("acme").HoldDays == 9 }},
		{"delete the folder", func() { os.RemoveAll(acme) }, func() bool { _, ok := r.Offer("acme"); return !ok }},
		{"bring it back", func() {
			writeFile(t, filepath.Join(acme, "offer.toml"), "name = \"ACME\"\n")
			writeFile(t, filepath.Join(acme, "check.lua"), "return 5\n")
		}, func() bool { return version() == 5 }},
		// A deploy that replaces the folder in one go (rm -rf; cp -r),
		// within one debounce window, and a later edit inside it.
		{"replace the folder at once", func() {
			os.RemoveAll(acme)
			writeFile(t, filepath.Join(acme, "offer.toml"), "name = \"ACME\"\n")
			writeFile(t, filepath.Join(acme, "check.lua"), "return 6\n")
		}, func() bool { return version() == 6 }},
		{"edit after the replacement", func() { writeFile(t, filepath.Join(acme, "check.lua"), "return 7\n") },
			func() bool { return version() == 7 }},
	}
	for _, st := range steps {
		st.do()
		took := waitFor(t, st.name, st.check)
		t.Logf("%s: live after %v", st.name, took.Round(time.Millisecond))
	}
	close(stop)
	wg.Wait()
	cancel()
	<-watching
	if watchErr != nil {
		t.Errorf("watch: %v", watchErr)
	}
	if failures.Load() > 0 {
		t.Errorf("%d of %d runs failed during reloads; last: %v", failures.Load(), runs.Load(), lastErr.Load())
	}
	if runs.Load() < 100 {
		t.Errorf("only %d runs: the load proves little", runs.Load())
	}
	t.Logf("%d runs, none failed", runs.Load())
}

// Command leadhost is the lead network's integration host. This file wires
// flags and commands to the packages; the logic lives in them.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"

	"leadhost/store"
)

func main() {
	tuneRuntime(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// startCPUs is the CPUs this process may use, as Go counted them at
// start (its default GOMAXPROCS: the cgroup's quota included, or the
// GOMAXPROCS it was given), before tuneRuntime runs more processors than
// that. Long script runs take turns on half of them (script.Governor).
var startCPUs = runtime.GOMAXPROCS(0)

// tuneRuntime sets the Go runtime as a process holding a store wants it
// (store.Suggested*), where the environment (GOMEMLIMIT, GOGC,
// GOMAXPROCS) does not say otherwise. Setting the processors stops Go
// from following a change of the cgroup's quota while the process runs;
// a restart takes the new one.
func tuneRuntime(getenv func(string) string) {
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(store.SuggestedMemoryLimit)
	}
	if getenv("GOGC") == "" {
		debug.SetGCPercent(store.SuggestedGCPercent)
	}
	// Go ignores a GOMAXPROCS that is not a count, and so does this.
	if n, err := strconv.Atoi(getenv("GOMAXPROCS")); err != nil || n < 1 {
		runtime.GOMAXPROCS(store.SuggestedProcsPerCPU * startCPUs)
	}
}

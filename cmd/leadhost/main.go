// Command leadhost is the lead network's integration host. This file wires
// flags and commands to the packages; the logic lives in them.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
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

// tuneRuntime sets the Go runtime as a process holding a store wants it
// (store.Suggested*), where the environment (GOMEMLIMIT, GOGC,
// GOMAXPROCS) does not say otherwise.
func tuneRuntime(getenv func(string) string) {
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(store.SuggestedMemoryLimit)
	}
	if getenv("GOGC") == "" {
		debug.SetGCPercent(store.SuggestedGCPercent)
	}
	if getenv("GOMAXPROCS") == "" {
		// Go's default is the CPUs the process may use (its cgroup's
		// quota included).
		runtime.GOMAXPROCS(store.SuggestedProcsPerCPU * runtime.GOMAXPROCS(0))
	}
}

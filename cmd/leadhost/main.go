// Command leadhost is the lead network's integration host. This file wires
// flags and commands to the packages; the logic lives in them.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"leadhost/store"
)

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(store.SuggestedMemoryLimit)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(store.SuggestedGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

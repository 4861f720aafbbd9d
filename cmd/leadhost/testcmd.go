package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"leadhost/api"
	"leadhost/host/app"
	"leadhost/host/cases"

	"github.com/valyala/fasthttp"
)

// runTest is `leadhost test [scripts | scripts/<offer>]`: every case in
// the offers' tests/ folders, pass or fail with what differs.
func runTest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	path, ok := folderArg(args)
	if !ok {
		fmt.Fprintln(stderr, "leadhost test: takes one folder at most (scripts, or scripts/<offer>)")
		return exitUsage
	}
	results, err := cases.Run(ctx, path, func(a *app.App) fasthttp.RequestHandler {
		return (&api.Server{App: a, Log: slog.New(slog.DiscardHandler)}).Handle
	})
	failed := 0
	for _, r := range results {
		name := filepath.Join(r.Offer, "tests", filepath.Base(r.File))
		if r.Passed() {
			fmt.Fprintf(stdout, "ok    %s  %s\n", name, r.Name)
			continue
		}
		failed++
		fmt.Fprintf(stdout, "FAIL  %s  %s\n", name, r.Name)
		for _, d := range r.Diffs {
			fmt.Fprintf(stdout, "        %s\n", d)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "leadhost test: %v\n", err)
		return exitError
	}
	if len(results) == 0 {
		fmt.Fprintf(stderr, "leadhost test: no cases in %s (scripts/<offer>/tests/*.json)\n", path)
		return exitError
	}
	fmt.Fprintf(stdout, "%d cases, %d failed\n", len(results), failed)
	if failed > 0 {
		return exitError
	}
	return exitOK
}

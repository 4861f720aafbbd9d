package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"leadhost/host"
	"leadhost/host/check"
	"leadhost/store"
)

// runCheck is `leadhost check <offer> --mode M [--dry-run]`: one run now,
// printing what was asked, what came back and the edits.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("leadhost check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", "./data", "database directory")
	scriptsDir := fs.String("scripts", "./scripts", "offers folder")
	mode := fs.String("mode", check.Processing, "processing, accepted or dates")
	dry := fs.Bool("dry-run", false, "show the edits without committing them")
	asJSON := fs.Bool("json", false, "print the run's report as JSON")
	timeout := fs.Duration("timeout", check.DefaultTimeout, "deadline of one partner request")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(rest) != 1 {
		fmt.Fprintf(stderr, "leadhost check: needs one offer id\n\n%s", usage)
		return exitUsage
	}
	switch *mode {
	case check.Processing, check.Accepted, check.Dates:
	default:
		fmt.Fprintf(stderr, "leadhost check: --mode %q: want processing, accepted or dates\n", *mode)
		return exitUsage
	}
	reg := host.NewRegistry(*scriptsDir)
	if _, err := reg.Reload(); err != nil {
		fmt.Fprintf(stderr, "leadhost check: %v\n", err)
		return exitError
	}
	o, ok := reg.Offer(rest[0])
	if !ok {
		if errs := reg.Errors()[rest[0]]; len(errs) > 0 {
			for _, e := range errs {
				fmt.Fprintln(stderr, e)
			}
			fmt.Fprintf(stderr, "leadhost check: offer %s does not load\n", rest[0])
		} else {
			fmt.Fprintf(stderr, "leadhost check: no offer %q in %s\n", rest[0], *scriptsDir)
		}
		return exitError
	}
	st, err := store.Open(store.Options{Dir: *dataDir, GCInterval: -1, Policies: reg})
	if err != nil {
		fmt.Fprintf(stderr, "leadhost: %v\n", err)
		return exitError
	}
	defer st.Close()
	runner := check.NewRunner(st)
	runner.Timeout = *timeout
	rep := runner.Run(ctx, o, *mode, check.Options{Dry: *dry})
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		printReport(stdout, rep)
	}
	if rep.Err != nil {
		fmt.Fprintf(stderr, "leadhost check: %s\n", explain(rep.Err))
		return exitError
	}
	return exitOK
}

// printReport writes a run for a person: each request and its answer,
// then the edits.
func printReport(w io.Writer, rep *check.Report) {
	how := ""
	if rep.Dry {
		how = ", dry run"
	}
	fmt.Fprintf(w, "check %s %s (scripts version %d%s)\n", rep.Offer, rep.Mode, rep.Version, how)
	if len(rep.Exchanges) == 0 && rep.Err == nil {
		fmt.Fprintln(w, "no leads to ask about")
	}
	for _, ex := range rep.Exchanges {
		what := fmt.Sprintf("%d leads", ex.Leads)
		if ex.From != "" {
			what += fmt.Sprintf(", %s … %s", ex.From, ex.To)
		}
		fmt.Fprintf(w, "\n→ %s %s  (%s)\n", ex.Method, ex.URL, what)
		names := make([]string, 0, len(ex.Headers))
		for k := range ex.Headers {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(w, "  %s: %s\n", k, ex.Headers[k])
		}
		if ex.Body != "" {
			fmt.Fprintf(w, "  %s\n", ex.Body)
		}
		if ex.Status != 0 {
			fmt.Fprintf(w, "← %d, %d bytes in %s\n", ex.Status, ex.Size, ex.Duration.Round(time.Millisecond))
			fmt.Fprintf(w, "  %s\n", indent(ex.Response))
		}
		if ex.Err != "" {
			fmt.Fprintf(w, "✗ %s\n", ex.Err)
		} else {
			fmt.Fprintf(w, "  %d edits\n", ex.Edits)
		}
	}
	if len(rep.Edits) > 0 {
		verb := "edits made"
		if rep.Dry {
			verb = "edits that would be made (nothing committed)"
		}
		fmt.Fprintf(w, "\n%s:\n", verb)
		for _, e := range rep.Edits {
			var parts []string
			for _, f := range e.Fields {
				parts = append(parts, fmt.Sprintf("%s %q → %q", f.Field, f.Old, f.New))
			}
			fmt.Fprintf(w, "  lead %d: %s\n", e.LeadID, strings.Join(parts, ", "))
		}
	}
	for _, r := range rep.Refused {
		fmt.Fprintf(w, "refused: %s\n", r)
	}
	for _, l := range rep.Logs {
		fmt.Fprintf(w, "log: %s\n", l)
	}
	fmt.Fprintf(w, "\n%d leads asked in %d requests, %d edits, %s\n", rep.Leads, len(rep.Exchanges), len(rep.Edits), rep.Duration.Round(time.Millisecond))
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"leadhost/api"
	"leadhost/host/app"
	"leadhost/host/check"
	"leadhost/store"
)

// runCheck is `leadhost check <offer> --mode M [--dry-run]`: one run now,
// printing what was asked, what came back and the edits. When a serve
// holds the data folder, it asks that serve to run it.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("leadhost check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := addServiceFlags(fs)
	mode := fs.String("mode", "", "processing, accepted or dates (default: the offer's first mode)")
	dry := fs.Bool("dry-run", false, "show the edits without committing them")
	leadList := fs.String("leads", "", "ask about these leads (ids, comma-separated) instead of those the mode lists")
	asJSON := fs.Bool("json", false, "print the run's report as JSON")
	raw := fs.Bool("raw", false, "show secrets and contacts as they are (masked by default, as the journal shows them)")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(rest) != 1 {
		fmt.Fprintf(stderr, "leadhost check: needs one offer id\n\n%s", usage)
		return exitUsage
	}
	leads, err := app.ParseLeadIDs(*leadList)
	if err != nil {
		fmt.Fprintf(stderr, "leadhost check: --%s\n", store.Describe(err))
		return exitUsage
	}
	checks, done, err := target.open(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "leadhost check: %v\n", err)
		return exitError
	}
	rep, err := checks.CheckNow(ctx, rest[0], app.CheckRequest{Mode: *mode, Dry: *dry, Leads: leads})
	if cerr := done(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		text := store.Describe(err)
		if !*raw {
			text = store.Mask(text) // a failure may quote a request: the partner's key, a phone
		}
		fmt.Fprintf(stderr, "leadhost check: %s\n", text)
		if isUsage(err) {
			return exitUsage
		}
		return exitError
	}
	if !*raw {
		rep = rep.Masked()
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		printReport(stdout, rep)
	}
	if rep.Err != nil {
		fmt.Fprintf(stderr, "leadhost check: %s\n", store.Describe(rep.Err))
		return exitError
	}
	return exitOK
}

// isUsage says err is the caller's mistake in naming what to run (an
// offer's mode it does not have), exit 2 whether the database was opened
// here or a serve answered 400.
func isUsage(err error) bool {
	var e *api.Error
	return errors.Is(err, store.ErrInvalid) || (errors.As(err, &e) && e.Status == 400)
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
			fmt.Fprintf(w, "← %d, %d bytes in %s\n", ex.Status, ex.Size, time.Duration(ex.Duration).Round(time.Millisecond))
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
	fmt.Fprintf(w, "\n%d leads asked in %d requests, %d edits, %s\n", rep.Leads, len(rep.Exchanges), len(rep.Edits), time.Duration(rep.Duration).Round(time.Millisecond))
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }

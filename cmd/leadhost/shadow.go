package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"leadhost/host"
	"leadhost/host/app"
	"leadhost/host/shadow"
	"leadhost/store"
)

// runShadow is `leadhost shadow <offer> [--last K] [--raw]`: how the
// offer's candidate (scripts/<offer>/next/) compares with the live
// version — on the live traffic of the serve that holds the data folder,
// or, with --last, over the journal's last K inputs run again now —
// phones and e-mails masked unless --raw, as the journal's.
func runShadow(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("leadhost shadow", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := addServiceFlags(fs)
	last := fs.Int("last", 0, fmt.Sprintf("run the candidate and the live version over the journal's last K inputs of the offer (1..%d), committing nothing", shadow.MaxReplay))
	raw := fs.Bool("raw", false, "show phones and e-mails unmasked")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(rest) != 1 {
		fmt.Fprintf(stderr, "leadhost shadow: needs one offer id\n\n%s", usage)
		return exitUsage
	}
	// --last 0 is refused like any other number outside 1..K: read as
	// "not given" it would silently compare live traffic instead.
	lastGiven := false
	fs.Visit(func(f *flag.Flag) { lastGiven = lastGiven || f.Name == "last" })
	if lastGiven && (*last < 1 || *last > shadow.MaxReplay) {
		fmt.Fprintf(stderr, "leadhost shadow: --last %d: want 1..%d\n", *last, shadow.MaxReplay)
		return exitUsage
	}
	svc, done, err := target.open(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "leadhost shadow: %v\n", err)
		return exitError
	}
	var v *app.ShadowView
	if *last > 0 {
		v, err = svc.ShadowReplay(ctx, rest[0], *last)
	} else {
		v, err = svc.Shadow(ctx, rest[0])
	}
	_, local := svc.(*app.App)
	if cerr := done(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "leadhost shadow: %s\n", store.Describe(err))
		return exitError
	}
	printShadow(stdout, v, local, *raw)
	if v.Candidate != nil && len(v.Candidate.Problems) > 0 {
		return exitError
	}
	return exitOK
}

// printShadow writes a shadow view for a person: the candidate, the
// counts, then each difference side by side, phones and e-mails masked
// unless raw.
func printShadow(w io.Writer, v *app.ShadowView, local, raw bool) {
	if !raw {
		v = v.Masked()
	}
	switch c := v.Candidate; {
	case c == nil:
		fmt.Fprintf(w, "offer %s has no candidate: put the files to try in scripts/%s/%s/\n", v.Offer, v.Offer, host.NextDir)
	case len(c.Problems) > 0:
		fmt.Fprintf(w, "offer %s: the candidate (%s/: %s) does not load:\n", v.Offer, host.NextDir, strings.Join(c.Files, ", "))
		for _, p := range c.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	default:
		fmt.Fprintf(w, "offer %s: candidate version %d (%s/: %s) beside live version %d\n", v.Offer, c.Version, host.NextDir, strings.Join(c.Files, ", "), v.LiveVersion)
	}
	how := "on live traffic since serve started"
	switch {
	case v.Replay:
		how = "over the journal's last inputs, run again now (nothing committed)"
	case local:
		how = "on live traffic: none here, no serve holds the data folder (--last K runs the journal's inputs again)"
	}
	fmt.Fprintf(w, "%d inputs compared, %d differ (%s", v.Counts.Compared, v.Counts.Differing, how)
	if v.Counts.Dropped > 0 {
		fmt.Fprintf(w, "; %d not compared, the shadow queue full", v.Counts.Dropped)
	}
	fmt.Fprintln(w, ")")
	if v.Counts.Stopped != "" {
		fmt.Fprintf(w, "shadow runs stopped: %s\n", v.Counts.Stopped)
	}
	for _, d := range v.Differences {
		fmt.Fprintf(w, "\n%s  %s (live version %d, candidate %d)\n", d.At.Local().Format(time.DateTime), d.Input, d.Live.Version, d.Candidate.Version)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  lead\twhat\tlive\tcandidate")
		for _, r := range d.Rows {
			lead := ""
			if r.Lead != 0 {
				lead = fmt.Sprint(r.Lead)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", lead, r.What, oneLine(r.Live), oneLine(r.Candidate))
		}
		tw.Flush()
	}
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 120 {
		s = s[:117] + "…"
	}
	return s
}

// runPromote is `leadhost promote <offer>`: the offer's candidate goes
// live (app.Promote), through the serve that holds the data folder when
// one does.
func runPromote(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("leadhost promote", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := addServiceFlags(fs)
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(rest) != 1 {
		fmt.Fprintf(stderr, "leadhost promote: needs one offer id\n\n%s", usage)
		return exitUsage
	}
	svc, done, err := target.open(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "leadhost promote: %v\n", err)
		return exitError
	}
	p, err := svc.Promote(ctx, rest[0], app.ByCLI)
	if cerr := done(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "leadhost promote: %s\n", store.Describe(err))
		return exitError
	}
	fmt.Fprintf(stdout, "promoted %s: %s live (version %d)\n", p.Offer, strings.Join(p.Files, ", "), p.Version)
	if len(p.Kept) > 0 {
		fmt.Fprintf(stdout, "the files replaced are in scripts/%s/%s/: %s\n", p.Offer, host.PrevDir, strings.Join(p.Kept, ", "))
	}
	return exitOK
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"leadhost/host"
	"leadhost/store"
)

const usage = `usage: leadhost <command> [flags]

commands:
  serve       (also leadhost alone) take webhooks, run the status checks
              and send new leads: --listen :8080 --data ./data
              --scripts ./scripts [--no-fsync]; stops cleanly on SIGINT
  lint [DIR]  check every offer in DIR (default ./scripts): offer.toml and
              Lua files; prints each problem as file:line, exit 1 if any
  check OFFER [--mode processing|accepted|dates] [--dry-run] [--json]
              run one status check of OFFER now: prints each request, the
              answer and the edits (--dry-run: edits shown, not committed)
  test [DIR]  run the cases in DIR's offers' tests/ folders (default
              ./scripts, or one offer's folder): pass/fail with what differs
  journal [--offer O] [--kind K] [--status ok|error] [--since 1h] [--limit N] [--json] [--raw]
              the operation journal, newest first: every webhook and
              postback (raw request kept), send, check run and reload;
              phones and e-mails masked unless --raw
  bench hook [--duration 10s] [--concurrency 64] [--no-fsync]
              load the webhook → durable lead path, side by side with a
              bare fasthttp handler: req/s, p50, p99
  lead add    read a lead as JSON on stdin, store it, print it
  lead get ID print a lead with its history
  lead edit ID
              read a patch (the core.lead.edit fields) as JSON on stdin,
              apply it, print the lead

flags:
  --data DIR     database directory (default ./data)
  --scripts DIR  offers folder (default ./scripts)
`

// exit codes
const (
	exitOK    = 0
	exitError = 1 // the command failed: bad input, refused edit, unknown lead
	exitUsage = 2
)

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return runServe(ctx, args, stdout, stderr)
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "lead":
		return runLead(ctx, args[1:], stdin, stdout, stderr)
	case "lint":
		return runLint(args[1:], stdout, stderr)
	case "check":
		return runCheck(ctx, args[1:], stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "journal":
		return runJournal(ctx, args[1:], stdout, stderr)
	case "test":
		return runTest(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "leadhost: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
}

func runLead(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "leadhost lead: add, get or edit?\n\n%s", usage)
		return exitUsage
	}
	sub := args[0]
	fs := flag.NewFlagSet("leadhost lead "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", "./data", "database directory")
	rest, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return exitUsage
	}
	var id uint64
	switch sub {
	case "add":
		if len(rest) != 0 {
			fmt.Fprintf(stderr, "leadhost lead add: takes the lead on stdin, not %q\n", rest)
			return exitUsage
		}
	case "get", "edit":
		if len(rest) != 1 {
			fmt.Fprintf(stderr, "leadhost lead %s: needs one lead id\n", sub)
			return exitUsage
		}
		n, err := strconv.ParseUint(rest[0], 10, 64)
		if err != nil || n == 0 {
			fmt.Fprintf(stderr, "leadhost lead %s: %q is not a lead id\n", sub, rest[0])
			return exitUsage
		}
		id = n
	default:
		fmt.Fprintf(stderr, "leadhost lead: unknown command %q\n\n%s", sub, usage)
		return exitUsage
	}

	st, err := store.Open(store.Options{Dir: *dataDir, GCInterval: -1})
	if err != nil {
		fmt.Fprintf(stderr, "leadhost: %v\n", err)
		return exitError
	}
	lead, err := leadCommand(ctx, st, sub, id, stdin)
	if err == nil {
		lead.History, err = st.History(ctx, lead.ID)
	}
	if cerr := st.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "leadhost lead %s: %v\n", sub, explain(err))
		return exitError
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(lead); err != nil {
		fmt.Fprintf(stderr, "leadhost: %v\n", err)
		return exitError
	}
	return exitOK
}

// folderArg is the one optional folder `lint` and `test` take, ./scripts
// when none is given.
func folderArg(args []string) (string, bool) {
	switch len(args) {
	case 0:
		return "./scripts", true
	case 1:
		return args[0], true
	}
	return "", false
}

func runLint(args []string, stdout, stderr io.Writer) int {
	dir, ok := folderArg(args)
	if !ok {
		fmt.Fprintln(stderr, "leadhost lint: takes one scripts folder at most")
		return exitUsage
	}
	offers, problems := host.Lint(dir)
	for _, p := range problems {
		fmt.Fprintln(stdout, p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "leadhost lint: %d problems in %s\n", len(problems), dir)
		return exitError
	}
	noun := "offers"
	if offers == 1 {
		noun = "offer"
	}
	fmt.Fprintf(stdout, "%d %s in %s, no problems\n", offers, noun, dir)
	return exitOK
}

// parseInterleaved parses flags wherever they stand among the positional
// arguments ("lead get 5 --data DIR" as well as "lead get --data DIR 5").
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

func leadCommand(ctx context.Context, st *store.Store, sub string, id uint64, stdin io.Reader) (*store.Lead, error) {
	switch sub {
	case "add":
		nl, err := store.DecodeNewLead(stdin)
		if err != nil {
			return nil, err
		}
		nl.By = "cli"
		lead, _, err := st.Add(ctx, nl)
		return lead, err
	case "edit":
		patch, err := store.DecodePatch(stdin)
		if err != nil {
			return nil, err
		}
		if patch.Empty() {
			return nil, fmt.Errorf("the patch on stdin has no fields: %w", store.ErrInvalid)
		}
		patch.By = "cli"
		return st.Edit(ctx, id, patch)
	default:
		return st.Get(ctx, id)
	}
}

// explain drops the sentinel's bare word from the end of a store error
// ("…: invalid") in favour of a phrase a person reads more easily.
func explain(err error) string {
	msg := err.Error()
	for _, s := range []struct {
		err  error
		tail string
	}{
		{store.ErrInvalid, "invalid input"},
		{store.ErrRefused, "refused by the edit rules"},
		{store.ErrNotFound, "not found"},
		{store.ErrExists, "already exists"},
	} {
		if errors.Is(err, s.err) {
			return strings.TrimSuffix(msg, ": "+s.err.Error()) + " (" + s.tail + ")"
		}
	}
	return msg
}

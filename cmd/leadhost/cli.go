package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"leadhost/host"
	"leadhost/host/app"
	"leadhost/store"
)

const usage = `usage: leadhost <command> [flags]

commands:
  serve       (also leadhost alone) take webhooks, run the status checks
              and send new leads: --listen :8080 --data ./data
              --scripts ./scripts [--no-fsync]; stops cleanly on SIGINT
  lint [DIR]  check every offer in DIR (default ./scripts): offer.toml and
              Lua files; prints each problem as file:line, exit 1 if any
  check OFFER [--mode processing|accepted|dates] [--dry-run] [--json] [--raw]
              run one status check of OFFER now: prints each request, the
              answer and the edits (--dry-run: edits shown, not committed)
  shadow OFFER [--last K] [--raw]
              how the offer's candidate (scripts/OFFER/next/) compares with
              the live version: "N inputs compared, M differ" on serve's
              live traffic, each difference side by side; --last K runs
              both over the journal's last K inputs again, committing
              nothing; phones and e-mails masked unless --raw
  promote OFFER
              make the candidate live: next/'s files over the live ones
              (those replaced kept in scripts/OFFER/.prev/), next/ removed
  test [DIR]  run the cases in DIR's offers' tests/ folders (default
              ./scripts, or one offer's folder): pass/fail with what differs
  journal [--offer O] [--kind K] [--status ok|error|refused|dry] [--since 1h] [--limit N] [--json] [--raw]
              the operation journal, newest first: every webhook and
              postback (raw request kept), send, check run, reload,
              lead added or edited and held item released or dropped by
              a person; phones and e-mails masked unless --raw
  bench hook [--duration 10s] [--concurrency 64] [--no-fsync] [--timeline F]
              load the webhook → durable lead path, side by side with a
              bare fasthttp handler: req/s, p50, p99, where the durable
              round goes, the half-load latency per 100 ms
  bench mix [--duration 10s] [--concurrency 64] [--leads 10000]
              webhooks at half load, alone and beside back-to-back check
              runs and a backlog of sends: p50, p99, a timeline
  bench hostile [--duration 10s] [--timeout 5s] [--stuck 4] [--scripts concat,format,tail,pattern]
              hostile scripts' memory and CPU, and a healthy offer's
              webhook latency beside them
  backup FILE a consistent copy of the store (leads, history, keys,
              outboxes, journal), taken while serve runs (through its
              admin API, GET /api/backup) or from --data; on PostgreSQL
              it says to use pg_dump
  restore FILE --data DIR
              fill an empty folder from a backup; a damaged or cut-short
              file is refused and DIR left empty; on PostgreSQL it says
              to use pg_restore (or migrate --from backup:FILE)
  verify      check every index against its record and back (through a
              running serve too, or on PostgreSQL beside it); exit 1 with
              the problems listed
  migrate --from badger:DIR|backup:FILE --to postgres://… [--verify-only]
              copy a Badger store (no serve on it) into an empty
              PostgreSQL database (--to defaults to $LEADHOST_DATABASE_URL):
              leads as they are, history, keys, goals, outboxes, journal;
              run again to go on after a stop; then compares both sides,
              exit 1 on any difference
  lead add    read a lead as JSON on stdin, store it, print it
  lead get ID print a lead with its history
  lead edit ID
              read a patch (the core.lead.edit fields) as JSON on stdin,
              apply it, print the lead
  held [--outbox send|postback] [--json]
              what the outboxes hold for a person (a send in doubt, a
              partner's refusal): lead, revision, attempts, last error
  held release|drop OUTBOX LEAD REV
              send a held item again, or remove it for good (journaled)

flags (before or after the command):
  --data DIR       database directory (default ./data)
  --store S        where leads are kept (serve, lead, check, held, journal,
                   verify, backup, restore): badger:DIR or
                   postgres://user@host/db, or postgres for
                   $LEADHOST_DATABASE_URL (default: that URL when set, else
                   Badger in --data); bench hook --store postgres://… runs
                   on PostgreSQL, and against Badger
  --scripts DIR    offers folder (default ./scripts)
  --api-token T    the admin API's token (default $LEADHOST_API_TOKEN). serve
                   runs without one: then direct loopback clients may read,
                   and changes need the token it leaves in
                   DATA/leadhost-serve.json; the other commands send it to
                   a serve that holds --data (without one, that file's)
  --listen ADDR    serve's address (default :8080)
  --config FILE    serve's settings (default: leadhost.toml beside --scripts)
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
	args = commandFirst(args)
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return runServe(ctx, args, stdout, stderr)
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "lead":
		return runLead(ctx, args[1:], stdin, stdout, stderr)
	case "held":
		return runHeld(ctx, args[1:], stdout, stderr)
	case "lint":
		return runLint(args[1:], stdout, stderr)
	case "check":
		return runCheck(ctx, args[1:], stdout, stderr)
	case "shadow":
		return runShadow(ctx, args[1:], stdout, stderr)
	case "promote":
		return runPromote(ctx, args[1:], stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "journal":
		return runJournal(ctx, args[1:], stdout, stderr)
	case "test":
		return runTest(ctx, args[1:], stdout, stderr)
	case "backup":
		return runBackup(ctx, args[1:], stdout, stderr)
	case "restore":
		return runRestore(ctx, args[1:], stdout, stderr)
	case "verify":
		return runVerify(ctx, args[1:], stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], stdout, stderr)
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
	target := addServiceFlags(fs)
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

	leads, done, err := target.open(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "leadhost lead %s: %v\n", sub, err)
		return exitError
	}
	lead, err := leadCommand(ctx, leads, sub, id, stdin)
	if cerr := done(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(stderr, "leadhost lead %s: %s\n", sub, store.Describe(err))
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

// commands are the words run knows.
var commands = map[string]bool{"serve": true, "lead": true, "held": true, "lint": true, "check": true, "bench": true, "journal": true, "test": true,
	"backup": true, "restore": true, "verify": true, "migrate": true}

// boolFlags are the flags that take no value, so that commandFirst knows
// not to read the word after one as its value.
var boolFlags = map[string]bool{"no-fsync": true, "dry-run": true, "json": true, "raw": true, "verify-only": true}

// commandFirst moves flags given before the command to after it
// ("--data D lead get 1" is "lead get 1 --data D"): flags mean the same
// wherever they stand. With no command word, args are serve's.
func commandFirst(args []string) []string {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") {
			if !commands[arg] || i == 0 {
				return args
			}
			out := append([]string{arg}, args[i+1:]...)
			return append(out, args[:i]...)
		}
		if name := strings.TrimLeft(arg, "-"); !strings.Contains(name, "=") && !boolFlags[name] {
			i++ // its value
		}
	}
	return args
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

// leadCommand runs lead add, get or edit and returns the lead as it is
// now, with its history.
func leadCommand(ctx context.Context, leads service, sub string, id uint64, stdin io.Reader) (*store.Lead, error) {
	var input []byte
	if sub != "get" {
		var err error
		if input, err = io.ReadAll(io.LimitReader(stdin, 1<<20)); err != nil {
			return nil, err
		}
	}
	switch sub {
	case "add":
		l, _, err := leads.AddLead(ctx, input, app.ByCLI)
		if err != nil {
			return nil, err
		}
		id = l.ID
	case "edit":
		if _, err := leads.EditLead(ctx, id, input, app.ByCLI); err != nil {
			return nil, err
		}
	}
	return leads.LeadWithHistory(ctx, id)
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"leadhost/host"
	"leadhost/host/app"
	"leadhost/store"
	"leadhost/store/postgres"
)

// backupSource is what `backup` and `verify` read: the store itself when
// no serve holds the folder, that serve's admin API when one does.
type backupSource interface {
	Backup(ctx context.Context, w io.Writer, progress func(int64)) error
	Verify(ctx context.Context) ([]store.Problem, error)
}

// urlArg is how a command line suggested to a person names the
// database at url: the environment variable when it holds it, else a
// placeholder (the URL may hold a password, not to be printed).
func urlArg(url string) string {
	if url == os.Getenv(host.DatabaseURLEnv) {
		return `"$` + host.DatabaseURLEnv + `"`
	}
	return "postgres://…"
}

// verifier is what `verify` reads: a backupSource, or a PostgreSQL store.
type verifier interface {
	Verify(ctx context.Context) ([]store.Problem, error)
}

// openBackupSource opens dataDir's store read for a backup or a verify,
// or finds the serve that holds it. A folder that does not exist is an
// error, not an empty store made on the spot.
func openBackupSource(dataDir, token string) (backupSource, func(), error) {
	if _, err := os.Stat(filepath.Join(dataDir, "MANIFEST")); err != nil {
		return nil, nil, fmt.Errorf("no leadhost store in %s (it has no MANIFEST): give the folder with --data", dataDir)
	}
	st, err := store.Open(store.Options{Dir: dataDir, GCInterval: -1})
	if err == nil {
		return st, func() { st.Close() }, nil
	}
	c, err := serveHolding(dataDir, token, app.DescribeOpen(dataDir, err))
	if err != nil {
		return nil, nil, err
	}
	return c, func() {}, nil
}

// runBackup is `leadhost backup FILE`: a consistent copy of the store,
// taken while serve runs (through its admin API) or from the folder. The
// file appears whole or not at all: it is written beside FILE and renamed.
// A PostgreSQL store is backed up with PostgreSQL's own tools: it says so.
func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("leadhost backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	where := addStoreFlags(fs)
	token := fs.String("api-token", os.Getenv("LEADHOST_API_TOKEN"), "the admin API's token, when a serve holds the data folder")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(rest) != 1 {
		fmt.Fprintln(stderr, "leadhost backup: needs the file to write, e.g. leadhost backup leads.backup")
		return exitUsage
	}
	file := rest[0]
	spec, _, err := where.resolve()
	if err != nil {
		fmt.Fprintf(stderr, "leadhost backup: %v\n", err)
		return exitError
	}
	if spec.URL != "" {
		fmt.Fprintf(stderr, "leadhost backup: leads are in PostgreSQL (%s): back them up with PostgreSQL's own tools, "+
			"e.g. pg_dump --format=custom --file=leads.dump %s (or streaming replicas); leadhost backup copies Badger stores only\n",
			postgres.Redact(spec.URL), urlArg(spec.URL))
		return exitError
	}
	src, done, err := openBackupSource(*where.data, *token)
	if err != nil {
		fmt.Fprintf(stderr, "leadhost backup: %v\n", err)
		return exitError
	}
	defer done()
	tmp, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".part-*")
	if err != nil {
		fmt.Fprintf(stderr, "leadhost backup: cannot write in %s: %v\n", filepath.Dir(file), errors.Unwrap(err))
		return exitError
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	start := time.Now()
	bar := newProgress(stderr)
	err = src.Backup(ctx, tmp, bar.show)
	bar.end()
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		fmt.Fprintf(stderr, "leadhost backup: %s; %s not written\n", store.Describe(err), file)
		return exitError
	}
	fi, _ := os.Stat(file)
	fmt.Fprintf(stdout, "%s: %s in %s\n", file, megabytes(fi.Size()), time.Since(start).Round(time.Millisecond))
	return exitOK
}

// runRestore is `leadhost restore FILE --data DIR`: fills an empty
// folder from a backup. Where leads are kept in PostgreSQL it says what
// to use instead.
func runRestore(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("leadhost restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	where := addStoreFlagsWith(fs, fs.String("data", "", "the empty (or new) database directory to fill"))
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return exitUsage
	}
	spec, _, err := where.resolve()
	if err != nil {
		fmt.Fprintf(stderr, "leadhost restore: %v\n", err)
		return exitError
	}
	if spec.URL != "" {
		fmt.Fprintf(stderr, "leadhost restore: leads are in PostgreSQL (%s): restore a pg_dump with pg_restore "+
			"(pg_restore --dbname %s leads.dump); to load a leadhost backup file into PostgreSQL, "+
			"leadhost migrate --from backup:FILE --to %s; to restore it into a Badger folder, --store badger:DIR\n",
			postgres.Redact(spec.URL), urlArg(spec.URL), urlArg(spec.URL))
		return exitError
	}
	dataDir := where.data
	if len(rest) != 1 || *dataDir == "" {
		fmt.Fprintln(stderr, "leadhost restore: needs a backup file and --data DIR, an empty folder to fill")
		return exitUsage
	}
	f, err := os.Open(rest[0])
	if err != nil {
		fmt.Fprintf(stderr, "leadhost restore: %v\n", err)
		return exitError
	}
	defer f.Close()
	start := time.Now()
	if err := store.Restore(ctx, *dataDir, f); err != nil {
		fmt.Fprintf(stderr, "leadhost restore: %s\n", store.Describe(err))
		return exitError
	}
	fmt.Fprintf(stdout, "%s restored into %s in %s; check it with: leadhost verify --data %s\n"+
		"A serve on it sends what its outboxes held at the backup: start it instead of the serve the backup was taken from, never beside it.\n",
		rest[0], *dataDir, time.Since(start).Round(time.Millisecond), *dataDir)
	return exitOK
}

// runVerify is `leadhost verify`: every index against its record and
// back, of the store --store, leadhost.toml or LEADHOST_DATABASE_URL
// names (PostgreSQL beside a serve); exit 1 with the problems listed.
func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("leadhost verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	where := addStoreFlags(fs)
	token := fs.String("api-token", os.Getenv("LEADHOST_API_TOKEN"), "the admin API's token, when a serve holds the data folder")
	if rest, err := parseInterleaved(fs, args); err != nil {
		return exitUsage
	} else if len(rest) > 0 {
		fmt.Fprintf(stderr, "leadhost verify: unexpected %q\n", rest)
		return exitUsage
	}
	spec, _, err := where.resolve()
	if err != nil {
		fmt.Fprintf(stderr, "leadhost verify: %v\n", err)
		return exitError
	}
	var (
		src  verifier
		done func()
		what = *where.data // the store, as the outcome names it
	)
	if spec.URL != "" {
		// Beside any serve: PostgreSQL is shared.
		what = postgres.Redact(spec.URL)
		var pg *postgres.Store
		if pg, err = postgres.Open(ctx, spec.URL, store.Options{}); err == nil {
			src, done = pg, func() { pg.Close() }
		}
	} else {
		src, done, err = openBackupSource(what, *token)
	}
	if err != nil {
		fmt.Fprintf(stderr, "leadhost verify: %v\n", err)
		return exitError
	}
	defer done()
	probs, err := src.Verify(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "leadhost verify: %s\n", store.Describe(err))
		return exitError
	}
	for _, p := range probs {
		fmt.Fprintln(stdout, p)
	}
	if len(probs) > 0 {
		fmt.Fprintf(stderr, "leadhost verify: %d problems in %s\n", len(probs), what)
		return exitError
	}
	fmt.Fprintf(stdout, "%s: every index matches its record\n", what)
	return exitOK
}

// progress shows bytes copied on one terminal line, redrawn at most
// five times a second; on anything but a terminal it stays silent.
type progress struct {
	out  io.Writer
	on   bool
	last time.Time
	n    int64
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	on := false
	if ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			on = true
		}
	}
	return &progress{out: w, on: on}
}

func (p *progress) show(n int64) {
	p.n = n
	if !p.on || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.out, "\rbackup: %s copied", megabytes(n))
}

func (p *progress) end() {
	if p.on && !p.last.IsZero() {
		fmt.Fprintf(p.out, "\rbackup: %s copied\n", megabytes(p.n))
	}
}

func megabytes(n int64) string {
	if n < 1e6 {
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"leadhost/host"
	"leadhost/host/app"
	"leadhost/store"
	"leadhost/store/postgres"
)

// runMigrate is `leadhost migrate --from badger:DIR --to postgres://…`
// (or --from backup:FILE): every record of a Badger store copied as it is into a PostgreSQL
// database, page by page (store.Export, postgres.Import), resumable
// where a run stopped, then verified (migrate_verify.go). With
// --verify-only it only compares.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("leadhost migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "badger:./data", "the store to copy: badger:FOLDER (no serve may run on it) or backup:FILE (leadhost backup's)")
	to := fs.String("to", "", "the PostgreSQL database to fill: postgres://user@host/db (default $"+host.DatabaseURLEnv+")")
	verifyOnly := fs.Bool("verify-only", false, "copy nothing: compare the two stores and say how they differ")
	pageSize := fs.Int("page", 5000, "records a transaction copies")
	if rest, err := parseInterleaved(fs, args); err != nil {
		return exitUsage
	} else if len(rest) > 0 {
		fmt.Fprintf(stderr, "leadhost migrate: unexpected %q\n", rest)
		return exitUsage
	}
	if *pageSize < 1 {
		fmt.Fprintf(stderr, "leadhost migrate: --page %d: want 1 or more\n", *pageSize)
		return exitUsage
	}
	if *to == "" {
		*to = "postgres"
	}
	spec, err := host.ParseStoreSpec(*to, "", os.Getenv(host.DatabaseURLEnv))
	if err != nil || spec.URL == "" {
		if err == nil {
			err = fmt.Errorf("--to %q: want postgres://user@host/database", *to)
		}
		fmt.Fprintf(stderr, "leadhost migrate: %v\n", err)
		return exitUsage
	}
	src, source, done, err := openMigrateFrom(ctx, *from, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "leadhost migrate: %v\n", err)
		return exitError
	}
	defer done()
	dst, err := postgres.Open(ctx, spec.URL, store.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "leadhost migrate: %s\n", store.Describe(err))
		return exitError
	}
	defer dst.Close()
	if !*verifyOnly {
		if err := copyStore(ctx, src, dst, source, postgres.Redact(spec.URL), *pageSize, stdout, stderr); err != nil {
			fmt.Fprintf(stderr, "leadhost migrate: %s\n", store.Describe(err))
			if errors.Is(err, context.Canceled) {
				fmt.Fprintln(stderr, "leadhost migrate: stopped; what was copied is kept: run the same command again to go on")
			}
			return exitError
		}
	}
	same, err := verifyStores(ctx, src, dst, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "leadhost migrate: verify: %s\n", store.Describe(err))
		return exitError
	}
	if !same {
		return exitError
	}
	return exitOK
}

// openMigrateFrom opens what --from names: the Badger store in a folder
// (badger:DIR), or the one a backup holds (backup:FILE), restored into
// a temporary folder beside the file and removed by done. source names
// it for the database's progress: the same file goes on where it
// stopped, as the same folder does.
func openMigrateFrom(ctx context.Context, from string, stderr io.Writer) (src *store.Badger, source string, done func(), err error) {
	if dir, ok := strings.CutPrefix(from, "badger:"); ok && dir != "" {
		abs, _ := filepath.Abs(dir)
		src, err := openMigrateSource(dir)
		if err != nil {
			return nil, "", nil, err
		}
		return src, "badger:" + abs, func() { src.Close() }, nil
	}
	file, ok := strings.CutPrefix(from, "backup:")
	if !ok || file == "" {
		return nil, "", nil, fmt.Errorf("--from %q: want badger:FOLDER (e.g. badger:./data) or backup:FILE", from)
	}
	abs, _ := filepath.Abs(file)
	f, err := os.Open(file)
	if err != nil {
		return nil, "", nil, err
	}
	defer f.Close()
	tmp, err := os.MkdirTemp(filepath.Dir(abs), ".leadhost-migrate-")
	if err != nil {
		return nil, "", nil, err
	}
	fmt.Fprintf(stderr, "migrate: restoring %s into %s to read it\n", file, tmp)
	dir := filepath.Join(tmp, "data")
	if err := store.Restore(ctx, dir, f); err != nil {
		os.RemoveAll(tmp)
		return nil, "", nil, fmt.Errorf("%s: %s", file, store.Describe(err))
	}
	src, err = store.Open(store.Options{Dir: dir, GCInterval: -1})
	if err != nil {
		os.RemoveAll(tmp)
		return nil, "", nil, err
	}
	return src, "backup:" + abs, func() { src.Close(); os.RemoveAll(tmp) }, nil
}

// openMigrateSource opens the Badger store in dir to read it. A serve
// holding it is refused: its writes would land after the pages read.
func openMigrateSource(dir string) (*store.Badger, error) {
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
		return nil, fmt.Errorf("no leadhost store in %s (it has no MANIFEST): give the folder with --from badger:FOLDER", dir)
	}
	src, err := store.Open(store.Options{Dir: dir, GCInterval: -1})
	if err != nil {
		if err := app.DescribeOpen(dir, err); errors.Is(err, app.ErrLocked) {
			return nil, fmt.Errorf("%s is held by a running leadhost serve: stop serve first (migrate copies a store nothing writes to)", dir)
		}
		return nil, err
	}
	return src, nil
}

// copyStore copies every part of src into dst, going on from where an
// earlier run into dst stopped, then sets dst's sequences past the ids
// copied. It reports progress on stderr and the outcome on stdout.
func copyStore(ctx context.Context, src *store.Badger, dst *postgres.Store, source, into string, pageSize int, stdout, stderr io.Writer) error {
	im, err := dst.BeginImport(ctx, source)
	if err != nil {
		return err
	}
	defer im.Close()
	counts, err := src.ExportCounts(ctx)
	if err != nil {
		return err
	}
	before := im.Progress[store.ExportLeads].Rows
	if resumed := resumedParts(im); resumed != "" {
		fmt.Fprintf(stderr, "migrate: going on from an earlier run (%s copied)\n", resumed)
	}
	start := time.Now()
	bar := newMigrateProgress(stderr, counts.Leads, before)
	var written int64
	for _, part := range store.ExportParts {
		n, err := copyPart(ctx, src, im, part, pageSize, bar)
		written += n
		if err != nil {
			bar.end()
			return err
		}
	}
	bar.end()
	if err := im.Finish(ctx); err != nil {
		return err
	}
	took := time.Since(start)
	copied := im.Progress[store.ExportLeads].Rows - before
	earlier := ""
	if before > 0 {
		earlier = fmt.Sprintf(" (and %d before, by an earlier run)", before)
	}
	others := written - copied
	fmt.Fprintf(stdout, "copied %d leads%s and %d other records (history, keys, goals, outbox items, journal entries) in %s (%s leads/s) from %s into %s\n",
		copied, earlier, others, took.Round(time.Millisecond), perSecond(copied, took), source, into)
	return nil
}

// copyPart copies one part, page after page: the next page is read
// from Badger while the last one is written to PostgreSQL. written
// counts the records, a lead's history entries included.
func copyPart(ctx context.Context, src *store.Badger, im *postgres.Import, part store.ExportPart, pageSize int, bar *migrateProgress) (written int64, err error) {
	p := im.Progress[part]
	if p.Done {
		return 0, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	type read struct {
		page store.ExportPage
		err  error
	}
	pages := make(chan read, 1)
	// The reader has ended when this returns: the store it reads is
	// closed after.
	defer func() {
		cancel()
		for range pages {
		}
	}()
	go func() {
		defer close(pages)
		cursor := p.Cursor
		for {
			page, err := src.Export(ctx, part, cursor, pageSize)
			select {
			case pages <- read{page, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || page.Cursor == nil {
				return
			}
			cursor = page.Cursor
		}
	}()
	for r := range pages {
		if r.err != nil {
			return written, r.err
		}
		if err := im.Write(ctx, part, r.page); err != nil {
			return written, err
		}
		written += int64(r.page.Len())
		for _, l := range r.page.Leads {
			written += int64(len(l.History))
		}
		if part == store.ExportLeads {
			bar.add(int64(len(r.page.Leads)))
		}
	}
	return written, ctx.Err()
}

// resumedParts says what earlier runs copied ("" when nothing).
func resumedParts(im *postgres.Import) string {
	var out []string
	for _, part := range store.ExportParts {
		if p := im.Progress[part]; p.Rows > 0 || p.Done {
			out = append(out, fmt.Sprintf("%s %d", part, p.Rows))
		}
	}
	return strings.Join(out, ", ")
}

// perSecond is n per d, rounded for a person.
func perSecond(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", float64(n)/d.Seconds())
}

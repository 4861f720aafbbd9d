package main

import (
	"context"
	"encoding/json"
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

// runJournal is `leadhost journal`: the operation journal, newest first,
// phones and e-mails masked unless --raw, of the store --store,
// leadhost.toml or LEADHOST_DATABASE_URL names (PostgreSQL beside a
// serve, Badger when no serve holds it).
func runJournal(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("leadhost journal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	where := addServiceFlags(fs)
	var q store.JournalQuery
	fs.StringVar(&q.Offer, "offer", "", "only this offer")
	kind := fs.String("kind", "", "only this kind: "+wordList(store.JournalKinds))
	status := fs.String("status", "", "only this status: "+wordList(store.JournalStatuses))
	fs.IntVar(&q.Limit, "limit", 20, fmt.Sprintf("entries to show, at least 1 (a page holds at most %d)", store.MaxPageSize))
	since := fs.String("since", "", "only entries since then: a duration back from now above zero (1h) or a time like 2026-12-07T06:00:00Z (RFC 3339)")
	asJSON := fs.Bool("json", false, "whole entries as JSON lines, requests and answers included")
	raw := fs.Bool("raw", false, "show phones and e-mails unmasked")
	if rest, err := parseInterleaved(fs, args); err != nil {
		return exitUsage
	} else if len(rest) > 0 {
		fmt.Fprintf(stderr, "leadhost journal: unexpected %q\n", rest)
		return exitUsage
	}
	if q.Limit < 1 {
		fmt.Fprintf(stderr, "leadhost journal: --limit %d: want at least 1 (a page holds at most %d)\n", q.Limit, store.MaxPageSize)
		return exitUsage
	}
	var err error
	if *kind != "" {
		if q.Kind, err = store.ParseJournalKind(*kind); err != nil {
			fmt.Fprintf(stderr, "leadhost journal: --%s\n", store.Describe(err))
			return exitUsage
		}
	}
	if *status != "" {
		if q.Status, err = store.ParseJournalStatus(*status); err != nil {
			fmt.Fprintf(stderr, "leadhost journal: --%s\n", store.Describe(err))
			return exitUsage
		}
	}
	if *since != "" {
		if q.Since, err = store.ParseSince(*since, time.Now()); err != nil {
			fmt.Fprintf(stderr, "leadhost journal: --%s\n", store.Describe(err))
			return exitUsage
		}
	}
	spec, settings, err := where.resolve()
	if err != nil {
		fmt.Fprintf(stderr, "leadhost journal: %v\n", err)
		return exitError
	}
	entries, next, err := readJournal(ctx, spec, *where.scripts, where.apiToken(settings), q, *raw)
	if err != nil {
		fmt.Fprintf(stderr, "leadhost journal: %v\n", store.Describe(err))
		return exitError
	}
	enc := json.NewEncoder(stdout)
	for _, e := range entries {
		if *asJSON {
			enc.Encode(e)
			continue
		}
		fmt.Fprintf(stdout, "%s  %-12s %-18s %-5s %8s  %s\n", e.At.Local().Format("2006-01-02 15:04:05"), e.Kind, e.Offer, e.Status,
			time.Duration(e.Duration).Round(time.Millisecond), e.Summary)
		for _, line := range e.Logs {
			fmt.Fprintf(stdout, "%22s%s\n", "", line) // what the run's script said
		}
	}
	if next != "" && !*asJSON {
		fmt.Fprintln(stdout, journalMoreHint(q.Limit))
	}
	return exitOK
}

// journalMoreHint is the line under a page with more after it: a limit
// that shows more, or, at a full page already, a narrower filter, since a
// larger limit reads no more.
func journalMoreHint(limit int) string {
	if limit >= store.MaxPageSize {
		return fmt.Sprintf("… more: a page holds at most %d entries; narrow it with --since, --kind, --status or --offer", store.MaxPageSize)
	}
	return fmt.Sprintf("… more: --limit %d for more", min(limit*2, store.MaxPageSize))
}

// wordList is a flag's choices as its help names them, from the list the
// parser takes, so the two cannot disagree.
func wordList[T ~string](words []T) string {
	names := make([]string, len(words))
	for i, w := range words {
		names[i] = string(w)
	}
	return strings.Join(names, ", ")
}

// readJournal reads a page of the journal from the store spec names, or,
// when a serve holds that Badger folder, through the serve's admin API;
// masked unless raw.
func readJournal(ctx context.Context, spec host.StoreSpec, scripts, token string, q store.JournalQuery, raw bool) ([]store.JournalEntry, string, error) {
	var (
		st  store.Store
		err error
	)
	if spec.URL != "" {
		// Beside any serve: PostgreSQL is shared.
		st, err = postgres.Open(ctx, spec.URL, store.Options{})
	} else if st, err = store.Open(store.Options{Dir: spec.Dir, GCInterval: -1}); err != nil {
		err = app.DescribeOpen(spec.Dir, err)
		c, cerr := serveHolding(spec.Dir, token, err)
		if cerr != nil {
			return nil, "", cerr
		}
		q.Limit = min(q.Limit, 1000) // the API's page, as the store caps it
		return c.Journal(ctx, q, raw)
	}
	if err != nil {
		return nil, "", err
	}
	defer st.Close()
	entries, next, err := st.JournalList(ctx, q)
	if err == nil && len(entries) == 0 && q.Offer != "" && q.Cursor == "" && !offerFolder(scripts, q.Offer) {
		// As a serve's API answers it: most likely a typo.
		return nil, "", fmt.Errorf("offer %q: no such offer in %s, and nothing stored under that name matches: %w", q.Offer, scripts, store.ErrInvalid)
	}
	if !raw {
		for i := range entries {
			entries[i] = entries[i].Masked()
		}
	}
	return entries, next, err
}

// offerFolder says whether scripts holds a folder for offer (loaded or
// not).
func offerFolder(scripts, offer string) bool {
	if !host.ValidOfferID(offer) {
		return false
	}
	fi, err := os.Stat(filepath.Join(scripts, offer))
	return err == nil && fi.IsDir()
}

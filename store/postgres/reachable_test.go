package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"leadhost/store"
	"leadhost/store/postgres/pgtest"

	"github.com/jackc/pgx/v5/pgconn"
)

// A database that stops answering makes the store say so (ReadOnly, which
// serve answers with 503 and Retry-After at the door) within seconds, and
// a database back again makes it take writes by itself; what was
// acknowledged before is there.
func TestUnreachableDatabaseIsSaidAndOutlived(t *testing.T) {
	ctx := context.Background()
	srv, s := openOwnServer(t)
	defer s.Close()
	before, _, err := s.Add(ctx, store.NewLead{Offer: "o", Ext: "before"})
	if err != nil {
		t.Fatal(err)
	}
	if why := s.ReadOnly(); why != "" {
		t.Fatalf("a database that answers: ReadOnly %q", why)
	}
	srv.Crash()
	within(t, "the store saying its database does not answer", func() bool { return s.ReadOnly() != "" })
	if _, _, err := s.Add(ctx, store.NewLead{Offer: "o", Ext: "during"}); err == nil || errors.Is(err, store.ErrInvalid) {
		t.Errorf("an add while the database is down: %v, want an error of the database", err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	within(t, "the store writable again", func() bool { return s.ReadOnly() == "" })
	if _, _, err := s.Add(ctx, store.NewLead{Offer: "o", Ext: "after"}); err != nil {
		t.Errorf("an add once the database is back: %v", err)
	}
	if l, err := s.Get(ctx, before.ID); err != nil || l.Ext != "before" {
		t.Errorf("the lead acknowledged before: %+v, %v", l, err)
	}
}

// openOwnServer opens a store on a PostgreSQL server of the test's own,
// which it may crash and restart.
func openOwnServer(t *testing.T) (*pgtest.Server, *Store) {
	t.Helper()
	srv := pgtest.Own(t)
	url, _, err := srv.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return srv, s
}

// within waits up to 10 s for cond, checking every 50 ms: the store's
// ping runs each second.
func within(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("no %s within 10 s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Journal entries recorded while the database is away (the 503s of an
// outage) are written once it is back, not dropped.
func TestJournalOutlivesTheDatabaseAway(t *testing.T) {
	ctx := context.Background()
	srv, s := openOwnServer(t)
	defer s.Close()
	if err := s.RecordWritten(store.JournalEntry{Offer: "o", Kind: store.KindHook, Status: store.JournalOK, Summary: "before"}); err != nil {
		t.Fatal(err)
	}
	srv.Crash()
	within(t, "the store saying its database does not answer", func() bool { return s.ReadOnly() != "" })
	if err := s.RecordWritten(store.JournalEntry{Offer: "o", Kind: store.KindHook, Status: store.JournalRefused, Summary: "during, waited for"}); err == nil {
		t.Error("RecordWritten said an entry was written while the database was down")
	}
	s.Record(store.JournalEntry{Offer: "o", Kind: store.KindHook, Status: store.JournalRefused, Summary: "during, queued"})
	time.Sleep(1500 * time.Millisecond) // at least one more try while it is down
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	within(t, "the outage's entries in the journal", func() bool {
		entries, _, err := s.JournalList(ctx, store.JournalQuery{Offer: "o"})
		return err == nil && len(entries) == 3
	})
	entries, _, _ := s.JournalList(ctx, store.JournalQuery{Offer: "o"})
	var got []string
	for _, e := range entries {
		got = append(got, e.Summary)
	}
	if want := "during, queued|during, waited for|before"; strings.Join(got, "|") != want {
		t.Errorf("journal %q, want %q (newest first)", strings.Join(got, "|"), want)
	}
}

// With the database away and more than a batch of entries held, the
// journal still takes new entries (Record never blocks the calls it
// journals) and Close returns.
func TestJournalHeldBatchStillDrainsQueue(t *testing.T) {
	srv, s := openOwnServer(t)
	srv.Crash()
	within(t, "the store saying its database does not answer", func() bool { return s.ReadOnly() != "" })
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		for i := 0; i < journalBatch+journalQueue+500; i++ {
			s.Record(store.JournalEntry{Offer: "o", Kind: store.KindHook, Status: store.JournalRefused, Summary: "during"})
		}
	}()
	select {
	case <-recorded:
	case <-time.After(20 * time.Second):
		t.Error("Record blocked: the writer no longer takes entries from its queue while the database is away")
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close hung while the database was away")
	}
}

// The server going away, starting up or full is the database away: its
// entries are held, not dropped; so is a connection refused once the
// journal's retry has worded it.
func TestAwayCoversServerShutdownErrors(t *testing.T) {
	for _, code := range []string{"57P01", "57P02", "57P03", "53300", "08006"} {
		if !away(&pgconn.PgError{Severity: "FATAL", Code: code}) {
			t.Errorf("SQLSTATE %s: away false, its entries would be dropped", code)
		}
	}
	for _, code := range []string{"23505", "22021", "42P01"} {
		if away(&pgconn.PgError{Code: code}) {
			t.Errorf("SQLSTATE %s (the server refusing the entry): away true, the journal would retry it for ever", code)
		}
	}
	url := pgtest.URL(t)
	bad := url[:strings.Index(url, "@/")+2] + "nosuchdb" + url[strings.Index(url, "?"):]
	_, err := pgconn.Connect(context.Background(), bad)
	if err == nil {
		t.Fatal("connected to a database that does not exist")
	}
	if away(err) && !away(fmt.Errorf("journal entry %d: %w", 1, dbError(err))) {
		t.Errorf("a connect error is away, but not once the retry wraps it with dbError: %v", err)
	}
}

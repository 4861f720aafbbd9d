package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"leadhost/store"
	"leadhost/store/postgres/pgtest"
)

// A database that stops answering makes the store say so (ReadOnly, which
// serve answers with 503 and Retry-After at the door) within seconds, and
// a database back again makes it take writes by itself; what was
// acknowledged before is there.
func TestUnreachableDatabaseIsSaidAndOutlived(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.Own(t)
	url, _, err := srv.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
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
	srv := pgtest.Own(t)
	url, _, err := srv.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
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

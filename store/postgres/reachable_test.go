package postgres

import (
	"context"
	"errors"
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

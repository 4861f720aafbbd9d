package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// Entries come back newest first, by offer, by kind and by status, paged
// by cursor, and survive a reopen; queued entries are written by Close.
func TestJournal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := Options{Dir: dir, NoSync: true, GCInterval: -1}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for i := range 120 {
		offer, kind, status := "a", KindHook, JournalOK
		if i%2 == 1 {
			offer = "b"
		}
		if i%3 == 0 {
			kind = "send"
		}
		if i%10 == 0 {
			status = "error"
		}
		s.Record(JournalEntry{At: at.Add(time.Duration(i) * time.Second), Offer: offer, Kind: kind, Status: status,
			Summary: fmt.Sprint(i), Request: "GET /hook/" + offer})
	}
	if err := s.Close(); err != nil { // writes what is queued
		t.Fatal(err)
	}
	if s, err = Open(opts); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	all := func(q JournalQuery) []string {
		var out []string
		for {
			page, next, err := s.JournalList(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page {
				out = append(out, e.Summary)
			}
			if next == "" {
				return out
			}
			q.Cursor = next
		}
	}
	if got := all(JournalQuery{Limit: 7}); len(got) != 120 || got[0] != "119" || got[119] != "0" {
		t.Errorf("all: %d entries, first %v", len(got), got[:3])
	}
	if got := all(JournalQuery{Offer: "b", Limit: 9}); len(got) != 60 || got[0] != "119" || got[1] != "117" {
		t.Errorf("offer b: %d, %v", len(got), got[:3])
	}
	if got := all(JournalQuery{Kind: "send", Status: "error", Limit: 3}); fmt.Sprint(got) != "[90 60 30 0]" {
		t.Errorf("send errors: %v", got)
	}
	if got := all(JournalQuery{Offer: "a", Since: at.Add(110 * time.Second)}); fmt.Sprint(got) != "[118 116 114 112 110]" {
		t.Errorf("since: %v", got)
	}
	page, _, _ := s.JournalList(ctx, JournalQuery{Limit: 1})
	e, err := s.JournalGet(ctx, page[0].ID)
	if err != nil || e.Summary != "119" || e.Request != "GET /hook/b" {
		t.Errorf("get: %+v %v", e, err)
	}
	if _, err := s.JournalGet(ctx, 42); !errors.Is(err, ErrNotFound) {
		t.Errorf("get unknown: %v", err)
	}
	if _, _, err := s.JournalList(ctx, JournalQuery{Cursor: "!!"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad cursor: %v", err)
	}
}

// An offer's entries expire after its JournalTTL.
func TestJournalTTL(t *testing.T) {
	t.Parallel()
	s, err := Open(Options{InMemory: true, JournalTTL: func(offer string) time.Duration {
		if offer == "short" {
			return time.Second
		}
		return 0
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Record(JournalEntry{Offer: "short", Kind: "hook", Status: "ok", Summary: "goes"},
		JournalEntry{Offer: "long", Kind: "hook", Status: "ok", Summary: "stays"})
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Second)
	for {
		all, _, _ := s.JournalList(ctx, JournalQuery{})
		if len(all) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(2100 * time.Millisecond) // Badger's TTL has one-second resolution
	all, _, _ := s.JournalList(ctx, JournalQuery{})
	short, _, _ := s.JournalList(ctx, JournalQuery{Offer: "short"})
	if len(all) != 1 || all[0].Summary != "stays" || len(short) != 0 {
		t.Errorf("after the TTL: all %+v, short %+v", all, short)
	}
}

// A journal watcher (metrics, error mails) hears the entry as kept: with
// its id and time, not the zero values the caller left for Record.
func TestWatchJournal(t *testing.T) {
	t.Parallel()
	s, err := Open(Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var heard []JournalEntry
	s.WatchJournal(func(e JournalEntry) { heard = append(heard, e) })
	before := time.Now().Add(-time.Second)
	s.Record(JournalEntry{Offer: "a", Kind: "send", Status: "error", Summary: "lead 1: 503"})
	if len(heard) != 1 || heard[0].ID == 0 || heard[0].At.Before(before) || heard[0].Summary != "lead 1: 503" {
		t.Fatalf("heard %+v", heard)
	}
	kept, _, err := s.JournalList(context.Background(), JournalQuery{Offer: "a"})
	for deadline := time.Now().Add(5 * time.Second); len(kept) == 0 && err == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		kept, _, err = s.JournalList(context.Background(), JournalQuery{Offer: "a"})
	}
	if err != nil || len(kept) != 1 || kept[0].ID != heard[0].ID || !kept[0].At.Equal(heard[0].At) {
		t.Errorf("kept %+v (%v), heard %+v", kept, err, heard[0])
	}
}

// A run that logs in a loop keeps the first lines and a count of the rest.
func TestRunLog(t *testing.T) {
	t.Parallel()
	var l RunLog
	for i := range 1000 {
		l.Add(fmt.Sprintf("line %d", i))
	}
	got := l.Lines()
	if len(got) != maxJournalLogs+1 || got[0] != "line 0" || got[len(got)-1] != "… 950 more lines not kept" || l.Last() != "line 999" {
		t.Errorf("%d lines, first %q, last %q, Last %q", len(got), got[0], got[len(got)-1], l.Last())
	}
	// The journal keeps them as they are: its own cap does not count the
	// RunLog's count line as one more.
	s, _ := newTestStore(t, Options{})
	if err := s.RecordWritten(JournalEntry{Kind: KindHook, Status: JournalOK, Summary: "GET /hook/o → 200", Logs: got}); err != nil {
		t.Fatal(err)
	}
	kept, _, err := s.JournalList(context.Background(), JournalQuery{})
	if err != nil || len(kept) != 1 {
		t.Fatal(kept, err)
	}
	if logs := kept[0].Logs; len(logs) != maxJournalLogs+1 || logs[len(logs)-1] != "… 950 more lines not kept" {
		t.Errorf("the journal kept %d lines, the last %q", len(logs), logs[len(logs)-1])
	}
}

package postgres

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"leadhost/store"
	"leadhost/store/postgres/pgtest"
)

// An entry the server refuses (a detail that is not JSON) is lost alone:
// the entries written with it are kept, and its caller hears why.
func TestJournalBatchLosesOnlyTheRefusedEntry(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, pgtest.URL(t), store.Options{})
	at := time.Now().UTC().Truncate(time.Microsecond) // not expired
	batch := []queuedEntry{
		{JournalEntry: store.JournalEntry{ID: 1, At: at, Offer: "a", Kind: store.KindHook, Status: store.JournalOK, Summary: "before"}},
		{JournalEntry: store.JournalEntry{ID: 2, At: at, Offer: "a", Kind: store.KindHook, Status: store.JournalOK, Summary: "bad", Detail: json.RawMessage(`{not json`)}},
		{JournalEntry: store.JournalEntry{ID: 3, At: at, Offer: "a", Kind: store.KindHook, Status: store.JournalOK, Summary: "after"}},
	}
	errs := s.writeJournal(batch)
	if len(errs) != 3 || errs[0] != nil || errs[1] == nil || errs[2] != nil {
		t.Fatalf("errors %v: want one, the bad entry's", errs)
	}
	for id, want := range map[uint64]bool{1: true, 2: false, 3: true} {
		if _, err := s.JournalGet(ctx, id); (err == nil) != want {
			t.Errorf("entry %d: kept %v, want %v", id, err == nil, want)
		}
	}
}

// The journal keeps a day in a partition of its own and drops it whole
// once every entry of it has expired; an entry that outlives its day's
// others (a longer journal_days) keeps the day, whose expired entries
// are deleted one by one.
func TestJournalDropsWholeDays(t *testing.T) {
	ctx := context.Background()
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	var (
		mu  sync.Mutex
		now = day.Add(10 * time.Hour)
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
	ttl := map[string]time.Duration{"short": 24 * time.Hour, "next": 24 * time.Hour, "long": 10 * 24 * time.Hour, "old": 5 * 24 * time.Hour}
	s := openAt(t, pgtest.URL(t), store.Options{Now: clock, JournalTTL: func(offer string) time.Duration { return ttl[offer] }})
	partition := func(id uint64) string {
		var name string
		if err := s.pool.QueryRow(ctx, `SELECT tableoid::regclass::text FROM journal WHERE id = $1`, int64(id)).Scan(&name); err != nil {
			return "none"
		}
		return name
	}
	ids := map[string]uint64{}
	// Ids grow in the order entries are recorded (times made unique):
	// in time order here, each lands in its own day.
	for _, e := range []store.JournalEntry{
		{Offer: "old", At: day.AddDate(0, 0, -10)},
		{Offer: "short", At: day.Add(10 * time.Hour)},
		{Offer: "long", At: day.Add(11 * time.Hour)},
		{Offer: "next", At: day.Add(30 * time.Hour)},
	} {
		e.Kind, e.Status = store.KindHook, store.JournalOK
		var got []store.JournalEntry
		s.WatchJournal(func(e store.JournalEntry) { got = append(got, e) })
		if err := s.RecordWritten(e); err != nil {
			t.Fatal(err)
		}
		ids[e.Offer] = got[0].ID
	}
	if p := partition(ids["short"]); p != "journal_20261120" {
		t.Errorf("an entry of 2026-11-20 is in %s", p)
	}
	if p := partition(ids["next"]); p != "journal_20261121" {
		t.Errorf("an entry of 2026-11-21 is in %s", p)
	}
	if p := partition(ids["old"]); p != "journal_default" {
		t.Errorf("an entry of a day not made is in %s, want journal_default", p)
	}

	set(day.AddDate(0, 0, 3))
	if err := s.sweepJournal(ctx); err != nil {
		t.Fatal(err)
	}
	if p := partition(ids["short"]); p != "none" {
		t.Errorf("the short-lived entry, expired, is still in %s", p)
	}
	if p := partition(ids["long"]); p != "journal_20261120" {
		t.Errorf("the long-lived entry is in %s, want its day kept", p)
	}
	if p := partition(ids["old"]); p != "none" {
		t.Errorf("the expired entry of the default partition is still in %s", p)
	}
	if p := partition(ids["next"]); p != "none" {
		t.Errorf("the next day's entry, expired with its whole day, is in %s", p)
	}
	days, _ := journalDays(ctx, s.pool)
	if _, ok := days["journal_20261121"]; ok {
		t.Errorf("the day all expired was not dropped: %v", days)
	}
	if _, ok := days["journal_20261124"]; !ok {
		t.Errorf("the coming days were not made: %v", days)
	}

	set(day.AddDate(0, 0, 12))
	if err := s.sweepJournal(ctx); err != nil {
		t.Fatal(err)
	}
	days, _ = journalDays(ctx, s.pool)
	if _, ok := days["journal_20261120"]; ok || partition(ids["long"]) != "none" {
		t.Errorf("the day stays after its last entry expired: %v", days)
	}
}

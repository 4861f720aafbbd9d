package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"leadhost/store"
	"leadhost/store/postgres/pgtest"
)

// TallyJournal's hours are UTC hours, whatever the server's TimeZone:
// date_trunc('hour', at) on a timestamptz truncates in the session's
// zone, so on a server in a zone of half-hour offset (India, +05:30) an
// entry of 10 past the hour was counted in the hour before.
func TestTallyJournalHoursAreUTCHours(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET timezone = ''Asia/Kolkata''', current_database()); END $$`); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, url, store.Options{})
	at := time.Now().UTC().Truncate(time.Hour).Add(-50 * time.Minute) // 10 past the hour before
	s.Record(store.JournalEntry{At: at, Offer: "tz", Kind: store.KindHook, Status: store.JournalOK})
	var tallies []store.JournalTally
	for range 50 { // the journal writer lands it a moment later
		if tallies, _, err = s.TallyJournal(ctx, at.Add(-time.Minute), 0, "another"); err != nil {
			t.Fatal(err)
		}
		if len(tallies) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(tallies) != 1 {
		t.Fatalf("tallies %+v, want one", tallies)
	}
	if want := at.Truncate(time.Hour); !tallies[0].Hour.Equal(want) {
		t.Errorf("an entry at %v counted in the hour of %v, want %v", at, tallies[0].Hour, want)
	}
}

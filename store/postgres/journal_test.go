package postgres

import (
	"context"
	"encoding/json"
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

package store

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// A journal holding entries indexed one key an entry (as every journal
// was written before runs) and in runs lists by offer, by kind and by
// both, paged at any size — a cursor landing inside a run — exactly the
// entries a scan of the whole journal finds, after a reopen too; each
// run expires with its last entry.
func TestJournalRunsListAsEntriesOneByOne(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	ttl := func(offer string) time.Duration {
		if offer == "b" {
			return time.Hour // the others: the default
		}
		return 0
	}
	opts := Options{Dir: t.TempDir(), NoSync: true, GCInterval: -1, journalGate: gate, JournalTTL: ttl}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	writeUnindexed(t, s, 0, 200, time.Hour) // the old form, before any run
	for i := 200; i < 700; i++ {
		s.Record(statusTestEntry(i)) // held: one batch once the gate opens
	}
	close(gate)
	for i := 700; i < 720; i++ {
		if err := s.RecordWritten(statusTestEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	opts.journalGate = nil
	if s, err = Open(opts); err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	if runs := checkJournalRuns(t, s); runs == 0 {
		t.Fatal("no run written: the test reads single keys only")
	}
	since := statusTestAt.Add(450 * time.Second)
	for _, q := range []JournalQuery{
		{Offer: "a"}, {Offer: "b"}, {Offer: "ab"}, {Offer: "zz"},
		{Kind: KindHook}, {Kind: KindSend}, {Kind: KindCheck},
		{Offer: "b", Kind: KindSend}, {Offer: "a", Since: since}, {Kind: KindCheck, Since: since},
	} {
		want := scanJournal(t, s, q)
		for _, limit := range []int{1, 3, 7, 50, maxPageSize} {
			if got := listPages(t, s, q, limit); !slices.Equal(got, want) {
				t.Errorf("%+v, pages of %d: got %d entries %v, want %d %v", q, limit, len(got), got, len(want), want)
			}
		}
	}
}

// scanJournal is what a list by q must give: the whole journal, newest
// first, filtered.
func scanJournal(t *testing.T, s *Badger, q JournalQuery) []string {
	t.Helper()
	out := []string{}
	for cursor := ""; ; {
		page, next, err := s.JournalList(context.Background(), JournalQuery{Cursor: cursor, Limit: maxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			if (q.Offer == "" || e.Offer == q.Offer) && (q.Kind == "" || e.Kind == q.Kind) && (q.Since.IsZero() || !e.At.Before(q.Since)) {
				out = append(out, e.Summary)
			}
		}
		if next == "" {
			return out
		}
		cursor = next
	}
}

// checkJournalRuns fails unless every key of the indexes by offer and by
// kind names entries that are there, newest first, and expires with the
// last of them; it returns how many keys are runs of more than one.
func checkJournalRuns(t *testing.T, s *Badger) int {
	t.Helper()
	runs := 0
	err := s.jdb.View(func(txn *badger.Txn) error {
		for _, kind := range []byte{kindJournalByOffer, kindJournalByKind} {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kind}})
			for it.Rewind(); it.Valid(); it.Next() {
				invs, err := runInvs(it.Item())
				if err != nil {
					t.Fatal(err)
				}
				if len(invs) > 8 {
					runs++
				}
				var last uint64
				for i := range len(invs) / 8 {
					inv := invAt(invs, i)
					if i > 0 && inv <= invAt(invs, i-1) {
						t.Errorf("index key %q: entries out of order", it.Item().Key())
					}
					e, err := txn.Get(appendU64([]byte{kindJournal}, inv))
					if err != nil {
						t.Fatalf("index key %q: entry %x: %v", it.Item().Key(), inv, err)
					}
					last = max(last, e.ExpiresAt())
				}
				if got := it.Item().ExpiresAt(); got != last {
					t.Errorf("index key %q expires at %d, its last entry at %d", it.Item().Key(), got, last)
				}
			}
			it.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// A spool replayed after a kill writes its entries' runs again, from the
// spool's tail to its head then: runs that overlap those the killed
// writer (or a killed replay) left, each from the same tail, list each
// entry once.
func TestJournalRunsWrittenAgainListOnce(t *testing.T) {
	t.Parallel()
	s, err := Open(Options{Dir: t.TempDir(), NoSync: true, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	batch := make([]spooled, 10)
	values := make([][]byte, len(batch))
	for i := range batch {
		e := statusTestEntry(3 * i) // offer "a"; hooks, sends and checks
		e.ID = uint64(e.At.UnixNano())
		if values[i], err = json.Marshal(e); err != nil {
			t.Fatal(err)
		}
		batch[i] = spooled{id: e.ID, offer: e.Offer, kind: e.Kind, status: e.Status}
	}
	write := func(from, to int) {
		t.Helper()
		if err := s.writeJournal(batch[from:to], func(i int) []byte { return values[from+i] }); err != nil {
			t.Fatal(err)
		}
	}
	write(0, 6)  // the killed writer's
	write(0, 8)  // a replay, killed too
	write(0, 10) // the replay that finished
	checkJournalRuns(t, s)
	for _, q := range []JournalQuery{{Offer: "a"}, {Kind: KindHook}, {Kind: KindSend}, {Kind: KindCheck}} {
		want := scanJournal(t, s, q)
		if q.Offer != "" && len(want) != len(batch) {
			t.Fatalf("the journal holds %d entries, want %d", len(want), len(batch))
		}
		for _, limit := range []int{1, 2, 3, 50} {
			if got := listPages(t, s, q, limit); !slices.Equal(got, want) {
				t.Errorf("%+v, pages of %d: got %v, want %v", q, limit, got, want)
			}
		}
	}
}

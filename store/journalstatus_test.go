package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

var statusTestAt = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

// statusTestEntry is the i-th entry of the tests' journal: three offers,
// three kinds, errors 1 in 7 and refusals 1 in 11, the rest "ok".
func statusTestEntry(i int) JournalEntry {
	e := JournalEntry{At: statusTestAt.Add(time.Duration(i) * time.Second), Offer: []string{"a", "b", "ab"}[i%3],
		Kind: []JournalKind{KindHook, KindSend, KindCheck}[i%4%3], Status: JournalOK, Summary: fmt.Sprint(i)}
	switch {
	case i%7 == 0:
		e.Status = JournalError
	case i%11 == 0:
		e.Status = JournalRefused
	}
	return e
}

// statusQueries are the filter combinations that name a status.
var statusQueries = []struct {
	name string
	q    JournalQuery
}{
	{"error", JournalQuery{Status: JournalError}},
	{"ok", JournalQuery{Status: JournalOK}},
	{"refused of a", JournalQuery{Status: JournalRefused, Offer: "a"}},
	{"error of ab (a's prefix is not ab's)", JournalQuery{Status: JournalError, Offer: "ab"}},
	{"error of sends", JournalQuery{Status: JournalError, Kind: KindSend}},
	{"error of a's hooks", JournalQuery{Status: JournalError, Offer: "a", Kind: KindHook}},
	{"ok of b's checks since", JournalQuery{Status: JournalOK, Offer: "b", Kind: KindCheck, Since: statusTestAt.Add(100 * time.Second)}},
	{"dry: none", JournalQuery{Status: JournalDry}},
	{"error of an unknown offer: none", JournalQuery{Status: JournalError, Offer: "zz"}},
}

// listPages pages through q, limit entries a page, and gives the summaries.
func listPages(t *testing.T, s *Badger, q JournalQuery, limit int) []string {
	t.Helper()
	q.Limit = limit
	out := []string{}
	for {
		page, next, err := s.JournalList(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > limit {
			t.Fatalf("%d entries on a page of %d", len(page), limit)
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

// scanned is what the journal holds for q, read the plain way: every
// entry, newest first, filtered here.
func scanned(t *testing.T, s *Badger, q JournalQuery) []string {
	t.Helper()
	out := []string{}
	q.Cursor, q.Limit = "", maxPageSize
	for {
		page, next, err := s.JournalList(context.Background(), JournalQuery{Cursor: q.Cursor, Limit: maxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			if (q.Offer == "" || e.Offer == q.Offer) && (q.Kind == "" || e.Kind == q.Kind) &&
				e.Status == q.Status && (q.Since.IsZero() || !e.At.Before(q.Since)) {
				out = append(out, e.Summary)
			}
		}
		if next == "" {
			return out
		}
		q.Cursor = next
	}
}

// checkStatusIndex fails unless every entry has its two keys in the index
// by status, expiring with it, and every key of the index has its entry.
func checkStatusIndex(t *testing.T, s *Badger) {
	t.Helper()
	err := s.jdb.View(func(txn *badger.Txn) error {
		want := map[string]uint64{}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kindJournal}, PrefetchValues: true})
		for it.Rewind(); it.Valid(); it.Next() {
			var e JournalEntry
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err != nil {
				it.Close()
				return err
			}
			for _, k := range statusIndexKeys(&e) {
				want[string(k)] = it.Item().ExpiresAt()
			}
		}
		it.Close()
		for _, kind := range []byte{kindJournalByStatus, kindJournalByStatusOffer} {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kind}})
			for it.Rewind(); it.Valid(); it.Next() {
				k := string(it.Item().Key())
				exp, ok := want[k]
				switch {
				case !ok:
					t.Errorf("index key %q: no such entry", k)
				case exp != it.Item().ExpiresAt():
					t.Errorf("index key %q expires at %d, its entry at %d", k, it.Item().ExpiresAt(), exp)
				}
				delete(want, k)
			}
			it.Close()
		}
		for k := range want {
			t.Errorf("entry's index key %q missing", k)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A list by status holds exactly what reading every entry finds, in the
// same order, across pages of any size; and every entry is indexed.
func TestJournalListByStatus(t *testing.T) {
	t.Parallel()
	s, err := Open(Options{InMemory: true, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 400 {
		s.Record(statusTestEntry(i))
	}
	if err := s.RecordWritten(JournalEntry{Offer: "a", Kind: KindReload, Status: JournalOK, Summary: "last"}); err != nil {
		t.Fatal(err)
	}
	waitStatusIndex(t, s)
	checkStatusIndex(t, s)
	for _, tc := range statusQueries {
		want := scanned(t, s, tc.q)
		for _, limit := range []int{1, 3, 50} {
			if got := listPages(t, s, tc.q, limit); !slices.Equal(got, want) {
				t.Errorf("%s, pages of %d: got %v, want %v", tc.name, limit, got, want)
			}
		}
	}
}

func waitStatusIndex(t *testing.T, s *Badger) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !s.jr.byStatus.Load(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the journal's older entries were not indexed by status in 30 s")
		}
	}
}

// writeUnindexed writes entries as the journal did before its index by
// status: the entry, by offer, by kind.
func writeUnindexed(t testing.TB, s *Badger, from, to int, ttl time.Duration) {
	t.Helper()
	wb := s.jdb.NewWriteBatch()
	defer wb.Cancel()
	for i := from; i < to; i++ {
		e := statusTestEntry(i)
		e.ID = uint64(e.At.UnixNano())
		v, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range [][2][]byte{
			{appendU64([]byte{kindJournal}, ^e.ID), v},
			{appendU64(offerPrefix(kindJournalByOffer, e.Offer), ^e.ID), nil},
			{appendU64(offerPrefix(kindJournalByKind, string(e.Kind)), ^e.ID), nil},
		} {
			if err := wb.SetEntry(badger.NewEntry(kv[0], kv[1]).WithTTL(ttl)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
}

// A journal written before the index by status lists the same entries by
// status before its backfill, after a backfill cut short by a close, and
// once it is done; the backfill keeps each entry's expiry and is not run
// again.
func TestJournalStatusBackfill(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	opts := Options{Dir: t.TempDir(), NoSync: true, GCInterval: -1, backfillGate: gate}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	writeUnindexed(t, s, 0, 2500, time.Hour)
	want := map[string][]string{}
	for _, tc := range statusQueries {
		want[tc.name] = scanned(t, s, tc.q)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check := func(when string, s *Badger) {
		t.Helper()
		for _, tc := range statusQueries {
			if got := listPages(t, s, tc.q, 40); !slices.Equal(got, want[tc.name]) {
				t.Errorf("%s: %s: got %d entries %v, want %d %v", when, tc.name, len(got), got, len(want[tc.name]), want[tc.name])
			}
		}
	}

	// Reopened, the backfill held: lists read the old way.
	if s, err = Open(opts); err != nil {
		t.Fatal(err)
	}
	if s.jr.byStatus.Load() {
		t.Fatal("a journal of unindexed entries taken as indexed by status")
	}
	check("before the backfill", s)
	// One batch, then a close: the next open goes on from there.
	next, n, err := s.backfillStatusBatch([]byte{kindJournal})
	if err != nil || next == nil || n != backfillBatch {
		t.Fatalf("first batch: next %q, %d indexed, %v", next, n, err)
	}
	check("a batch into the backfill", s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	opts.backfillGate = nil
	if s, err = Open(opts); err != nil {
		t.Fatal(err)
	}
	waitStatusIndex(t, s)
	check("after the backfill", s)
	checkStatusIndex(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Done once: the marker holds, newer entries are indexed as written.
	if s, err = Open(opts); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.jr.byStatus.Load() {
		t.Error("reopened after the backfill: not taken as indexed by status")
	}
	if err := s.RecordWritten(JournalEntry{Offer: "a", Kind: KindHook, Status: JournalError, Summary: "new"}); err != nil {
		t.Fatal(err)
	}
	if got := listPages(t, s, JournalQuery{Status: JournalError, Offer: "a"}, 50); len(got) == 0 || got[0] != "new" {
		t.Errorf("a's errors after a new one: %v", got)
	}
	checkStatusIndex(t, s)
}

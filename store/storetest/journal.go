package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"leadhost/store"
)

// testJournal: what the journal keeps comes back whole, newest first, by
// offer, kind, status and time, page by page; an entry RecordWritten
// returned for is there at once, one Record queued is there soon, and a
// clean restart loses neither.
func testJournal(t *testing.T, b Backend) {
	f := open(t, b, store.Options{})
	ctx := f.ctx
	var (
		heardMu sync.Mutex
		heard   []store.JournalEntry
	)
	f.s.WatchJournal(func(e store.JournalEntry) {
		heardMu.Lock()
		heard = append(heard, e)
		heardMu.Unlock()
	})

	t.Run("written", func(t *testing.T) {
		e := store.JournalEntry{Offer: "written", Kind: store.KindHook, Status: store.JournalOK,
			Duration: store.Duration(3 * time.Millisecond), Version: 7, Summary: "GET /hook/written → 200",
			Request: "GET /hook/written?phone=79990001122", Response: `{"ok":true}`,
			Logs: []string{"hello", "lead 1 added"}, Detail: json.RawMessage(`{"edits": 3, "refused": []}`)}
		if err := f.s.RecordWritten(e); err != nil {
			t.Fatal(err)
		}
		list, _, err := f.s.JournalList(ctx, store.JournalQuery{Offer: "written"})
		if err != nil || len(list) != 1 {
			t.Fatalf("the written entry is not listed at once: %+v, %v", list, err)
		}
		got := list[0]
		if got.ID == 0 || !got.At.Equal(f.clk.Now()) {
			t.Errorf("entry id %d at %v; want an id and the store's clock, %v", got.ID, got.At, f.clk.Now())
		}
		e.ID, e.At = got.ID, got.At
		if !sameEntry(got, e) {
			t.Errorf("listed entry\n got %+v\nwant %+v", got, e)
		}
		one, err := f.s.JournalGet(ctx, got.ID)
		if err != nil || !sameEntry(*one, e) {
			t.Errorf("JournalGet = %+v, %v; want %+v", one, err, e)
		}
		heardMu.Lock()
		defer heardMu.Unlock()
		if len(heard) != 1 || heard[0].ID != got.ID || heard[0].Summary != e.Summary {
			t.Errorf("the watcher heard %+v; want the entry with its id", heard)
		}
	})

	t.Run("queued", func(t *testing.T) {
		f.s.Record(store.JournalEntry{Offer: "queued", Kind: store.KindSend, Status: store.JournalError, Summary: "lead 1: 503"},
			store.JournalEntry{Offer: "queued", Kind: store.KindSend, Status: store.JournalOK, Summary: "lead 1: 200"})
		var list []store.JournalEntry
		eventually(t, "two queued entries listed", func() bool {
			var err error
			list, _, err = f.s.JournalList(ctx, store.JournalQuery{Offer: "queued"})
			return err == nil && len(list) == 2
		})
		if list[0].Summary != "lead 1: 200" || list[1].Summary != "lead 1: 503" || list[0].ID == list[1].ID {
			t.Errorf("queued entries, newest first: %+v", list)
		}
	})

	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	t.Run("filters and paging", func(t *testing.T) {
		const n = 120
		for i := range n {
			offer, kind, status := "a", store.KindHook, store.JournalOK
			if i%2 == 1 {
				offer = "b"
			}
			if i%3 == 0 {
				kind = store.KindSend
			}
			if i%10 == 0 {
				status = store.JournalError
			}
			f.s.Record(store.JournalEntry{At: at.Add(time.Duration(i) * time.Second), Offer: offer, Kind: kind, Status: status,
				Summary: fmt.Sprint(i), Request: "GET /hook/" + offer})
		}
		eventually(t, fmt.Sprint(n, " entries listed"), func() bool {
			return len(journalAll(t, f, store.JournalQuery{Since: at, Limit: 1000})) == n
		})
		for _, tc := range []struct {
			name string
			q    store.JournalQuery
			want func(i int, offer string, kind store.JournalKind, status store.JournalStatus) bool
		}{
			{"all", store.JournalQuery{Since: at, Limit: 7}, nil},
			{"one offer", store.JournalQuery{Offer: "b", Since: at, Limit: 9},
				func(i int, o string, _ store.JournalKind, _ store.JournalStatus) bool { return o == "b" }},
			{"a kind's errors", store.JournalQuery{Kind: store.KindSend, Status: store.JournalError, Limit: 3},
				func(_ int, _ string, k store.JournalKind, s store.JournalStatus) bool {
					return k == store.KindSend && s == store.JournalError
				}},
			{"an offer's errors", store.JournalQuery{Offer: "a", Status: store.JournalError, Limit: 2},
				func(_ int, o string, _ store.JournalKind, s store.JournalStatus) bool {
					return o == "a" && s == store.JournalError
				}},
			{"an offer's ok entries", store.JournalQuery{Offer: "a", Status: store.JournalOK, Since: at, Limit: 50},
				func(_ int, o string, _ store.JournalKind, s store.JournalStatus) bool {
					return o == "a" && s == store.JournalOK
				}},
			{"since", store.JournalQuery{Offer: "a", Since: at.Add(110 * time.Second)},
				func(i int, o string, _ store.JournalKind, _ store.JournalStatus) bool { return o == "a" && i >= 110 }},
		} {
			var want []string
			for i := n - 1; i >= 0; i-- { // newest first
				offer, kind, status := "a", store.KindHook, store.JournalOK
				if i%2 == 1 {
					offer = "b"
				}
				if i%3 == 0 {
					kind = store.KindSend
				}
				if i%10 == 0 {
					status = store.JournalError
				}
				if tc.want == nil || tc.want(i, offer, kind, status) {
					want = append(want, fmt.Sprint(i))
				}
			}
			var got []string
			for _, e := range journalAll(t, f, tc.q) {
				if !e.At.Before(at) { // entries of the other subtests are older
					got = append(got, e.Summary)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: %v\nwant %v", tc.name, got, want)
			}
		}
	})

	t.Run("since, with an entry recorded after newer ones", func(t *testing.T) {
		// A check run is journaled when it ends, at the time it started:
		// hooks that came in while it ran were recorded before it.
		start := at.Add(time.Hour)
		for _, e := range []store.JournalEntry{
			{At: start.Add(time.Second), Offer: "late", Kind: store.KindHook, Status: store.JournalOK, Summary: "hook 1"},
			{At: start.Add(2 * time.Second), Offer: "late", Kind: store.KindHook, Status: store.JournalOK, Summary: "hook 2"},
			{At: start, Offer: "late", Kind: store.KindCheck, Status: store.JournalOK, Summary: "check run"},
		} {
			if err := f.s.RecordWritten(e); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range []store.JournalQuery{
			{Offer: "late", Since: start.Add(time.Second)},
			{Kind: store.KindHook, Since: start.Add(time.Second)},
			{Since: start.Add(time.Second)},
		} {
			var got []string
			for _, e := range journalAll(t, f, q) {
				got = append(got, e.Summary)
			}
			if fmt.Sprint(got) != "[hook 2 hook 1]" {
				t.Errorf("journal %+v: %v, want [hook 2 hook 1]: the entries since then", q, got)
			}
		}
	})

	t.Run("refused and unknown", func(t *testing.T) {
		if _, err := f.s.JournalGet(ctx, 42); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an unknown entry: err = %v, want ErrNotFound", err)
		}
		if _, _, err := f.s.JournalList(ctx, store.JournalQuery{Cursor: "!!"}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("a bad cursor: err = %v, want ErrInvalid", err)
		}
	})

	t.Run("a restart keeps them", func(t *testing.T) {
		if err := f.s.RecordWritten(store.JournalEntry{Offer: "restart", Kind: store.KindCheck, Status: store.JournalOK, Summary: "written"}); err != nil {
			t.Fatal(err)
		}
		f.s.Record(store.JournalEntry{Offer: "restart", Kind: store.KindCheck, Status: store.JournalOK, Summary: "queued"})
		f.reopen()
		var got []string
		for _, e := range journalAll(t, f, store.JournalQuery{Offer: "restart"}) {
			got = append(got, e.Summary)
		}
		if fmt.Sprint(got) != "[queued written]" {
			t.Errorf("after a restart: %v, want [queued written]", got)
		}
		// The clock stood still over the restart (or two entries name
		// the same time, as the refusals' per-minute summaries do): an
		// entry written now is one more, and replaces none.
		before := journalAll(t, f, store.JournalQuery{Limit: 1000})
		if err := f.s.RecordWritten(store.JournalEntry{Offer: "restart", Kind: store.KindCheck, Status: store.JournalOK, Summary: "after"}); err != nil {
			t.Fatal(err)
		}
		if err := f.s.RecordWritten(store.JournalEntry{At: at, Offer: "restart", Kind: store.KindHook, Status: store.JournalRefused, Summary: "same time"}); err != nil {
			t.Fatal(err)
		}
		after := journalAll(t, f, store.JournalQuery{Limit: 1000})
		if len(after) != len(before)+2 {
			t.Errorf("%d entries, then %d after writing 2: entries were replaced", len(before), len(after))
		}
		kept := map[uint64]string{}
		for _, e := range after {
			kept[e.ID] = e.Summary
		}
		for _, e := range before {
			if kept[e.ID] != e.Summary {
				t.Errorf("entry %d %q became %q", e.ID, e.Summary, kept[e.ID])
			}
		}
		n := 0
		for _, e := range journalAll(t, f, store.JournalQuery{Limit: 1000}) {
			if !e.At.Before(at) && e.Offer != "late" {
				n++
			}
		}
		if n != 120 {
			t.Errorf("after a restart: %d entries of 120", n)
		}
	})
}

// journalAll pages through a journal query to its end.
func journalAll(t *testing.T, f *fixture, q store.JournalQuery) []store.JournalEntry {
	t.Helper()
	var out []store.JournalEntry
	seen := map[uint64]bool{}
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			t.Fatalf("journal %+v: no end after %d pages", q, pages)
		}
		page, next, err := f.s.JournalList(f.ctx, q)
		if err != nil {
			t.Fatalf("journal %+v: %v", q, err)
		}
		if limit := q.Limit; limit > 0 && len(page) > limit {
			t.Errorf("journal %+v: page of %d entries", q, len(page))
		}
		for _, e := range page {
			if seen[e.ID] {
				t.Errorf("journal %+v: entry %d on two pages", q, e.ID)
			}
			seen[e.ID] = true
			out = append(out, e)
		}
		if next == "" {
			return out
		}
		q.Cursor = next
	}
}

// sameEntry compares entries, times as instants and details as JSON
// values (a backend may store them reformatted).
func sameEntry(a, b store.JournalEntry) bool {
	if !a.At.Equal(b.At) || !sameJSON(a.Detail, b.Detail) {
		return false
	}
	a.At, b.At, a.Detail, b.Detail = time.Time{}, time.Time{}, nil, nil
	return reflect.DeepEqual(a, b)
}

func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	return json.Unmarshal(a, &va) == nil && json.Unmarshal(b, &vb) == nil && reflect.DeepEqual(va, vb)
}

package app

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"leadhost/store"
)

// Anyone may make refused calls as fast as the network allows: of each
// source, the first ones of a minute are journaled one by one, the rest
// counted and said in one entry when the minute is over. Answered calls
// are all journaled, however many.
func TestRefusedCallsAreSampledPerSource(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 12, 6, 12, 0, 5, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a, err := Open(context.Background(), Config{InMemory: true, Scripts: "../testdata/scripts", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	call := func(from string, status int) {
		t.Helper()
		in := Inbound{Kind: store.KindHook, Offer: "nope", Method: []byte("GET"), Path: []byte("/hook/" + strings.Repeat("x", 15000)), Status: status, AtDoor: status != 200, From: from, Call: &fakeCall{}}
		if err := a.RecordCall(in); err != nil {
			t.Fatal(err)
		}
	}
	for range 10000 {
		call("203.0.113.7", 404)
	}
	for range 3 {
		call("198.51.100.1", 401)
	}
	for range 30 {
		call("198.51.100.1", 200)
	}
	mu.Lock()
	now = now.Add(time.Minute) // the next minute's first call says what the last one left out
	mu.Unlock()
	call("203.0.113.7", 404)

	var refused, answered []store.JournalEntry
	for q := (store.JournalQuery{Limit: 1000}); ; {
		page, next, err := a.Store.JournalList(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			if e.Status == store.JournalRefused {
				refused = append(refused, e)
			} else {
				answered = append(answered, e)
			}
		}
		if next == "" {
			break
		}
		q.Cursor = next
	}
	var summary string
	for _, e := range refused {
		if strings.Contains(e.Summary, "not journaled one by one") {
			if summary != "" {
				t.Errorf("two summaries: %q and %q", summary, e.Summary)
			}
			summary = e.Summary
		}
	}
	// 10 + 3 one by one in the first minute, 1 in the second, 1 summary.
	if len(refused) != refusedPerMinute+3+1+1 || len(answered) != 30 {
		t.Errorf("%d refused and %d answered entries; want %d and 30", len(refused), len(answered), refusedPerMinute+3+1+1)
	}
	if want := "9990 more refused calls from 203.0.113.7 in the minute from 2026-12-06 12:00 UTC"; !strings.Contains(summary, want) {
		t.Errorf("summary %q; want it to say %q", summary, want)
	}
}

// Many sources together keep no more than refusedLinesPerMinute lines a
// minute; the addresses of one IPv6 /64 are one source.
func TestRefusalsBoundAllSources(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		sources  func(i int) string
		calls    int
		wantKept int
	}{
		{"one IPv6 /64 is one source", func(i int) string { return fmt.Sprintf("2001:db8:1:2::%x", i+1) }, 1000, refusedPerMinute},
		{"a thousand IPv4 sources", func(i int) string { return fmt.Sprintf("10.0.%d.%d", i/250, i%250) }, 1000 * refusedPerMinute, refusedLinesPerMinute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r refusals
			kept := 0
			for i := range tc.calls {
				if keep, _ := r.admit(store.KindHook, tc.sources(i%1000), at); keep {
					kept++
				}
			}
			past := r.flush(at.Add(time.Minute))
			said := 0
			for _, e := range past {
				var n int
				fmt.Sscanf(e.Summary, "%d more", &n)
				said += n
			}
			if kept != tc.wantKept || kept+said != tc.calls {
				t.Errorf("kept %d (want %d), the summaries say %d more: %d of %d calls accounted for", kept, tc.wantKept, said, kept+said, tc.calls)
			}
		})
	}
}

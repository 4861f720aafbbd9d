package store

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
)

// As the disk fills, the journal yields first, then the store stops
// taking writes with ErrDiskFull (reads go on), and it takes them again
// by itself when space is freed; nothing written before is lost.
func TestDiskGuard(t *testing.T) {
	t.Parallel()
	const reserve = 100 << 20
	var free atomic.Uint64
	free.Store(1 << 30)
	s, _ := newTestStore(t, Options{Dir: t.TempDir(), GCInterval: -1, MinFreeDisk: reserve,
		FreeSpace: func() (uint64, error) { return free.Load(), nil }})
	ctx := context.Background()
	before := mustAdd(t, s, NewLead{Offer: "o", Ext: "before"})

	for i, tc := range []struct {
		name        string
		free        uint64
		addErr      error // what a new lead gets
		journalErr  error // what a journal entry gets
		readOnlySay string
	}{
		{"plenty of space", 1 << 30, nil, nil, ""},
		{"under twice the reserve: the journal yields", 150 << 20, nil, ErrDiskFull, ""},
		{"under the reserve: read-only", 50 << 20, ErrDiskFull, ErrDiskFull, "50 MiB free, 100 MiB kept"},
		{"freed, but not past the margin: still read-only", 110 << 20, ErrDiskFull, ErrDiskFull, "50 MiB free"},
		{"freed past the margin: writes again", 300 << 20, nil, nil, ""},
	} {
		free.Store(tc.free)
		s.checkDisk()
		_, _, err := s.Add(ctx, NewLead{Offer: "o", Ext: "x" + tc.name})
		if !errors.Is(err, tc.addErr) || (tc.addErr == nil) != (err == nil) {
			t.Errorf("%d %s: Add = %v; want %v", i, tc.name, err, tc.addErr)
		}
		err = s.RecordWritten(JournalEntry{Kind: KindHook, Status: JournalOK, Summary: tc.name})
		if !errors.Is(err, tc.journalErr) || (tc.journalErr == nil) != (err == nil) {
			t.Errorf("%d %s: RecordWritten = %v; want %v", i, tc.name, err, tc.journalErr)
		}
		if got := s.ReadOnly(); (tc.readOnlySay == "") != (got == "") || !strings.Contains(got, tc.readOnlySay) {
			t.Errorf("%d %s: ReadOnly = %q; want it to say %q", i, tc.name, got, tc.readOnlySay)
		}
		if l, err := s.Get(ctx, before.ID); err != nil || l.Ext != "before" {
			t.Errorf("%d %s: a lead stored before: %v, %v", i, tc.name, l, err)
		}
	}
	mustVerify(t, s)
}

// Over its budget, the journal keeps each entry as its one line.
func TestJournalBudget(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{Dir: t.TempDir(), GCInterval: -1, JournalBudget: 1})
	s.checkDisk()
	if err := s.RecordWritten(JournalEntry{Kind: KindHook, Status: JournalOK, Summary: "GET /hook/o → 200",
		Request: "GET /hook/o?phone=79990001122", Response: `{"ok":true}`, Logs: []string{"info: hi"}}); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.JournalList(context.Background(), JournalQuery{})
	if err != nil || len(got) != 1 {
		t.Fatalf("journal: %v, %v", got, err)
	}
	if e := got[0]; e.Request != "" || e.Response != "" || len(e.Logs) > 0 || !strings.Contains(e.Summary, "over its budget") {
		t.Errorf("an entry over the budget kept %+v", e)
	}
}

// A writer faster than the guard's tick does not write past the reserve:
// once a quarter of what was free above it has been written, the guard
// looks at once. Here the disk's free space falls by what the test
// writes, and nothing else moves time: without a look between ticks, 4
// MiB of leads would go through as the disk filled under the reserve.
func TestDiskGuardLooksAsWritesGo(t *testing.T) {
	t.Parallel()
	const reserve, headroom = 64 << 20, 4 << 20
	var used atomic.Int64
	s, _ := newTestStore(t, Options{Dir: t.TempDir(), GCInterval: -1, MinFreeDisk: reserve,
		FreeSpace: func() (uint64, error) { return uint64(reserve + headroom - used.Load()), nil }})
	ctx := context.Background()
	blob := strings.Repeat("x", 20<<10)
	var acked int64
	for i := range 400 { // 8 MiB, twice the headroom
		_, _, err := s.Add(ctx, NewLead{Offer: "o", Fields: map[string]string{"blob": blob, "n": string(rune('a' + i%26))}})
		if errors.Is(err, ErrDiskFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		acked += int64(len(blob))
		used.Add(2 * int64(len(blob))) // the log, then Badger
	}
	if s.ReadOnly() == "" {
		t.Fatalf("%d KiB written with %d KiB free above the reserve, and the store still takes writes", acked>>10, headroom>>10)
	}
	if over := used.Load() - headroom; over > headroom/2 {
		t.Errorf("the store went read-only %d KiB past the reserve (more than a quarter look's worth)", over>>10)
	}
}

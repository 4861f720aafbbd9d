package store

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestJournalSpoolLeft is the spool alone, on a ring small enough that
// records are cut at its end and an earlier lap's records lie past the
// head: a new spool on the same bytes (a process started after a kill)
// finds exactly the entries added and not yet written, in order.
func TestJournalSpoolLeft(t *testing.T) {
	for _, tc := range []struct {
		name           string
		written, added int // entries written to Badger (the tail passed them), then added after
	}{
		{"empty", 0, 0},
		{"none written", 0, 5},
		{"all written", 40, 0},
		{"laps behind", 37, 9},
		{"one left across the end", 23, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ring, meta := make([]byte, 4096), make([]byte, spoolMeta)
			sp, _ := newSpool(ring, meta, nil)
			at := t0
			add := func(i int) {
				e := JournalEntry{At: at.Add(time.Duration(i)), Offer: "shop", Kind: KindHook, Status: JournalOK,
					Summary: fmt.Sprintf("entry %d", i), Request: strings.Repeat("x", 100+i*7%90)}
				sp.add(&e, appendJournalBody(nil, &e))
			}
			for i := range tc.written {
				add(i)
				batch := sp.take(nil)
				sp.advance(batch[len(batch)-1].end())
			}
			for i := range tc.added {
				add(tc.written + i)
			}
			after, _ := newSpool(ring, meta, nil)
			entries, values, err := after.left()
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != tc.added || len(values) != tc.added {
				t.Fatalf("%d entries left, want %d", len(entries), tc.added)
			}
			for i, e := range entries {
				if want := fmt.Sprintf("entry %d", tc.written+i); e.Summary != want || e.ID == 0 {
					t.Errorf("entry %d left: %q (id %d), want %q", i, e.Summary, e.ID, want)
				}
			}
			if after.head != sp.head {
				t.Errorf("head after the left entries %d, want %d", after.head, sp.head)
			}
		})
	}
}

// TestJournalListFindsWhatWasRecorded: Record returns before the
// journal's Badger has the entry, yet a list right after it finds every
// entry recorded before it, and in the order of their ids.
func TestJournalListFindsWhatWasRecorded(t *testing.T) {
	s, _ := newTestStore(t, Options{})
	const n = 500
	for i := range n {
		s.Record(JournalEntry{Offer: "shop", Kind: KindHook, Status: JournalOK, Summary: strconv.Itoa(i)})
	}
	got, _, err := s.JournalList(context.Background(), JournalQuery{Offer: "shop", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d entries listed right after %d were recorded", len(got), n)
	}
	for i, e := range got {
		if want := strconv.Itoa(n - 1 - i); e.Summary != want {
			t.Fatalf("entry %d of the list is %q, want %q (newest first)", i, e.Summary, want)
		}
	}
}

// TestJournalEntryTooBigForSpool: an entry whose JSON would not fit the
// spool (a body of control characters, six bytes each in JSON) is kept
// as its line, said so, rather than waited for forever.
func TestJournalEntryTooBigForSpool(t *testing.T) {
	s, _ := newTestStore(t, Options{spoolSize: 1 << 20})
	body := strings.Repeat("\x01", maxJournalBody)
	err := s.RecordWritten(JournalEntry{Offer: "shop", Kind: KindCheck, Status: JournalOK, Summary: "big",
		Request: body, Response: body, Logs: []string{strings.Repeat("\x02", 1000)}, Detail: json.RawMessage(`{"a":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := s.JournalList(context.Background(), JournalQuery{Offer: "shop"})
	if err != nil || len(got) != 1 {
		t.Fatalf("%d entries, %v", len(got), err)
	}
	if got[0].Request != "" || got[0].Summary != "big (entry too big for the journal: only this line kept)" {
		t.Fatalf("kept %q with a request of %d bytes", got[0].Summary, len(got[0].Request))
	}
}

const spoolKillEnv = "LEADHOST_SPOOL_KILL_DIR"

// TestJournalSpoolSurvivesKill: a process records entries while its
// journal's writer is held (they are in the spool only), says so, and is
// SIGKILLed; the store opened again has every entry it said it recorded.
// Without the spool's replay on open, none of them would be there.
func TestJournalSpoolSurvivesKill(t *testing.T) {
	if dir := os.Getenv(spoolKillEnv); dir != "" {
		spoolKillChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestJournalSpoolSurvivesKill$", "-test.count=1")
	cmd.Env = append(os.Environ(), spoolKillEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if line := lines.Text(); line == "held" {
			break
		} else {
			acked[line] = true
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if len(acked) < 100 {
		t.Fatalf("the child recorded only %d entries", len(acked))
	}
	s, err := Open(Options{Dir: dir, NoSync: true, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, _, err := s.JournalList(context.Background(), JournalQuery{Offer: "shop", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range got {
		delete(acked, e.Summary)
	}
	if len(acked) > 0 {
		t.Fatalf("%d entries recorded before the kill are not in the journal (%d are)", len(acked), len(got))
	}
}

// spoolKillChild records entries with its journal's writer held, then
// waits to be killed.
func spoolKillChild(dir string) {
	s, err := Open(Options{Dir: dir, NoSync: true, GCInterval: -1, journalGate: make(chan struct{})})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	for i := range 300 {
		e := JournalEntry{Offer: "shop", Kind: KindHook, Status: JournalOK, Summary: "call " + strconv.Itoa(i),
			Request: "GET /hook/shop?order=" + strconv.Itoa(i) + " HTTP/1.1\r\n\r\n"}
		if err := s.RecordWritten(e); err != nil {
			fmt.Fprintln(os.Stderr, "child record:", err)
			os.Exit(2)
		}
		fmt.Println(e.Summary)
	}
	fmt.Println("held")
	select {}
}

// FuzzJournalJSON holds the journal's own JSON writer to json.Marshal:
// what it writes decodes to what json.Marshal's output decodes to.
func FuzzJournalJSON(f *testing.F) {
	f.Add("shop", "POST /hook/shop → 200", "GET / HTTP/1.1\r\n\r\n{\"a\":\"<b>\"}", `{"ok":true}`, "log\tline", []byte(`{"edits": [1, 2]}`), int64(1500), uint64(3))
	f.Add("", "\x00\x1f\"\\", "\xff\xfe bad utf-8 \u2028\u2029", "", "", []byte(nil), int64(0), uint64(0))
	f.Add("o", "s", "", "", "", []byte(`not json`), int64(-1), uint64(1<<60))
	f.Fuzz(func(t *testing.T, offer, summary, request, response, logLine string, detail []byte, dur int64, version uint64) {
		e := JournalEntry{ID: 1764000000123456789, At: time.Unix(0, 1764000000123456789+dur).UTC(), Offer: offer,
			Kind: KindHook, Status: JournalError, Duration: Duration(dur), Version: version, Node: offer,
			Summary: summary, Request: request, Response: response, Detail: detail}
		if logLine != "" {
			e.Logs = []string{logLine, summary}
		}
		ours := appendJournalBody(appendJournalID(nil, e.ID), &e)
		var got, want JournalEntry
		if err := json.Unmarshal(ours, &got); err != nil {
			t.Fatalf("%s: %v", ours, err)
		}
		theirs, err := json.Marshal(&e)
		if err != nil { // a detail that is not JSON: left out, and said
			e.Detail, e.Summary = nil, e.Summary+" (detail not JSON, left out)"
			theirs, _ = json.Marshal(&e)
		}
		if err := json.Unmarshal(theirs, &want); err != nil {
			t.Fatal(err)
		}
		// Detail is JSON kept as it came: json.Marshal escapes <, > and &
		// in it where ours keeps them, the same JSON either way.
		got.Detail, want.Detail = sameJSON(t, got.Detail), sameJSON(t, want.Detail)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ours %s\ndecodes to %+v\njson.Marshal's %s\ndecodes to %+v", ours, got, theirs, want)
		}
	})
}

// sameJSON is raw as one spelling of its value, for comparing JSON texts
// by what they say.
func sameJSON(t *testing.T, raw json.RawMessage) json.RawMessage {
	if raw == nil {
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("detail %s: %v", raw, err)
	}
	b, _ := json.Marshal(v)
	return b
}

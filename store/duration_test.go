package store

import (
	"encoding/json"
	"testing"
	"time"
)

func TestDurationJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		text string
	}{
		{10 * time.Minute, `"10m"`},
		{3 * time.Hour, `"3h"`},
		{90 * time.Minute, `"1h30m"`},
		{1500 * time.Millisecond, `"1.5s"`},
		{830 * time.Microsecond, `"830µs"`},
		{0, `"0s"`},
	} {
		b, err := json.Marshal(Duration(tc.d))
		if err != nil || string(b) != tc.text {
			t.Errorf("%s: %s %v, want %s", tc.d, b, err, tc.text)
		}
		var back Duration
		if err := json.Unmarshal(b, &back); err != nil || time.Duration(back) != tc.d {
			t.Errorf("%s read back as %s (%v)", tc.text, time.Duration(back), err)
		}
	}
	var bad Duration
	if err := json.Unmarshal([]byte(`"soon"`), &bad); err == nil {
		t.Error(`"soon" read as a duration`)
	}
}

// Journal entries as v1 writes them (id as text, duration as text) and as
// they were written before (numbers): both read.
func TestJournalEntryJSON(t *testing.T) {
	t.Parallel()
	e := JournalEntry{ID: 1796147143191474245, Kind: "hook", Status: "ok", Duration: Duration(12 * time.Millisecond)}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	if m["id"] != "1796147143191474245" || m["duration"] != "12ms" {
		t.Errorf("written as %s", b)
	}
	for _, text := range []string{string(b), `{"id":1796147143191474245,"kind":"hook","status":"ok","duration_ns":12000000}`} {
		var back JournalEntry
		if err := json.Unmarshal([]byte(text), &back); err != nil || back.ID != e.ID || back.Duration != e.Duration {
			t.Errorf("%s read as %+v (%v)", text, back, err)
		}
	}
}

package shadow

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"leadhost/host"
	"leadhost/host/script"
	"leadhost/store"
)

func edit(lead uint64, field, old, new string) store.BatchChange {
	return store.BatchChange{LeadID: lead, Fields: []store.FieldChange{{Field: field, Old: old, New: new}}}
}

// What counts as doing otherwise: a field ending elsewhere, an edit one
// side makes and the other not, another add, reply, outcome or error;
// a time set moments apart by each run's clock does not.
func TestCompare(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339Nano) }
	for _, tc := range []struct {
		name       string
		live, cand Side
		want       []Row
	}{
		{"the same", Side{Edits: []store.BatchChange{edit(1, "status", "2", "5")}}, Side{Edits: []store.BatchChange{edit(1, "status", "2", "5")}}, nil},
		{"another status", Side{Edits: []store.BatchChange{edit(1, "status", "2", "5"), edit(2, "status", "2", "6")}},
			Side{Edits: []store.BatchChange{edit(1, "status", "2", "4"), edit(2, "status", "2", "6")}},
			[]Row{{Lead: 1, What: "status", Live: "2 → 5", Candidate: "2 → 4"}}},
		{"an edit only live makes", Side{Edits: []store.BatchChange{edit(3, "comment", "", "hi")}}, Side{},
			[]Row{{Lead: 3, What: "comment", Live: " → hi", Candidate: "—"}}},
		{"two edits ending where one does", Side{Edits: []store.BatchChange{edit(1, "status", "2", "3"), edit(1, "status", "3", "5")}},
			Side{Edits: []store.BatchChange{edit(1, "status", "2", "5")}}, nil},
		{"a time set a second apart", Side{Edits: []store.BatchChange{edit(1, "hold_until", "", at(0))}, at: now},
			Side{Edits: []store.BatchChange{edit(1, "hold_until", "", at(time.Second))}, at: now.Add(time.Second)}, nil},
		{"a time set days apart", Side{Edits: []store.BatchChange{edit(1, "hold_until", "", at(0))}, at: now},
			Side{Edits: []store.BatchChange{edit(1, "hold_until", "", at(48*time.Hour))}, at: now},
			[]Row{{Lead: 1, What: "hold_until", Live: " → " + at(0), Candidate: " → " + at(48*time.Hour)}}},
		{"another reply", Side{Reply: `200 {"ok":true}`}, Side{Reply: `400 {"error":"no phone"}`},
			[]Row{{What: "reply", Live: `200 {"ok":true}`, Candidate: `400 {"error":"no phone"}`}}},
		{"the same add under another stand-in id", Side{Added: []script.AddedLead{{ID: 7, Created: true, Key: "k"}}},
			Side{Added: []script.AddedLead{{ID: 0, Created: true, Key: "k"}}}, nil},
		{"an add with another field", Side{Added: []script.AddedLead{{Key: "k", Fields: map[string]string{"a": "1"}}}},
			Side{Added: []script.AddedLead{{Key: "k", Fields: map[string]string{"a": "2"}}}},
			[]Row{{What: "lead added #1", Live: `{"id":0,"created":false,"key":"k","fields":{"a":"1"}}`, Candidate: `{"id":0,"created":false,"key":"k","fields":{"a":"2"}}`}}},
		{"an error", Side{Outcome: "ext 5"}, Side{Outcome: "retry", Error: "acme/next/send.lua:1: boom"},
			[]Row{{What: "outcome", Live: "ext 5", Candidate: "retry"}, {What: "error", Live: "—", Candidate: "acme/next/send.lua:1: boom"}}},
		{"the same error, from the candidate's file", Side{Error: "acme/hook.lua:2: order is missing"},
			Side{Error: "acme/next/hook.lua:2: order is missing"}, nil},
		{"another error, shown as raised", Side{Error: "acme/hook.lua:2: order is missing"},
			Side{Error: "acme/next/hook.lua:3: order is missing"},
			[]Row{{What: "error", Live: "acme/hook.lua:2: order is missing", Candidate: "acme/next/hook.lua:3: order is missing"}}},
		{"another offer's next/ is not ours", Side{Error: "acme/hook.lua:2: x"}, Side{Error: "other/next/hook.lua:2: x"},
			[]Row{{What: "error", Live: "acme/hook.lua:2: x", Candidate: "other/next/hook.lua:2: x"}}},
	} {
		if got := compare("acme", tc.live, tc.cand); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

// The live path never waits for a shadow run: past the queue's bytes an
// input is dropped and counted, however few inputs wait.
func TestFullQueueDrops(t *testing.T) {
	t.Parallel()
	noop := func(context.Context) result { return result{} }
	for _, tc := range []struct {
		name    string
		sizes   []int64
		dropped int64
	}{
		{"small inputs fit", []int64{100, 100, 100, 100, 100}, 0},
		{"one big answer fills it", []int64{3<<20 - 2048, 100, 100}, 2},
		{"past the bytes", []int64{1 << 20, 1 << 20, 1 << 20}, 1},
	} {
		s := New(nil, nil, 3<<20, nil) // no worker: the queue only fills
		for _, size := range tc.sizes {
			s.submit("acme", 1, size, noop)
		}
		if c, _ := s.Status("acme"); c.Dropped != tc.dropped || c.Compared != 0 {
			t.Errorf("%s: counts %+v, want %d dropped", tc.name, c, tc.dropped)
		}
	}
}

// BenchmarkHookHandOver is what the live path pays per webhook for a
// candidate: Shadow.Hook, building the live side and queueing the run
// (the run itself is the worker's, off the request).
func BenchmarkHookHandOver(b *testing.B) {
	dir := b.TempDir()
	for _, f := range []struct{ path, src string }{
		{"gc/offer.toml", "[hook]\ntoken = \"bench-token\"\n"},
		{"gc/hook.lua", "return {ok = true}\n"},
		{"gc/next/hook.lua", "return {ok = true}\n"},
	} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f.path)), 0o755)
		os.WriteFile(filepath.Join(dir, f.path), []byte(f.src), 0o644)
	}
	reg := host.NewRegistry(dir)
	if _, err := reg.Reload(); err != nil {
		b.Fatal(err)
	}
	o, _ := reg.Offer("gc")
	if c, ok := reg.Candidate("gc"); !ok || c.Offer == nil {
		b.Fatalf("no candidate: %v", c.Problems())
	}
	s := New(nil, reg, int64(b.N+1)<<20, nil) // room for every run; no worker: only the hand-over is timed
	req := script.HookRequest{Method: "GET", Query: map[string][]string{"order": {"B1"}, "phone": {"79990001122"}}, IP: "10.0.0.1"}
	res := script.HookResult{Reply: script.HookReply{Status: 200, Body: []byte(`{"ok":true,"lead":17,"created":true}`)},
		Added: []script.AddedLead{{ID: 17, Created: true, Key: "B1", Fields: map[string]string{"phone": "79990001122"}}}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s.Hook(o, "hook.lua", req, res, nil)
	}
}

package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"leadhost/host"
	"leadhost/host/hosttest"
	"leadhost/store"
)

// altercpaWithCandidate makes a scripts folder with the AlterCPA example
// asking partner, and a candidate check.lua (next/) that maps the
// network's "cancel" to hold (4) instead of cancel (5).
func altercpaWithCandidate(t *testing.T, partner string) (scripts string) {
	t.Helper()
	scripts = t.TempDir()
	offer := filepath.Join(scripts, "altercpa")
	for _, name := range []string{"offer.toml", "check.lua"} {
		b, err := os.ReadFile(filepath.Join("../../scripts/altercpa", name))
		if err != nil {
			t.Fatal(err)
		}
		b = []byte(strings.ReplaceAll(string(b), "https://network.example", partner))
		write(t, filepath.Join(offer, name), string(b))
		if name == "check.lua" {
			const live = `core.lead.edit(id, { status = 5, comment = row.phase })`
			if !strings.Contains(string(b), live) {
				t.Fatalf("the example's check.lua has no %q to change", live)
			}
			write(t, filepath.Join(offer, host.NextDir, name), strings.Replace(string(b), live, `core.lead.edit(id, { status = 4 })`, 1))
		}
	}
	return scripts
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A candidate check.lua that maps one partner status differently: after
// a real check run, exactly the lead with that status differs, the store
// holds only the live version's edits, the partner was asked once, and
// the difference is journaled (kind shadow) with both sides.
func TestShadowCheckShowsExactlyTheDifferingLeads(t *testing.T) {
	t.Parallel()
	answer, err := os.ReadFile("../../scripts/altercpa/testdata/list.json")
	if err != nil {
		t.Fatal(err)
	}
	partner := hosttest.StartPartner(t, hosttest.Answer(200, string(answer)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := Open(ctx, Config{InMemory: true, Scripts: altercpaWithCandidate(t, partner.URL)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	go a.Shadows.Run(ctx)
	ids := map[string]uint64{}
	for _, ext := range []string{"9001", "9002", "9003", "9004"} {
		l, _, err := a.Store.Add(ctx, store.NewLead{Offer: "altercpa", Ext: ext, Status: store.StatusProcessing})
		if err != nil {
			t.Fatal(err)
		}
		ids[ext] = l.ID
	}

	rep, err := a.CheckNow(ctx, "altercpa", CheckRequest{Mode: "processing"})
	if err != nil || rep.Err != nil {
		t.Fatal(err, rep.Err)
	}
	if err := a.Shadows.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := a.Shadow(ctx, "altercpa")
	if err != nil {
		t.Fatal(err)
	}
	if v.Counts.Compared != 1 || v.Counts.Differing != 1 || len(v.Differences) != 1 {
		t.Fatalf("counts %+v, %d differences; want 1 compared, 1 differing", v.Counts, len(v.Differences))
	}
	d := v.Differences[0]
	leads := map[uint64]bool{}
	for _, r := range d.Rows {
		leads[r.Lead] = true
	}
	if len(leads) != 1 || !leads[ids["9002"]] {
		t.Errorf("rows %+v: want lead %d's only (the cancelled one)", d.Rows, ids["9002"])
	}
	status := false
	for _, r := range d.Rows {
		if r.What == "status" && r.Live == "2 → 5" && r.Candidate == "2 → 4" {
			status = true
		}
	}
	if !status {
		t.Errorf("rows %+v lack status 2 → 5 (live) beside 2 → 4 (candidate)", d.Rows)
	}
	if n := len(partner.Requests()); n != 1 {
		t.Errorf("the partner was asked %d times, want once: the candidate asks nothing", n)
	}
	want := map[string]store.Status{"9001": store.StatusPacking, "9002": store.StatusCancel, "9003": store.StatusCancel, "9004": store.StatusCallback}
	for ext, st := range want {
		l, err := a.Store.Get(ctx, ids[ext])
		if err != nil {
			t.Fatal(err)
		}
		if l.Status != st {
			t.Errorf("lead %s is in status %d, want %d (the live version's edit)", ext, l.Status, st)
		}
	}
	hosttest.Eventually(t, "the shadow entry in the journal", func() bool {
		es, _, _ := a.Store.JournalList(ctx, store.JournalQuery{Kind: store.KindShadow})
		return len(es) == 1 && es[0].Offer == "altercpa" && strings.Contains(string(es[0].Detail), `"candidate":{"version"`)
	})
}

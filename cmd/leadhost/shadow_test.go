package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"leadhost/host/app"
	"leadhost/host/hosttest"
	"leadhost/host/shadow"
	"leadhost/store"
)

// A candidate check.lua that maps the network's "cancel" to hold: after
// a real check run through a running serve, `leadhost shadow` and the
// API show the cancelled lead's difference and no other lead's, the
// store keeps the live version's edits, the partner is asked only by the
// live runs; `leadhost promote` makes the candidate live.
func TestShadowAndPromoteCommands(t *testing.T) {
	t.Parallel()
	answer, err := os.ReadFile("../../scripts/altercpa/testdata/list.json")
	if err != nil {
		t.Fatal(err)
	}
	partner := hosttest.StartPartner(t, hosttest.Answer(200, string(answer)))
	dir := t.TempDir()
	scripts, data := filepath.Join(dir, "scripts"), filepath.Join(dir, "data")
	offer := filepath.Join(scripts, "altercpa")
	for _, name := range []string{"offer.toml", "check.lua"} {
		b, err := os.ReadFile(filepath.Join("../../scripts/altercpa", name))
		if err != nil {
			t.Fatal(err)
		}
		b = []byte(strings.ReplaceAll(string(b), "https://network.example", partner.URL))
		os.MkdirAll(filepath.Join(offer, "next"), 0o755)
		if err := os.WriteFile(filepath.Join(offer, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if name == "check.lua" {
			cand := strings.Replace(string(b), `core.lead.edit(id, { status = 5, comment = row.phase })`, `core.lead.edit(id, { status = 4 })`, 1)
			if err := os.WriteFile(filepath.Join(offer, "next", name), []byte(cand), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	h, _ := startTestHost(t, data, scripts)
	ctx := context.Background()
	ids := map[string]uint64{}
	for _, ext := range []string{"9001", "9002", "9003", "9004"} {
		l, _, err := h.st.Add(ctx, store.NewLead{Offer: "altercpa", Ext: ext, Status: store.StatusProcessing})
		if err != nil {
			t.Fatal(err)
		}
		ids[ext] = l.ID
	}
	flags := []string{"--data", data, "--scripts", scripts}
	if code, out, errOut := leadhost(t, "", append([]string{"check", "altercpa"}, flags...)...); code != exitOK {
		t.Fatalf("check: exit %d\n%s%s", code, out, errOut)
	}

	var out string
	hosttest.Eventually(t, "the shadow run shown", func() bool {
		_, out, _ = leadhost(t, "", append([]string{"shadow", "altercpa"}, flags...)...)
		return strings.Contains(out, "1 differ")
	})
	row := regexp.MustCompile(fmt.Sprintf(`(?m)^\s+%d\s+status\s+2 → 5\s+2 → 4\s*$`, ids["9002"]))
	for _, want := range []string{"candidate version", "(next/: check.lua)", "inputs compared, 1 differ", "check processing: 4 leads"} {
		if !strings.Contains(out, want) {
			t.Errorf("leadhost shadow lacks %q:\n%s", want, out)
		}
	}
	t.Logf("leadhost shadow altercpa:\n%s", out)
	if !row.MatchString(out) {
		t.Errorf("leadhost shadow lacks lead %d's status row:\n%s", ids["9002"], out)
	}
	for ext, id := range ids {
		if ext != "9002" && regexp.MustCompile(fmt.Sprintf(`(?m)^\s+%d\s`, id)).MatchString(out) {
			t.Errorf("lead %d (ext %s) is shown, but both versions edit it alike:\n%s", id, ext, out)
		}
	}
	resp, err := http.Get("http://" + h.addr.String() + "/api/offers/altercpa/shadow")
	if err != nil {
		t.Fatal(err)
	}
	var v app.ShadowView
	err = json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("GET /api/offers/altercpa/shadow: %v", err)
	}
	for _, d := range v.Differences {
		for _, r := range d.Rows {
			if r.Lead != ids["9002"] {
				t.Errorf("the API shows lead %d: %+v", r.Lead, r)
			}
		}
	}
	if l, _ := h.st.Get(ctx, ids["9002"]); l.Status != store.StatusCancel {
		t.Errorf("lead 9002 in status %d: the live version cancels it", l.Status)
	}
	var runs int
	hosttest.Eventually(t, "the check runs journaled", func() bool {
		es, _, _ := h.st.JournalList(ctx, store.JournalQuery{Kind: store.KindCheck})
		runs = len(es)
		return runs > 0
	})
	if n := len(partner.Requests()); n != runs {
		t.Errorf("the partner was asked %d times in %d check runs: the candidate asked too", n, runs)
	}

	code, out, errOut := leadhost(t, "", append([]string{"promote", "altercpa"}, flags...)...)
	if code != exitOK || !strings.Contains(out, "promoted altercpa: check.lua live") || !strings.Contains(out, "scripts/altercpa/.prev/: check.lua") {
		t.Fatalf("promote: exit %d\n%s%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(offer, "check.lua")); !strings.Contains(string(b), "status = 4 }") {
		t.Errorf("check.lua after promote:\n%s", b)
	}
	code, _, errOut = leadhost(t, "", append([]string{"promote", "altercpa"}, flags...)...)
	if code != exitError || !strings.Contains(errOut, "offer altercpa has no candidate") {
		t.Errorf("a second promote: exit %d, %s", code, errOut)
	}
	if _, out, _ := leadhost(t, "", append([]string{"shadow", "altercpa"}, flags...)...); !strings.Contains(out, "offer altercpa has no candidate") {
		t.Errorf("shadow after promote:\n%s", out)
	}
}

// leadhost shadow masks phones and e-mails in what it prints, unless
// --raw; a candidate shadowed no more says why.
func TestPrintShadow(t *testing.T) {
	t.Parallel()
	v := &app.ShadowView{Offer: "acme", LiveVersion: 3,
		Candidate: &app.CandidateView{Version: 4, Files: []string{"hook.lua"}, Problems: []string{}},
		Counts:    shadow.Counts{Compared: 5, Differing: 1, Stopped: "candidate version 4 passed the shadow runs' deadline"},
		Differences: []shadow.Difference{{Offer: "acme", Input: "webhook hook.lua", Rows: []shadow.Row{
			{Lead: 7, What: "fields.phone", Live: " → 79001234567", Candidate: "—"}}}}}
	for _, tc := range []struct {
		name      string
		raw       bool
		want, not []string
	}{
		{"masked", false, []string{"5 inputs compared, 1 differ", "shadow runs stopped: candidate version 4"}, []string{"79001234567"}},
		{"raw", true, []string{"79001234567"}, nil},
	} {
		var b strings.Builder
		printShadow(&b, v, false, tc.raw)
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: lacks %q:\n%s", tc.name, w, b.String())
			}
		}
		for _, w := range tc.not {
			if strings.Contains(b.String(), w) {
				t.Errorf("%s: shows %q:\n%s", tc.name, w, b.String())
			}
		}
	}
	if v.Differences[0].Rows[0].Live != " → 79001234567" {
		t.Error("printShadow masked the caller's view")
	}
}

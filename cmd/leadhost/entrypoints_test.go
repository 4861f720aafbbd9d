package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"leadhost/host/hosttest"
	"leadhost/store"
)

// parityScripts is testdata/parity as an offer of a scripts folder, its
// partner and tracker at the given addresses.
func parityScripts(t *testing.T, partner, tracker string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "scripts")
	if err := os.MkdirAll(filepath.Join(dir, "parity"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"offer.toml", "send.lua", "hook.lua", "postback.lua"} {
		b, err := os.ReadFile(filepath.Join("testdata/parity", name))
		if err != nil {
			t.Fatal(err)
		}
		b = []byte(strings.NewReplacer("http://partner.invalid", partner, "http://tracker.invalid", tracker).Replace(string(b)))
		if err := os.WriteFile(filepath.Join(dir, "parity", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// entryOutcome is what a user can see of one lead added and approved:
// the lead and its history, what the partner and the tracker received,
// and the journal's entries of the add and the approval.
type entryOutcome struct {
	lead      store.Lead
	sends     []offerumCall
	postbacks []string // each call's stage and status
	journal   []string // summaries of the entries of the add and the approval, oldest first
}

// The same add and the same approval through each entry point — the CLI
// on a database it opens, the CLI while serve holds the database, the
// admin API, Lua (a webhook's hook.lua, a postback's postback.lua) — give
// the same lead, the same send, the same postbacks, and journal entries
// of the add and the approval (kind lead by a person; the webhook's and
// the postback's own for Lua).
func TestEntryPointsAgree(t *testing.T) {
	t.Parallel()
	const (
		add     = `{"offer":"parity","key":"k1","fields":{"phone":"79990009999","name":"Ivan"}}`
		approve = `{"accept":1,"comment":"ok"}`
	)
	cli := func(t *testing.T, data, scripts, stdin string, args ...string) {
		t.Helper()
		if code, _, errOut := leadhost(t, stdin, append(args, "--data", data, "--scripts", scripts)...); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
	api := func(t *testing.T, h *runningHost, method, path, body string, want int) {
		t.Helper()
		code, b := httpCallAs(t, h.localToken, method, "http://"+h.addr.String()+path, body)
		if code != want {
			t.Fatalf("%s %s: %d %s", method, path, code, b)
		}
	}
	sent := func(t *testing.T, h *runningHost) {
		hosttest.Eventually(t, "the lead sent", func() bool { return leadStatus(t, h.st, 1).Ext == "4242" })
	}
	lead := func(by string) []string {
		return []string{fmt.Sprintf("lead 1 added by %s (status 1, rev 1)", by), fmt.Sprintf("lead 1 edited by %s (status 10, rev 3)", by)}
	}
	paths := []struct {
		name    string
		by      []string // the history's adder, and approver
		kinds   []store.JournalKind
		journal []string
		run     func(t *testing.T, data, scripts string, approved func() bool) *runningHost
	}{
		{"cli without serve", []string{"cli", "cli"}, []store.JournalKind{store.KindLead}, lead("cli"), func(t *testing.T, data, scripts string, approved func() bool) *runningHost {
			cli(t, data, scripts, add, "lead", "add")
			h, stop := startTestHost(t, data, scripts) // the outbox kept the send
			sent(t, h)
			stop()
			cli(t, data, scripts, approve, "lead", "edit", "1")
			h, _ = startTestHost(t, data, scripts) // and the postback
			return h
		}},
		{"cli with serve running", []string{"cli", "cli"}, []store.JournalKind{store.KindLead}, lead("cli"), func(t *testing.T, data, scripts string, approved func() bool) *runningHost {
			h, _ := startTestHost(t, data, scripts)
			cli(t, data, scripts, add, "lead", "add")
			sent(t, h)
			cli(t, data, scripts, approve, "lead", "edit", "1")
			return h
		}},
		{"admin API", []string{"api", "api"}, []store.JournalKind{store.KindLead}, lead("api"), func(t *testing.T, data, scripts string, approved func() bool) *runningHost {
			h, _ := startTestHost(t, data, scripts)
			api(t, h, "POST", "/api/leads", add, 201)
			sent(t, h)
			api(t, h, "PATCH", "/api/leads/1", approve, 200)
			return h
		}},
		{"Lua", []string{"script:parity/hook.lua", "script:parity/postback.lua"}, []store.JournalKind{store.KindHook, store.KindPostback},
			[]string{"POST /hook/parity → 200", "GET /postback/parity → 200"}, func(t *testing.T, data, scripts string, approved func() bool) *runningHost {
				h, _ := startTestHost(t, data, scripts)
				api(t, h, "POST", "/hook/parity?token=parity-hook", add, 200) // the same JSON: hook.lua reads its key and fields
				sent(t, h)
				api(t, h, "GET", "/postback/parity?token=parity-postback&oid=1", "", 200)
				return h
			}},
	}
	var outcomes []entryOutcome
	for _, p := range paths {
		partner := startOfferum(t, func(int) (int, string) { return 200, `{"id":4242}` })
		tracker := startOfferum(t, func(int) (int, string) { return 200, `ok` })
		scripts := parityScripts(t, partner.URL, tracker.URL)
		data := filepath.Join(t.TempDir(), "data")
		approved := func() bool {
			for _, c := range tracker.Requests() {
				if c.Query.Get("stage") == "approve" {
					return true
				}
			}
			return false
		}
		h := p.run(t, data, scripts, approved)
		hosttest.Eventually(t, p.name+": the approval reported", approved)
		var out entryOutcome
		hosttest.Eventually(t, p.name+": the journal's entries of the add and the approval", func() bool {
			var entries []store.JournalEntry
			for _, kind := range p.kinds {
				got, _, _ := h.st.JournalList(context.Background(), store.JournalQuery{Kind: kind})
				entries = append(entries, got...)
			}
			sort.Slice(entries, func(i, j int) bool { return entries[i].ID < entries[j].ID })
			out.journal = out.journal[:0]
			for _, e := range entries {
				out.journal = append(out.journal, e.Summary)
			}
			return len(entries) == 2
		})
		// The lead as `leadhost lead get` prints it, through the running serve.
		code, got, errOut := leadhost(t, "", "lead", "get", "1", "--data", data, "--scripts", scripts)
		if code != exitOK {
			t.Fatalf("%s: lead get while serve runs: exit %d: %s", p.name, code, errOut)
		}
		if err := json.Unmarshal([]byte(got), &out.lead); err != nil {
			t.Fatalf("%s: lead get printed %s", p.name, got)
		}
		// The serve has the offers: a CLI run from where no scripts
		// folder is finds it all the same.
		if code, again, errOut := leadhost(t, "", "lead", "get", "1", "--data", data, "--scripts", filepath.Join(t.TempDir(), "none")); code != exitOK || again != got {
			t.Errorf("%s: lead get with no scripts folder here: exit %d, %s\n%s", p.name, code, errOut, again)
		}
		out.sends = partner.Requests()
		for _, c := range tracker.Requests() {
			out.postbacks = append(out.postbacks, c.Query.Get("stage")+"/"+c.Query.Get("status"))
		}
		l := out.lead
		if l.Status != store.StatusPaid || l.Ext != "4242" || l.AcceptedAt.IsZero() || l.Comment != "ok" {
			t.Errorf("%s: lead %+v, want status 10 (no delivery), ext 4242, accepted", p.name, l)
		}
		if len(out.sends) != 1 || out.sends[0].Form.Get("phone") != "79990009999" || out.sends[0].Form.Get("name") != "Ivan" {
			t.Errorf("%s: partner got %+v, want one order with the phone and name", p.name, out.sends)
		}
		var bys []string
		for _, hist := range l.History {
			bys = append(bys, hist.By)
		}
		if want := []string{p.by[0], "script:parity/send.lua", p.by[1]}; !reflect.DeepEqual(bys, want) {
			t.Errorf("%s: history by %q, want %q", p.name, bys, want)
		}
		if !reflect.DeepEqual(out.journal, p.journal) {
			t.Errorf("%s: journal %q, want %q", p.name, out.journal, p.journal)
		}
		outcomes = append(outcomes, out)
	}
	first := outcomes[0]
	for i, o := range outcomes[1:] {
		name := paths[i+1].name
		if !sameHistory(first.lead, o.lead) || !reflect.DeepEqual(first.lead.Fields, o.lead.Fields) {
			t.Errorf("%s: lead differs from %s's:\n%+v\n%+v", name, paths[0].name, o.lead, first.lead)
		}
		if !reflect.DeepEqual(first.postbacks, o.postbacks) {
			t.Errorf("%s: tracker got %v, %s's got %v", name, o.postbacks, paths[0].name, first.postbacks)
		}
		if !reflect.DeepEqual(first.sends[0].Form, o.sends[0].Form) {
			t.Errorf("%s: partner got %v, %s's got %v", name, o.sends[0].Form, paths[0].name, first.sends[0].Form)
		}
	}
}

// sameHistory says a and b went through the same changes (times and
// who made them aside).
func sameHistory(a, b store.Lead) bool {
	if a.Status != b.Status || a.Ext != b.Ext || len(a.History) != len(b.History) {
		return false
	}
	for i := range a.History {
		if len(a.History[i].Fields) != len(b.History[i].Fields) {
			return false
		}
		for j, fa := range a.History[i].Fields {
			fb := b.History[i].Fields[j]
			if fa.Field != fb.Field || (fa.Field != "accepted_at" && (fa.Old != fb.Old || fa.New != fb.New)) {
				return false
			}
		}
	}
	return true
}

// httpCall makes one admin API call from this host: status and body.
func httpCall(t *testing.T, method, url, body string) (int, []byte) {
	t.Helper()
	return httpCallAs(t, "", method, url, body)
}

// httpCallAs is httpCall showing a bearer token ("": none), as the CLI
// shows serve's local token for a change.
func httpCallAs(t *testing.T, token, method, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

package cases

import (
	"context"
	"leadhost/api"
	"leadhost/host/app"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// webhooks is serve's webhook handler, as `leadhost test` passes it.
func webhooks(a *app.App) fasthttp.RequestHandler {
	return (&api.Server{App: a, Log: slog.New(slog.DiscardHandler)}).Handle
}

// Cases fail when they should: a typo in a case, an error expected and
// not raised, a count or reply that differs; and pass when all holds.
func TestCaseOutcomes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	os.MkdirAll(filepath.Join(dir, "tests"), 0o755)
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("offer.toml", "[hook]\ntoken = \"t\"\n")
	write("hook.lua", `
		local q = req.query
		if not q.order then error("no order") end
		local id, created = core.lead.add{ key = q.order, fields = { phone = q.phone } }
		return { lead = id, created = created }`)
	write("tests/a-pass.json", `{"hook": {"query": {"order": ["A"], "phone": ["7"]}},
		"expect": {"count": 1, "reply": {"status": 200, "json": {"lead": 1, "created": true}}, "leads": [{"id": 1, "fields": {"phone": "7"}}]}}`)
	write("tests/b-typo.json", `{"hook": {"query": {"order": ["A"]}}, "expext": {}}`)
	write("tests/c-error-expected.json", `{"hook": {"query": {"order": ["A"]}}, "expect": {"error": "no order"}}`)
	write("tests/d-error-raised.json", `{"hook": {"query": {}}, "expect": {"error": "no order"}}`)
	write("tests/e-wrong.json", `{"hook": {"query": {"order": ["A"], "phone": ["7"]}},
		"expect": {"count": 2, "reply": {"json": {"created": false}}, "leads": [{"id": 1, "status": 2}]}}`)
	write("tests/f-request-on-hook.json", `{"hook": {"query": {"order": ["A"]}}, "expect": {"request": {"method": "DELETE"}}}`)
	write("tests/g-fields-not-object.json", `{"hook": {"query": {"order": ["A"], "phone": ["7"]}}, "expect": {"leads": [{"id": 1, "fields": ["phone"]}]}}`)
	results, err := Run(context.Background(), dir, webhooks)
	if err != nil || len(results) != 7 {
		t.Fatalf("%d results, %v", len(results), err)
	}
	want := map[string][]string{
		"a-pass":              nil,
		"b-typo":              {`unknown field "expext"`},
		"c-error-expected":    {`the run went well; want an error with "no order"`},
		"d-error-raised":      nil,
		"e-wrong":             {"the offer has 1 leads, want 2", "lead 1: status is 1, want 2", "reply created is true, want false"},
		"f-request-on-hook":   {"expect.request is checked for send and check cases only"},
		"g-fields-not-object": {"expected fields must be an object"},
	}
	for _, r := range results {
		w := want[r.Name]
		if len(r.Diffs) != len(w) {
			t.Errorf("%s: diffs %q, want %q", r.Name, r.Diffs, w)
			continue
		}
		for i := range w {
			if !strings.Contains(r.Diffs[i], w[i]) {
				t.Errorf("%s: diff %q, want %q", r.Name, r.Diffs[i], w[i])
			}
		}
	}
}

// Cases take the paths production takes: a hook case passes the token
// check (a wrong token is 401), a JSON send's request carries the
// Content-Type it has on the wire, and a check case's request is the one
// prepare.lua made.
func TestCasesDriveTheRealPaths(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "crm")
	os.MkdirAll(filepath.Join(dir, "tests"), 0o755)
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("offer.toml", `[hook]
token = "t"
[send]
url = "https://crm.example/orders"
method = "POST"
body = "json"
fields = { phone = "{phone}" }
[check]
url = "https://crm.example/status?ids={idel}"
`)
	write("hook.lua", `return { ok = true }`)
	write("send.lua", `return data.id`)
	write("prepare.lua", `request.headers["X-Sig"] = "sig-" .. idel`)
	write("check.lua", `for _, row in ipairs(data) do core.lead.setstatus(e2i[row.id], row.status) end`)
	write("tests/hook-wrong-token.json", `{"hook": {"token": "nope"}, "expect": {"reply": {"status": 401}}}`)
	write("tests/hook-right-token.json", `{"hook": {}, "expect": {"reply": {"status": 200, "json": {"ok": true}}}}`)
	write("tests/send-json.json", `{"leads": [{"fields": {"phone": "79990001122"}}], "send": {"body": "{\"id\": \"C1\"}"},
		"expect": {"request": {"method": "POST", "path": "/orders", "form": {"phone": "79990001122"}, "headers": {"Content-Type": "application/json"}},
		"leads": [{"id": 1, "status": 2, "ext": "C1"}]}}`)
	write("tests/check-prepared.json", `{"leads": [{"ext": "E1", "status": 2}], "check": {"response": "[{\"id\": \"E1\", \"status\": \"approved\"}]"},
		"expect": {"request": {"method": "GET", "path": "/status", "query": {"ids": "E1"}, "headers": {"X-Sig": "sig-E1"}},
		"leads": [{"ext": "E1", "status": 6}]}}`)
	results, err := Run(context.Background(), dir+string(filepath.Separator), webhooks) // as a shell completes the folder
	if err != nil || len(results) != 4 {
		t.Fatalf("%d results, %v", len(results), err)
	}
	for _, r := range results {
		if !r.Passed() {
			t.Errorf("%s: %q", r.Name, r.Diffs)
		}
	}
}

func TestParseAdvance(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text string
		want time.Duration
		ok   bool
	}{
		{"8d", 8 * 24 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"0d", 0, false},
		{"soon", 0, false},
		{"-1d", 0, false},
	} {
		got, err := parseAdvance(tc.text)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%q: %v, %v; want %v", tc.text, got, err, tc.want)
		}
	}
}

// A scheduled run's failure is the case's: a check.lua that raises on its
// schedule fails a case that expects nothing, and holds one that expects
// the error.
func TestScheduledCheckFailureIsTheCases(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "crm")
	os.MkdirAll(filepath.Join(dir, "tests"), 0o755)
	os.WriteFile(filepath.Join(dir, "offer.toml"), []byte("[check]\nurl = \"https://crm.example/status?ids={idel}\"\nprocessing = { every = \"10m\" }\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "check.lua"), []byte("error(\"the CRM changed its answer\")\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "tests", "a-silent.json"), []byte(`{"leads": [{"ext": "E1", "status": 2}], "check": {"response": "[]"}, "advance": "11m"}`), 0o644)
	os.WriteFile(filepath.Join(dir, "tests", "b-expected.json"), []byte(`{"leads": [{"ext": "E1", "status": 2}], "check": {"response": "[]"}, "advance": "11m", "expect": {"error": "the CRM changed its answer"}}`), 0o644)
	results, err := Run(context.Background(), dir, webhooks)
	if err != nil || len(results) != 2 {
		t.Fatalf("%d results, %v", len(results), err)
	}
	if results[0].Passed() || !strings.Contains(strings.Join(results[0].Diffs, " "), "the CRM changed its answer") {
		t.Errorf("a case silent about a failing scheduled run: %q", results[0].Diffs)
	}
	if !results[1].Passed() {
		t.Errorf("a case expecting the scheduled run's error: %q", results[1].Diffs)
	}
}

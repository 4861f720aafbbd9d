package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

// `leadhost check` against a partner on 127.0.0.1: the dry run prints the
// request, the answer and the edits and commits nothing; the real run
// commits; a failing partner exits 1 with the reason.
func TestCheckCommand(t *testing.T) {
	t.Parallel()
	answer, err := os.ReadFile("../../scripts/altercpa/testdata/list.json")
	if err != nil {
		t.Fatal(err)
	}
	var failing atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(502)
			return
		}
		w.Write(answer)
	}))
	defer srv.Close()

	dir := t.TempDir()
	scripts, data := filepath.Join(dir, "scripts"), filepath.Join(dir, "data")
	offer := filepath.Join(scripts, "altercpa")
	if err := os.MkdirAll(offer, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"offer.toml", "check.lua"} {
		b, err := os.ReadFile(filepath.Join("../../scripts/altercpa", name))
		if err != nil {
			t.Fatal(err)
		}
		b = regexp.MustCompile(`https://network\.example`).ReplaceAll(b, []byte(srv.URL))
		if err := os.WriteFile(filepath.Join(offer, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, errOut := leadhost(t, `{"offer":"altercpa","ext":"9001","status":2,"fields":{"phone":"7999"}}`, "lead", "add", "--data", data, "--scripts", scripts); code != exitOK {
		t.Fatal(errOut)
	}

	code, out, errOut := leadhost(t, "", "check", "altercpa", "--dry-run", "--data", data, "--scripts", scripts)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"check altercpa processing", "dry run",
		"→ POST " + srv.URL + "/api/ext/list.json?id=17&key=***  (1 leads)", "ids[]=9001",
		"← 200", `"stage": "approve"`,
		"edits that would be made (nothing committed)", `lead 1: status "2" → "6"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "SECRET") {
		t.Errorf("the report shows the partner's key:\n%s", out)
	}
	if _, got, _ := leadhost(t, "", "check", "altercpa", "--dry-run", "--raw", "--json", "--data", data, "--scripts", scripts); !strings.Contains(got, "key=SECRET") {
		t.Errorf("--raw --json does not show the key as it is:\n%s", got)
	}
	if _, got, _ := leadhost(t, "", "lead", "get", "1", "--data", data, "--scripts", scripts); !strings.Contains(got, `"status": 2`) {
		t.Fatalf("the dry run committed: %s", got)
	}

	if code, out, errOut = leadhost(t, "", "check", "altercpa", "--data", data, "--scripts", scripts); code != exitOK || !strings.Contains(out, "edits made:") {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	if _, got, _ := leadhost(t, "", "lead", "get", "1", "--data", data, "--scripts", scripts); !strings.Contains(got, `"status": 6`) {
		t.Fatalf("the run did not commit: %s", got)
	}

	failing.Store(true)
	code, out, errOut = leadhost(t, "", "check", "altercpa", "--mode", "accepted", "--data", data, "--scripts", scripts)
	if code != exitError || !strings.Contains(errOut, "status 502") || !strings.Contains(out, "✗ partner failed") {
		t.Errorf("failing partner: exit %d\n%s\n%s", code, out, errOut)
	}

	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"check"}, "needs one offer id"},
		{[]string{"check", "altercpa", "--mode", "weekly"}, `mode "weekly": want processing, accepted, dates`},
		{[]string{"check", "altercpa", "--mode", "dates"}, `offer altercpa does not run mode "dates": it runs processing, accepted`},
		{[]string{"check", "altercpa", "--leads", "1,x"}, `leads: "x" is not a lead id`},
	} {
		if code, _, errOut := leadhost(t, "", append(tc.args, "--data", data, "--scripts", scripts)...); code != exitUsage || !strings.Contains(errOut, tc.stderr) {
			t.Errorf("%q: exit %d, %s; want %d with %q", tc.args, code, errOut, exitUsage, tc.stderr)
		}
	}
	if code, _, errOut := leadhost(t, "", "check", "nope", "--data", data, "--scripts", scripts); code != exitError || !strings.Contains(errOut, `no offer "nope"`) {
		t.Errorf("unknown offer: exit %d, %s", code, errOut)
	}
}

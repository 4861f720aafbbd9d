package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"leadhost/store"
)

// leadhost runs the CLI in-process and returns exit code, stdout, stderr.
func leadhost(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestLeadCommands(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	fixture, err := os.ReadFile("../../testdata/leads/ivan.json")
	if err != nil {
		t.Fatal(err)
	}
	scripts := "../../host/testdata/scripts"
	code, out, errOut := leadhost(t, string(fixture), "lead", "add", "--data", data, "--scripts", scripts)
	if code != exitOK {
		t.Fatalf("lead add: exit %d, %s", code, errOut)
	}
	var added store.Lead
	if err := json.Unmarshal([]byte(out), &added); err != nil {
		t.Fatalf("lead add printed %q: %v", out, err)
	}
	if added.ID == 0 || added.Status != store.StatusNew || added.Fields["phone"] != "79990001122" || added.Base.String() != "12.10" {
		t.Fatalf("added lead: %s", out)
	}
	id := "1"

	steps := []struct {
		name    string
		stdin   string
		args    []string
		code    int
		stdout  []string // substrings of stdout
		stderr  string   // substring of stderr
		comment string
	}{
		{name: "approve", stdin: `{"accept": 1, "comment": "ok"}`, args: []string{"lead", "edit", id}, stdout: []string{`"status": 6`, `"accepted_at"`, `"by": "cli"`}},
		{name: "back from 6 to 2 is refused", stdin: `{"status": 2}`, args: []string{"lead", "edit", id}, code: exitError, stderr: "no way back"},
		{name: "status 13", stdin: `{"status": 13}`, args: []string{"lead", "edit", id}, code: exitError, stderr: "status 13 out of range 1..12"},
		{name: "unknown field", stdin: `{"colour": "red"}`, args: []string{"lead", "edit", id}, code: exitError, stderr: `unknown field "colour"`},
		{name: "empty patch", stdin: `{}`, args: []string{"lead", "edit", id}, code: exitError, stderr: "no fields"},
		{name: "base true", stdin: `{"base":true}`, args: []string{"lead", "edit", id}, code: exitError, stderr: `base: want a money amount such as "4990" or "4990.50", got true`},
		{name: "counts 1.5", stdin: `{"counts":1.5}`, args: []string{"lead", "edit", id}, code: exitError, stderr: "counts: want a whole number, got 1.5"},
		{name: "created yesterday", stdin: `{"offer":"acme","created":"yesterday"}`, args: []string{"lead", "add"}, code: exitError,
			stderr: `created: want a time like 2026-12-07T06:00:00Z (RFC 3339), got "yesterday"`},
		{name: "unknown lead", args: []string{"lead", "get", "42"}, code: exitError, stderr: "lead 42 (not found)"},
		{name: "bad id", args: []string{"lead", "get", "x"}, code: exitUsage, stderr: "not a lead id"},
		{name: "import with ext and status", stdin: `{"offer":"acme","ext":"CRM-7","status":2,"created":"2026-01-02T03:04:05Z"}`,
			args: []string{"lead", "add"}, stdout: []string{`"ext": "CRM-7"`, `"status": 2`, `"created": "2026-01-02T03:04:05Z"`}},
		{name: "duplicate ext", stdin: `{"offer":"acme","ext":"CRM-7"}`, args: []string{"lead", "add"}, code: exitError, stderr: "already exists"},
		{name: "get shows history", args: []string{"lead", "get", id}, stdout: []string{`"history"`, `"field": "status"`, `"new": "6"`}},
		{name: "unknown command", args: []string{"frobnicate"}, code: exitUsage, stderr: "unknown command"},
	}
	for _, st := range steps {
		args := append(st.args, "--data", data, "--scripts", scripts)
		code, out, errOut := leadhost(t, st.stdin, args...)
		if code != st.code {
			t.Errorf("%s: exit %d, want %d (stderr %q)", st.name, code, st.code, errOut)
			continue
		}
		for _, want := range st.stdout {
			if !strings.Contains(out, want) {
				t.Errorf("%s: stdout lacks %s:\n%s", st.name, want, out)
			}
		}
		if !strings.Contains(errOut, st.stderr) {
			t.Errorf("%s: stderr %q lacks %q", st.name, errOut, st.stderr)
		}
	}
	// The refused edits left the lead as the approval made it.
	_, out, _ = leadhost(t, "", "--data", data, "lead", "get", id, "--scripts", scripts) // flags before the command too
	var got store.Lead
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Status != store.StatusPacking || got.Rev != 2 || len(got.History) != 2 {
		t.Errorf("lead after refused edits: %s", out)
	}
}

func TestLint(t *testing.T) {
	t.Parallel()
	code, out, _ := leadhost(t, "", "lint", "../../host/testdata/scripts")
	if code != exitOK || !strings.Contains(out, "1 offer in") {
		t.Errorf("lint of the test offers: exit %d, %q", code, out)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "broken"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "broken", "offer.toml"), []byte("name = \"x\"\nretries = 3\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "broken", "check.lua"), []byte("if then\n"), 0o644)
	code, out, errOut := leadhost(t, "", "lint", dir)
	if code != exitError || !strings.Contains(out, "broken/offer.toml:2: unknown key \"retries\"") || !strings.Contains(out, "broken/check.lua:1: ") {
		t.Errorf("lint of a broken offer: exit %d\n%s%s", code, out, errOut)
	}
}

func TestLintChecksTheStagedCandidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "shop"), os.DirFS("../../host/testdata/scripts/acme")); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := leadhost(t, "", "lint", dir); code != exitOK {
		t.Fatalf("lint of a live offer: exit %d\n%s%s", code, out, errOut)
	}
	if err := os.MkdirAll(filepath.Join(dir, "shop", "next"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "shop", "next", "check.lua"), []byte("local x =\n"), 0o644)
	code, out, errOut := leadhost(t, "", "lint", dir)
	if code != exitError || !strings.Contains(out, "shop/next/check.lua:") {
		t.Errorf("lint with a broken candidate: exit %d, want %d naming shop/next/check.lua\n%s%s", code, exitError, out, errOut)
	}
	code, out, errOut = leadhost(t, "", "lint", filepath.Join(dir, "shop"))
	if code != exitError || !strings.Contains(out, "next/check.lua:") {
		t.Errorf("lint of the one offer with a broken candidate: exit %d\n%s%s", code, out, errOut)
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"leadhost/store"
)

// TestJournalCommandRefusesWhatTheAPIRefuses holds `leadhost journal` to
// the admin API's GET /api/journal: a limit under 1 and a since that is
// not a duration above zero or an RFC 3339 time are usage errors, as the
// API answers them with 400, rather than read as 50 entries or as all of
// them.
func TestJournalCommandRefusesWhatTheAPIRefuses(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	cases := []struct {
		args   []string
		stderr string
	}{
		{[]string{"--limit", "0"}, "--limit 0: want at least 1"},
		{[]string{"--limit", "-5"}, "--limit -5: want at least 1"},
		{[]string{"--since", "-1h"}, `since "-1h": want a duration back from now above zero`},
		{[]string{"--since", "0s"}, "above zero"},
		{[]string{"--since", "yesterday"}, "RFC 3339"},
	}
	for _, c := range cases {
		code, out, errOut := leadhost(t, "", append([]string{"journal", "--data", data}, c.args...)...)
		if code != exitUsage || !strings.Contains(errOut, c.stderr) {
			t.Errorf("journal %q: exit %d, %q%q; want %d with %q", c.args, code, out, errOut, exitUsage, c.stderr)
		}
	}
}

// TestJournalCommandTakesASinceTime holds that --since takes an RFC 3339
// time, as the API's since= does.
func TestJournalCommandTakesASinceTime(t *testing.T) {
	t.Parallel()
	data, scripts := filepath.Join(t.TempDir(), "data"), "../../host/testdata/scripts"
	if code, _, errOut := leadhost(t, `{"offer":"acme"}`, "lead", "add", "--data", data, "--scripts", scripts); code != exitOK {
		t.Fatalf("lead add: exit %d, %s", code, errOut)
	}
	code, out, errOut := leadhost(t, "", "journal", "--data", data, "--since", "2000-01-01T00:00:00Z")
	if code != exitOK || out == "" {
		t.Fatalf("journal --since 2000-01-01T00:00:00Z: exit %d, %q%q", code, out, errOut)
	}
	if code, out, errOut = leadhost(t, "", "journal", "--data", data, "--since", "2999-01-01T00:00:00Z"); code != exitOK || out != "" {
		t.Errorf("journal --since 2999-01-01T00:00:00Z: exit %d, %q%q; want nothing", code, out, errOut)
	}
}

// TestJournalMoreHintAsksForWhatTheCommandTakes holds the "… more" line
// to a limit that shows more: twice the limit up to a page of 1000, and
// past it a narrower filter, since a larger limit reads no more.
func TestJournalMoreHintAsksForWhatTheCommandTakes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		limit int
		want  string
	}{
		{20, "--limit 40 for more"},
		{600, "--limit 1000 for more"},
		{1000, "narrow it with --since, --kind, --status or --offer"},
		{2000, "narrow it with --since, --kind, --status or --offer"},
	}
	for _, c := range cases {
		if got := journalMoreHint(c.limit); !strings.Contains(got, c.want) {
			t.Errorf("journalMoreHint(%d) = %q, want %q in it", c.limit, got, c.want)
		}
	}
}

// TestJournalHelpListsEveryKind holds --kind's help to store.JournalKinds:
// shadow was missing from a list of its own.
func TestJournalHelpListsEveryKind(t *testing.T) {
	t.Parallel()
	_, _, errOut := leadhost(t, "", "journal", "--help")
	for _, k := range store.JournalKinds {
		if !strings.Contains(errOut, string(k)) {
			t.Errorf("journal --help lacks kind %s:\n%s", k, errOut)
		}
	}
	for _, s := range store.JournalStatuses {
		if !strings.Contains(errOut, string(s)) {
			t.Errorf("journal --help lacks status %s:\n%s", s, errOut)
		}
	}
}

// An offer that is neither in --scripts nor in the journal is refused on
// a stopped data folder as a serve's API refuses it; an offer whose
// folder is there, with no entries yet, lists nothing.
func TestJournalCommandUnknownOfferOffline(t *testing.T) {
	t.Parallel()
	data, scripts := filepath.Join(t.TempDir(), "data"), "../../host/testdata/scripts"
	if code, _, errOut := leadhost(t, "", "journal", "--data", data, "--scripts", scripts, "--offer", "nope"); code != exitError || !strings.Contains(errOut, `offer "nope": no such offer`) {
		t.Errorf("an unknown offer: exit %d, %q; want %d saying no such offer", code, errOut, exitError)
	}
	entries, err := os.ReadDir(scripts)
	if err != nil || len(entries) == 0 {
		t.Fatalf("no offers in %s: %v", scripts, err)
	}
	known := entries[0].Name()
	if code, out, errOut := leadhost(t, "", "journal", "--data", data, "--scripts", scripts, "--offer", known); code != exitOK || out != "" {
		t.Errorf("offer %s with no entries: exit %d, %q %q; want 0 and nothing", known, code, out, errOut)
	}
}

package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"leadhost/store"
)

// A webhook whose script is stopped by a per-run bound answers 500 with
// the bound named at the script's line, and that is its journal entry's
// summary; a hook stopped by its leads bound leaves that many leads.
func TestWebhookStoppedByABoundSaysWhich(t *testing.T) {
	t.Parallel()
	scripts := parityScripts(t, "http://127.0.0.1:1", "http://127.0.0.1:1")
	toml := filepath.Join(scripts, "parity", "offer.toml")
	src, err := os.ReadFile(toml)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(toml, append([]byte("log_kb = 1\nleads_per_run = 3\n"), src...), 0o644)
	os.MkdirAll(filepath.Join(scripts, "parity", "hooks"), 0o755)
	os.WriteFile(filepath.Join(scripts, "parity", "hooks", "chatty.lua"), []byte("\nwhile true do core.log(('x'):rep(100)) end\n"), 0o644)
	os.WriteFile(filepath.Join(scripts, "parity", "hooks", "greedy.lua"),
		[]byte("local i = 0\nwhile true do i = i + 1 core.lead.add{key = 'g' .. i, fields = {phone = '7999000' .. i}} end\n"), 0o644)
	h, _ := startConfiguredTestHost(t, hostConfig{listen: "127.0.0.1:0", data: filepath.Join(t.TempDir(), "data"), scripts: scripts,
		log: slog.New(slog.DiscardHandler)})
	base := "http://" + h.addr.String()
	cases := []struct{ hook, why string }{
		{"chatty", "parity/hooks/chatty.lua:2: stopped by the log bound: the run wrote over 1 KiB of log (log_kb in offer.toml)"},
		{"greedy", "parity/hooks/greedy.lua:2: stopped by the leads bound: the run added 3 leads, its bound (leads_per_run in offer.toml)"},
	}
	for _, tc := range cases {
		code, body := httpCall(t, "GET", base+"/hook/parity/"+tc.hook+"?token=parity-hook", "")
		if code != 500 || !strings.Contains(string(body), tc.why) {
			t.Errorf("%s: %d %s, want 500 with %q", tc.hook, code, body, tc.why)
		}
		entries, _, err := h.st.JournalList(context.Background(), store.JournalQuery{Kind: store.KindHook, Status: store.JournalError})
		found := false
		for _, e := range entries {
			found = found || strings.Contains(e.Summary, tc.why)
		}
		if err != nil || !found {
			t.Errorf("%s: no journal entry says %q (%v)", tc.hook, tc.why, err)
		}
	}
	counts, err := h.st.CountLeads(context.Background())
	left := 0
	for _, n := range counts["parity"] {
		left += n
	}
	if err != nil || left != 3 {
		t.Errorf("the stopped hook left %d leads (%v), want its bound, 3", left, err)
	}
}

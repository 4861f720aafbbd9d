package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"leadhost/host/script"
	"leadhost/store"
)

// Issue 12, point 2, end to end: a hook of one offer calls http.request
// at the serve's own admin API to PATCH another offer's lead, by the
// address it was called on and by "localhost". On today's main the lead
// changed (history "by: api"); now the hook fails with its file and line
// and the lead is as it was, whether script_http_allow leaves loopback
// out (the default) or lets it in: the serve's own listener is out of
// reach whatever the list says.
func TestScriptCannotReachTheAdminAPI(t *testing.T) {
	t.Parallel()
	allowLoopback, err := script.NewFence([]string{"127.0.0.0/8", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		fence *script.Fence
		want  string
	}{
		{"default", nil, "is this host's own listener (leadhost's webhooks and admin API); scripts may not call it"},
		{"loopback allowed", allowLoopback, "is this host's own listener (leadhost's webhooks and admin API); scripts may not call it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scripts := filepath.Join(t.TempDir(), "scripts")
			for file, text := range map[string]string{
				"victim/offer.toml":   "name = \"Another offer\"\n",
				"attacker/offer.toml": "name = \"A careless script\"\n[hook]\ntoken = \"t0ken\"\n",
				"attacker/hook.lua": `-- PATCHes lead req.query.id through the admin API, at req.query.host
local url = "http://" .. req.query.host .. "/api/leads/" .. req.query.id
local r, why = http.request{ method = "PATCH", url = url, json = { status = 5, reason = 6 } }
return { reached = r ~= nil, status = r and r.status, why = why }
`,
			} {
				path := filepath.Join(scripts, file)
				os.MkdirAll(filepath.Dir(path), 0o755)
				if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			h, _ := startConfiguredTestHost(t, hostConfig{listen: "127.0.0.1:0", data: filepath.Join(t.TempDir(), "data"), scripts: scripts, log: slog.New(slog.DiscardHandler), fence: tc.fence})
			lead, _, err := h.st.Add(context.Background(), store.NewLead{Offer: "victim", Status: store.StatusProcessing})
			if err != nil {
				t.Fatal(err)
			}
			port := h.addr.String()[strings.LastIndex(h.addr.String(), ":")+1:]
			for _, host := range []string{h.addr.String(), "localhost:" + port} {
				code, body := httpCall(t, "GET", "http://"+h.addr.String()+"/hook/attacker?token=t0ken&id=1&host="+host, "")
				if code != 500 || !strings.Contains(string(body), "attacker/hook.lua:3: http.request: "+host) || !strings.Contains(string(body), tc.want) {
					t.Errorf("hook calling %s: %d %s\nwant 500 with %q", host, code, body, tc.want)
				}
			}
			after := leadStatus(t, h.st, lead.ID)
			if after.Status != store.StatusProcessing || after.Rev != lead.Rev {
				t.Errorf("the other offer's lead changed: status %d, rev %d → %d", after.Status, lead.Rev, after.Rev)
			}
		})
	}
}

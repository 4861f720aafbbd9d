package api

import (
	"context"
	"leadhost/store"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A check run's report shows the partner's key and the leads' contacts
// masked, as the journal does, unless raw=1 asks for them as they are.
func TestCheckReportIsMaskedUnlessRaw(t *testing.T) {
	t.Parallel()
	scripts := copyScripts(t)
	toml := filepath.Join(scripts, "crm", "offer.toml")
	b, err := os.ReadFile(toml)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), "/status?ids={idel}", "/status?ids={idel}&key=PARTNER-SECRET", 1))
	if err := os.WriteFile(toml, b, 0o644); err != nil {
		t.Fatal(err)
	}
	a := openApp(t, scripts)
	base := serve(t, &Server{App: a, Log: slog.New(slog.DiscardHandler), LocalToken: localToken})
	if _, _, err := a.Store.Add(context.Background(), store.NewLead{Offer: "crm", Ext: "X1", Status: store.StatusProcessing}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query      string
		want, hide string
	}{
		{"", "key=***", "PARTNER-SECRET"},
		{"&raw=1", "key=PARTNER-SECRET", "key=***"},
	} {
		code, _, body := call(t, "POST", base+"/api/offers/crm/check?mode=processing&dry=1"+tc.query, "", nil, asLocal)
		if code != 502 || !strings.Contains(string(body), tc.want) || strings.Contains(string(body), tc.hide) {
			t.Errorf("raw %q: %d %s; want 502 with %q, without %q", tc.query, code, body, tc.want, tc.hide)
		}
	}
}

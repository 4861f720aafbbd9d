package api

import (
	"context"
	"leadhost/host/app"
	"leadhost/host/hosttest"
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

// An offer whose folder was removed keeps its leads and journal entries
// listed by its name; a name that was never an offer is still refused.
func TestRemovedOfferStillListed(t *testing.T) {
	t.Parallel()
	scripts := copyScripts(t)
	a := openApp(t, scripts)
	base := serve(t, &Server{App: a, Log: slog.New(slog.DiscardHandler), LocalToken: localToken})
	if code, _, body := call(t, "POST", base+"/hook/shop?token=s3cret", "application/json", strings.NewReader(`{"order":"R1"}`), nil); code != 200 {
		t.Fatalf("webhook: %d %s", code, body)
	}
	if err := os.RemoveAll(filepath.Join(scripts, "shop")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Offers.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Offers.Offer("shop"); ok {
		t.Fatal("the removed offer is still loaded")
	}
	for _, tc := range []struct {
		path, want string
		code       int
	}{
		{"/api/leads?offer=shop", `"offer":"shop"`, 200},
		{"/api/journal?offer=shop", `"offer":"shop"`, 200},
		{"/api/leads?offer=shpo", "no such offer, and nothing stored under that name matches", 400},
		{"/api/journal?offer=shpo", "no such offer", 400},
	} {
		var code int
		var body []byte
		hosttest.Eventually(t, tc.path, func() bool { // the journal is written behind the call
			code, _, body = call(t, "GET", base+tc.path, "", nil, asLocal)
			return code == tc.code && strings.Contains(string(body), tc.want)
		})
	}
}

// The CLI's client gets a check run whose script raised as a report,
// which the CLI masks: not as an error text carrying the partner's key.
func TestClientCheckNowScriptErrorIsAReport(t *testing.T) {
	t.Parallel()
	scripts := copyScripts(t)
	prep := `error("cannot sign: key=PARTNER-SECRET for +79161234567")` + "\n"
	if err := os.WriteFile(filepath.Join(scripts, "crm", "prepare.lua"), []byte(prep), 0o644); err != nil {
		t.Fatal(err)
	}
	a := openApp(t, scripts)
	base := serve(t, &Server{App: a, Log: slog.New(slog.DiscardHandler), LocalToken: localToken})
	if _, _, err := a.Store.Add(context.Background(), store.NewLead{Offer: "crm", Ext: "X1", Status: store.StatusProcessing}); err != nil {
		t.Fatal(err)
	}
	c := &Client{Base: base, Token: localToken}
	rep, err := c.CheckNow(context.Background(), "crm", app.CheckRequest{Mode: "processing", Dry: true})
	if err != nil {
		t.Fatalf("CheckNow: %v; want the run's report", err)
	}
	if shown := rep.Masked().Error(); !strings.Contains(shown, "cannot sign") || strings.Contains(shown, "PARTNER-SECRET") || strings.Contains(shown, "79161234567") {
		t.Errorf("the masked report's error: %s", shown)
	}
}

package console_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"leadhost/api"
	"leadhost/host/hosttest"
	"leadhost/store"
)

// statusAnswer is the crm partner's answer: X1 approved.
const statusAnswer = `[{"id":"X1","status":"approved"}]`

// The offer page shows the offer as loaded: its settings with secrets
// masked, its files, the addresses partners call with the token masked
// until a signed-in person asks, and the forms to run checks.
func TestOfferPage(t *testing.T) {
	t.Parallel()
	a := openApp(t)
	base := serve(t, &api.Server{App: a, APIToken: adminToken})
	b := newBrowser(t, base)
	b.signIn(adminToken)
	if p := b.get("/ui/"); !strings.Contains(p.body, `href="/ui/offers/crm"`) {
		t.Errorf("the overview does not link the offer's page")
	}
	p := b.get("/ui/offers/crm")
	for _, want := range []string{
		"check.url", "key=***", "postback.token", // settings, masked
		`id="file-offer.toml"`, `id="file-check.lua"`, "core.lead.setstatus", // files
		base + "/postback/crm?token=***", // the address, token masked
		`id="run-check"`, `id="try-run"`, `<option>processing</option>`,
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the crm page does not show %q", want)
		}
	}
	for _, secret := range []string{"crm-postback-secret", "PARTNER-KEY"} {
		if strings.Contains(p.body, secret) {
			t.Errorf("the crm page shows the secret %q", secret)
		}
	}
	if p := b.get("/ui/offers/shop"); !strings.Contains(p.body, base+"/hook/shop?token=***") || strings.Contains(p.body, hookToken) {
		t.Errorf("the shop's webhook address, token masked: %s", p.body)
	}
	p = b.post("/ui/offers/shop/token", url.Values{"csrf": {b.csrf("/ui/offers/shop")}})
	if p.code != 200 || !strings.Contains(p.body, base+"/hook/shop?token="+hookToken) {
		t.Errorf("asked for, the token is not shown: %d\n%s", p.code, p.body)
	}
	if p := b.get("/ui/offers/nope"); p.code != http.StatusNotFound || !strings.Contains(p.body, "no offer &#34;nope&#34;") {
		t.Errorf("an unknown offer: %d", p.code)
	}
}

// A file that does not load is shown with its problem on its line, and
// the version before it keeps running.
func TestOfferPageShowsLoadErrorsOnTheirLine(t *testing.T) {
	t.Parallel()
	a := withPartner(t, "http://127.0.0.1:1")
	broken := "-- line 1\nlocal x = \nif then\n"
	if err := os.WriteFile(filepath.Join(a.Offers.Dir(), "crm", "check.lua"), []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Offers.Reload(); err != nil {
		t.Fatal(err)
	}
	base := serve(t, &api.Server{App: a, APIToken: adminToken})
	b := newBrowser(t, base)
	b.signIn(adminToken)
	p := b.get("/ui/offers/crm")
	problem := regexp.MustCompile(`<tr class="problem" title="crm/check.lua:3: [^"]+"><td class="n">3</td><td><code>if then</code>`)
	if p.code != 200 || !problem.MatchString(p.body) || !strings.Contains(p.body, "still running") || !strings.Contains(p.body, `id="load-errors"`) {
		t.Errorf("the broken check.lua: %d, want line 3 marked with its problem\n%s", p.code, p.body)
	}
	// An offer that never loaded: its offer.toml, the unknown key's line marked.
	dir := filepath.Join(a.Offers.Dir(), "fresh")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "offer.toml"), []byte("name = \"Fresh\"\nhold_dayz = 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Offers.Reload(); err != nil {
		t.Fatal(err)
	}
	p = b.get("/ui/offers/fresh")
	problem = regexp.MustCompile(`<tr class="problem" title="fresh/offer.toml:2: [^"]+"><td class="n">2</td><td><code>hold_dayz = 3</code>`)
	if p.code != 200 || !problem.MatchString(p.body) || !strings.Contains(p.body, "never loaded") {
		t.Errorf("an offer that never loaded: %d, want offer.toml's line 2 marked\n%s", p.code, p.body)
	}
}

// Run a check now, dry: the partner is asked, the edits are shown as a
// table (lead, field, old → new), and nothing is committed; not dry,
// they are.
func TestCheckNowFromTheOfferPage(t *testing.T) {
	t.Parallel()
	partner := hosttest.StartPartner(t, hosttest.Answer(200, statusAnswer))
	a := withPartner(t, partner.URL)
	base := serve(t, &api.Server{App: a, APIToken: adminToken})
	l := crmLead(t, a, "X1")
	b := newBrowser(t, base)
	b.signIn(adminToken)
	path := "/ui/offers/crm"
	edit := regexp.MustCompile(`<tr data-lead="` + itoa(l.ID) + `"><td><a [^>]+>` + itoa(l.ID) + `</a></td><td><code>status</code></td><td>2 processing · Обработка → 6 packing · [^<]+</td></tr>`)
	p := b.post(path+"/check", url.Values{"csrf": {b.csrf(path)}, "mode": {"processing"}, "dry": {"1"}})
	if p.code != 200 || !edit.MatchString(p.body) || !strings.Contains(p.body, "nothing committed") || !strings.Contains(p.body, "key=***") || !strings.Contains(p.body, "approved") {
		t.Errorf("a dry check: %d, want the edit %s → 6 and the partner's answer\n%s", p.code, itoa(l.ID), p.body)
	}
	if n := len(partner.Requests()); n != 1 {
		t.Errorf("the dry check asked the partner %d times, want 1", n)
	}
	if got := leadOf(t, a.Store, l.ID); got.Rev != l.Rev || got.Status != store.StatusProcessing {
		t.Errorf("the dry check changed the lead: status %v rev %d", got.Status, got.Rev)
	}
	p = b.post(path+"/check", url.Values{"csrf": {b.csrf(path)}, "mode": {"processing"}})
	if p.code != 200 || !edit.MatchString(p.body) || !strings.Contains(p.body, "2 field changes committed") {
		t.Errorf("a check: %d\n%s", p.code, p.body)
	}
	if got := leadOf(t, a.Store, l.ID); got.Status != store.StatusPacking {
		t.Errorf("the check did not commit: status %v", got.Status)
	}
	if p := b.post(path+"/check", url.Values{"csrf": {b.csrf(path)}, "mode": {"weekly"}}); p.code != http.StatusBadRequest || !strings.Contains(p.body, "weekly") {
		t.Errorf("a mode the offer does not run: %d", p.code)
	}
}

// Try an answer: the pasted answer's edits are shown, the partner is
// not asked and the store is unchanged; an answer that does not decode
// is 422 in words.
func TestTryAnAnswer(t *testing.T) {
	t.Parallel()
	partner := hosttest.StartPartner(t, hosttest.Answer(500, "never asked"))
	a := withPartner(t, partner.URL)
	base := serve(t, &api.Server{App: a, APIToken: adminToken})
	l := crmLead(t, a, "X1")
	b := newBrowser(t, base)
	b.signIn(adminToken)
	path := "/ui/offers/crm"
	p := b.post(path+"/try", url.Values{"csrf": {b.csrf(path)}, "mode": {"processing"}, "answer": {statusAnswer}})
	edit := `<tr data-lead="` + itoa(l.ID) + `">`
	if p.code != 200 || !strings.Contains(p.body, edit) || !strings.Contains(p.body, "2 processing · Обработка → 6 packing") || !strings.Contains(p.body, "partner says X1 is approved") {
		t.Errorf("try an answer: %d, want lead %d's status 2 → 6 and the script's log\n%s", p.code, l.ID, p.body)
	}
	if !strings.Contains(p.body, `>[{&#34;id&#34;:&#34;X1&#34;`) {
		t.Errorf("the form does not keep the answer pasted")
	}
	if got := leadOf(t, a.Store, l.ID); got.Rev != l.Rev || got.Status != store.StatusProcessing {
		t.Errorf("trying an answer changed the lead: status %v rev %d", got.Status, got.Rev)
	}
	if n := len(partner.Requests()); n != 0 {
		t.Errorf("trying an answer asked the partner %d times", n)
	}
	if p := b.post(path+"/try", url.Values{"csrf": {b.csrf(path)}, "answer": {"<html>"}}); p.code != http.StatusUnprocessableEntity || !strings.Contains(p.body, "undecodable") {
		t.Errorf("an answer that is not JSON: %d\n%s", p.code, p.body)
	}
	if p := b.post(path+"/try", url.Values{"csrf": {b.csrf(path)}, "answer": {" "}}); p.code != http.StatusBadRequest || !strings.Contains(p.body, "Paste the partner") {
		t.Errorf("no answer: %d", p.code)
	}
}

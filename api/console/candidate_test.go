package console_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"leadhost/api"
	"leadhost/host"
	"leadhost/host/app"
	"leadhost/host/hosttest"
	"leadhost/store"
)

// candidateCheck is a candidate check.lua for the crm that takes the
// partner's "approved" for a call back (3) instead.
const candidateCheck = `for _, row in ipairs(data) do
  if row.status == "approved" then core.lead.edit(e2i[row.id], {status = 3}) else core.lead.setstatus(e2i[row.id], row.status) end
end
`

// withCandidate opens the app on the crm asking partner, with the
// candidate check.lua staged in next/ and the shadow runs working; the
// crm's lead X1 (in processing) went through one real check run, the
// shadow run of which is done.
func withCandidate(t *testing.T) (a *app.App, x1 *store.Lead, check string) {
	t.Helper()
	partner := hosttest.StartPartner(t, hosttest.Answer(200, statusAnswer))
	a = withPartner(t, partner.URL)
	check = filepath.Join(a.Offers.Dir(), "crm", "check.lua")
	next := filepath.Join(a.Offers.Dir(), "crm", host.NextDir)
	if err := os.MkdirAll(next, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(next, "check.lua"), []byte(candidateCheck), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Offers.Reload(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Shadows.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	x1 = crmLead(t, a, "X1")
	crmLead(t, a, "X2") // not in the answer: edited by neither
	if rep, err := a.CheckNow(ctx, "crm", app.CheckRequest{Mode: "processing"}); err != nil || rep.Err != nil {
		t.Fatal(err, rep.Err)
	}
	if err := a.Shadows.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	return a, x1, check
}

// The offer page's Candidate (next/) section: the counts, the lead that
// differs side by side, a replay over the journal, and Promote behind a
// confirmation and the form's CSRF token.
func TestOfferPageCandidate(t *testing.T) {
	t.Parallel()
	a, x1, check := withCandidate(t)
	base := serve(t, &api.Server{App: a, APIToken: adminToken})
	b := newBrowser(t, base)
	b.signIn(adminToken)
	p := b.get("/ui/offers/crm")
	for _, want := range []string{`id="candidate"`, "1 inputs compared, 1 differ", `data-lead="` + itoa(x1.ID) + `"`,
		"2 processing · Обработка → 6 packing", "2 processing · Обработка → 3 callback", `id="replay-form"`, `id="promote"`,
		`id="candidate-show-raw" href="/ui/offers/crm?raw=1#candidate"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the crm page does not show %q", want)
		}
	}
	if l := leadOf(t, a.Store, x1.ID); l.Status != store.StatusPacking {
		t.Errorf("lead X1 in status %d: the live version approves it, the candidate changes nothing", l.Status)
	}
	if p := b.get("/ui/offers/shop"); !strings.Contains(p.body, "No candidate.") || strings.Contains(p.body, `id="promote"`) {
		t.Errorf("the shop's page, with no next/: %s", p.body)
	}

	csrf := b.csrf("/ui/offers/crm")
	p = b.post("/ui/offers/crm/shadow", url.Values{"csrf": {csrf}, "last": {"10"}})
	if p.code != 200 || !strings.Contains(p.body, "Compared over the journal") || !strings.Contains(p.body, "run again now") {
		t.Errorf("compare over the last 10 inputs: %d", p.code)
	}

	// Without its token, or from another site, the promote changes nothing.
	live, _ := os.ReadFile(check)
	for _, tc := range []struct {
		name   string
		form   url.Values
		header map[string]string
	}{
		{"no token", url.Values{}, map[string]string{"Origin": base}},
		{"another site", url.Values{"csrf": {csrf}}, map[string]string{"Origin": "https://evil.example"}},
	} {
		if p := b.do("POST", "/ui/offers/crm/promote", tc.form, tc.header); p.code != http.StatusForbidden {
			t.Errorf("promote, %s: %d", tc.name, p.code)
		}
		if now, _ := os.ReadFile(check); string(now) != string(live) {
			t.Fatalf("promote, %s: check.lua changed", tc.name)
		}
	}
	p = b.get("/ui/offers/crm/promote")
	if p.code != 200 || !strings.Contains(p.body, `id="confirm-promote"`) || !strings.Contains(p.body, "next/check.lua") {
		t.Fatalf("the promote confirmation: %d\n%s", p.code, p.body)
	}
	if now, _ := os.ReadFile(check); string(now) != string(live) {
		t.Fatal("asking to promote promoted")
	}
	p = b.post("/ui/offers/crm/promote", url.Values{"csrf": {csrf}})
	if p.code != http.StatusSeeOther || p.header.Get("Location") != "/ui/offers/crm?done=promote" {
		t.Fatalf("promote: %d %s", p.code, p.header.Get("Location"))
	}
	if now, _ := os.ReadFile(check); string(now) != candidateCheck {
		t.Errorf("check.lua after the promote:\n%s", now)
	}
	if p := b.get("/ui/offers/crm?done=promote"); !strings.Contains(p.body, "Promoted") || !strings.Contains(p.body, "No candidate.") {
		t.Errorf("the page after the promote does not say so")
	}
	if p := b.post("/ui/offers/crm/promote", url.Values{"csrf": {csrf}}); p.code != http.StatusConflict || !strings.Contains(p.body, "has no candidate") {
		t.Errorf("a second promote: %d", p.code)
	}
}

// The candidate in a real browser: the offer page shows the lead it
// would edit otherwise, side by side; Compare over the last K inputs
// runs; Promote, confirmed, makes it live.
func TestCandidateInABrowser(t *testing.T) {
	ctx := browserContext(t)
	dir := shotsDir(t)
	a, x1, check := withCandidate(t)
	base := serve(t, &api.Server{App: a, APIToken: adminToken})
	run(t, ctx, "signing in", chromedp.Navigate(base+"/ui/offers/crm"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), adminToken), chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("candidate")))
	if got := text(t, ctx, "#shadow-counts"); !strings.Contains(got, "1 inputs compared, 1 differ") {
		t.Errorf("the counts read %q", got)
	}
	row := `#candidate tr[data-lead="` + itoa(x1.ID) + `"][data-what="status"]`
	if got := text(t, ctx, row); !strings.Contains(got, "6 packing") || !strings.Contains(got, "3 callback") {
		t.Errorf("lead %d's difference reads %q", x1.ID, got)
	}
	run(t, ctx, "scrolling to the candidate", chromedp.ScrollIntoView(chromedp.ID("candidate")))
	shot(t, ctx, dir, "offer-candidate")

	run(t, ctx, "comparing over the journal", chromedp.SetValue(chromedp.ID("replay-last"), "10"), chromedp.Click(chromedp.ID("replay-run")),
		chromedp.WaitVisible(chromedp.CSS("p.note")))
	if got := text(t, ctx, "p.note"); !strings.Contains(got, "Compared over the journal") {
		t.Errorf("after the comparison the note reads %q", got)
	}

	run(t, ctx, "asking to promote", chromedp.Click(chromedp.ID("promote")), chromedp.WaitVisible(chromedp.ID("confirm-promote")))
	shot(t, ctx, dir, "promote-confirm")
	if now, _ := os.ReadFile(check); string(now) == candidateCheck {
		t.Fatal("asking to promote promoted")
	}
	run(t, ctx, "promoting", chromedp.Click(chromedp.ID("confirm-promote")), chromedp.WaitVisible(chromedp.CSS("p.note")))
	if got := text(t, ctx, "p.note"); !strings.Contains(got, "Promoted") {
		t.Errorf("after the promote the note reads %q", got)
	}
	if now, _ := os.ReadFile(check); string(now) != candidateCheck {
		t.Errorf("check.lua after the promote:\n%s", now)
	}
	if o, _ := a.Offers.Offer("crm"); o == nil || o.Scripts["check.lua"] == nil {
		t.Fatal("the crm is not loaded after the promote")
	}
	hosttest.Eventually(t, "the promote journaled", func() bool {
		es, _, _ := a.Store.JournalList(context.Background(), store.JournalQuery{Kind: store.KindReload})
		for _, e := range es {
			if strings.Contains(e.Summary, "promoted by console") {
				return true
			}
		}
		return false
	})
}

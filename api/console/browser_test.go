package console_test

import (
	"context"
	"flag"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"leadhost/api"
	"leadhost/host/hosttest"
	"leadhost/store"
)

var screenshots = flag.Bool("screenshots", false, "write the browser test's screenshots to docs/console (else to a temporary folder)")

// browserContext starts a headless Chromium for the test (Debian's
// chromium: .ci/run installs it). Without one the test is skipped on a
// developer's machine and fails in CI.
func browserContext(t *testing.T) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed: .ci/run installs it")
		}
		t.Skip("chromium is not installed (apt install chromium): the console's browser test does not run here")
	}
	// The flags headless Chromium needs as root with no outside network:
	// no sandbox (root), no GPU, and nothing that calls home.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// run runs browser steps with a deadline, failing the test on error.
func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// read runs one browser action that gives a value.
func read[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// shot saves the page as a PNG named name: into docs/console with
// -screenshots (they are the README's pictures), else where the test
// can throw it away.
func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png := read(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100)) // quality 100: a PNG
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// shotsDir is where the test's screenshots go: docs/console with
// -screenshots, else a temporary folder.
func shotsDir(t *testing.T) string {
	t.Helper()
	if !*screenshots {
		return t.TempDir()
	}
	dir := filepath.Join("..", "..", "docs", "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// text is the visible text of the first element sel matches.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return read(t, ctx, "reading "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// The console as an operator uses it, in a real browser: sign in, open
// every page, watch a webhook's entry come into the journal, replay it,
// edit a lead and see a forbidden change refused, switch the language.
// Each step checks what the page shows and what the store holds.
func TestConsoleInABrowser(t *testing.T) {
	ctx := browserContext(t)
	dir := shotsDir(t)
	a := openApp(t)
	base := serve(t, &api.Server{App: a, APIToken: adminToken})
	id := addLead(t, base, "A1")
	addLead(t, base, "A2")

	// Signed out, every page is the sign-in page.
	run(t, ctx, "opening the console", chromedp.Navigate(base+"/ui/leads?offer=shop"), chromedp.WaitVisible(chromedp.ID("token")))
	title := read(t, ctx, "title", chromedp.Title())
	if !strings.HasPrefix(title, "Sign in") {
		t.Fatalf("signed out, /ui/leads is %q", title)
	}
	shot(t, ctx, dir, "signin")
	run(t, ctx, "signing in", chromedp.SendKeys(chromedp.ID("token"), adminToken), chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.CSS("table.leads")))
	if got := text(t, ctx, "table.leads tbody"); !strings.Contains(got, "A1") || !strings.Contains(got, "1 new · Новый") || strings.Contains(got, phone) {
		t.Errorf("the leads page after signing in shows %q", got)
	}
	shot(t, ctx, dir, "leads")

	// Overview: the shop with its two new leads waiting in the outbox.
	run(t, ctx, "overview", chromedp.Navigate(base+"/ui/"), chromedp.WaitVisible(chromedp.ID("offer-shop")))
	if got := text(t, ctx, "#offer-shop"); !strings.Contains(got, "shop") || !strings.Contains(got, "1 new · Новый: 2") || !strings.Contains(got, "2 waiting") {
		t.Errorf("the overview's shop row shows %q", got)
	}
	shot(t, ctx, dir, "overview")

	// Journal: a webhook that comes in while the page is open shows up
	// without a reload.
	run(t, ctx, "journal", chromedp.Navigate(base+"/ui/journal"), chromedp.WaitVisible(chromedp.ID("journal-rows")),
		chromedp.Evaluate[chromedp.Void](`window.stillTheSamePage = true; undefined`))
	third := addLead(t, base, "A3")
	hooks := journalIDs(t, a.Store, store.KindHook)
	run(t, ctx, "the new entry appearing", chromedp.WaitVisible(chromedp.CSS(`tr[data-id="`+itoa(hooks[0])+`"]`)))
	same := read(t, ctx, "checking no reload", chromedp.Evaluate[bool](`window.stillTheSamePage === true`))
	if !same || third == 0 {
		t.Errorf("the journal page reloaded to show the new entry")
	}
	shot(t, ctx, dir, "journal")

	// An entry, masked, and its replay: asked, then done, the new entry shown.
	run(t, ctx, "an entry", chromedp.Navigate(base+"/ui/journal/"+itoa(hooks[0])), chromedp.WaitVisible(chromedp.ID("request")))
	if got := text(t, ctx, "#request"); strings.Contains(got, phone) || !strings.Contains(got, "7***22") {
		t.Errorf("the entry's request shows %q", got)
	}
	shot(t, ctx, dir, "entry")
	run(t, ctx, "replay", chromedp.Click(chromedp.ID("replay")), chromedp.WaitVisible(chromedp.ID("confirm-replay")))
	if n := len(journalIDs(t, a.Store, store.KindHook)); n != len(hooks) {
		t.Fatalf("asking to replay replayed: %d hook entries, were %d", n, len(hooks))
	}
	shot(t, ctx, dir, "replay-confirm")
	run(t, ctx, "confirming the replay", chromedp.Click(chromedp.ID("confirm-replay")), chromedp.WaitVisible(chromedp.ID("replayed")))
	after := journalIDs(t, a.Store, store.KindHook)
	if len(after) != len(hooks)+1 {
		t.Fatalf("after the replay: %d hook entries, want %d", len(after), len(hooks)+1)
	}
	run(t, ctx, "the replay's entry", chromedp.WaitVisible(chromedp.CSS(`tr[data-id="`+itoa(after[0])+`"]`)))
	if got := text(t, ctx, "#replayed"); !strings.Contains(got, "200") {
		t.Errorf("the replay says %q", got)
	}
	shot(t, ctx, dir, "replay-done")

	// A lead: cancel it, then try to bring it back to processing.
	leadPage := base + "/ui/leads/" + itoa(id)
	run(t, ctx, "a lead", chromedp.Navigate(leadPage), chromedp.WaitVisible(chromedp.ID("edit-status")),
		chromedp.SetValue(chromedp.ID("edit-status"), "5"), chromedp.SetValue(chromedp.ID("edit-reason"), "9"),
		chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.CSS("p.note")))
	if got := text(t, ctx, "#lead-status"); !strings.Contains(got, "5 cancel · Отмена") {
		t.Errorf("after cancelling, the lead's status shows %q", got)
	}
	if l := leadOf(t, a.Store, id); l.Status != store.StatusCancel || l.Reason != 9 {
		t.Errorf("after cancelling, the store holds status %v reason %v", l.Status, l.Reason)
	}
	run(t, ctx, "a forbidden change", chromedp.SetValue(chromedp.ID("edit-status"), "2"),
		chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.CSS("p.error")))
	if got := text(t, ctx, "p.error"); !strings.Contains(got, "refused by the edit rules") {
		t.Errorf("the forbidden change shows %q", got)
	}
	if l := leadOf(t, a.Store, id); l.Status != store.StatusCancel {
		t.Errorf("after the forbidden change, the store holds status %v", l.Status)
	}
	shot(t, ctx, dir, "lead")

	// The language switch: the same page in Russian, and it stays so.
	run(t, ctx, "switching to Russian", chromedp.Click(chromedp.ID("lang")), chromedp.WaitVisible(chromedp.ID("history")))
	title = read(t, ctx, "title", chromedp.Title())
	if !strings.HasPrefix(title, "Лид ") || !strings.Contains(text(t, ctx, "nav"), "Журнал") {
		t.Errorf("after the switch the page is %q, nav %q", title, text(t, ctx, "nav"))
	}
	run(t, ctx, "overview in Russian", chromedp.Navigate(base+"/ui/"), chromedp.WaitVisible(chromedp.ID("offer-shop")))
	title = read(t, ctx, "title", chromedp.Title())
	if !strings.HasPrefix(title, "Офферы") {
		t.Errorf("the switch did not stay: the overview is %q", title)
	}
	shot(t, ctx, dir, "overview-ru")
	// The switch changed nothing stored: the lead is as the edit left it.
	if l := leadOf(t, a.Store, id); l.Status != store.StatusCancel {
		t.Errorf("after the switch, the store holds status %v", l.Status)
	}
	if resp, err := http.Get(base + "/ui/static/htmx.min.js"); err != nil || resp.StatusCode != 200 {
		t.Errorf("htmx is not served: %v", err)
	} else {
		resp.Body.Close()
	}
}

// The offer page and held work in a real browser: a dry check run shows
// its edits and commits nothing, an answer pasted into Try an answer
// shows the edits check.lua would make, and a held send released from
// the held work page reaches the partner.
func TestOfferAndHeldWorkInABrowser(t *testing.T) {
	ctx := browserContext(t)
	dir := shotsDir(t)
	partner := hosttest.StartPartner(t, func(w http.ResponseWriter, _ int, r hosttest.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Path == "/order" {
			io.WriteString(w, `{"id":"P-1"}`)
			return
		}
		io.WriteString(w, statusAnswer)
	})
	a := withPartner(t, partner.URL)
	base := serve(t, &api.Server{App: a, APIToken: adminToken})
	crm := crmLead(t, a, "X1")
	other := crmLead(t, a, "X2")
	sent, held := holdBeforeSending(t, a)

	// Signed out, the offer page is the sign-in, which comes back to it.
	run(t, ctx, "signing in", chromedp.Navigate(base+"/ui/offers/crm"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), adminToken), chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("check-form")))
	if got := text(t, ctx, "#endpoints"); got != "" && strings.Contains(got, "crm-postback-secret") {
		t.Errorf("the offer page shows the postback token unasked")
	}

	// Run a check now, dry (the form's default): the partner is asked,
	// the edit shown, nothing committed.
	if dry := read(t, ctx, "the dry box", chromedp.Evaluate[bool](`document.getElementById("check-dry").checked`)); !dry {
		t.Fatalf("Run a check now is not dry by default")
	}
	run(t, ctx, "a dry check", chromedp.SetValue(chromedp.ID("check-mode"), "processing"), chromedp.Click(chromedp.ID("run-check")),
		chromedp.WaitVisible(chromedp.CSS(`h2[data-ran="check"]`)))
	edit := `tr[data-lead="` + itoa(crm.ID) + `"]`
	if got := text(t, ctx, "#edits "+edit); !strings.Contains(got, "status") || !strings.Contains(got, "2 processing · Обработка → 6 packing") {
		t.Errorf("the dry check's edit of lead %d shows %q", crm.ID, got)
	}
	if got := text(t, ctx, "#exchanges"); !strings.Contains(got, "approved") || !strings.Contains(got, "200") {
		t.Errorf("the dry check's requests show %q", got)
	}
	if l := leadOf(t, a.Store, crm.ID); l.Rev != crm.Rev || l.Status != store.StatusProcessing {
		t.Errorf("the dry check committed: lead status %v rev %d", l.Status, l.Rev)
	}
	if n := len(partner.Requests()); n != 1 {
		t.Errorf("the dry check asked the partner %d times, want 1", n)
	}
	shot(t, ctx, dir, "offer")

	// Try an answer: pasted, its edits shown, nothing asked or committed.
	answer := `[{"id":"X2","status":"approved"}]`
	run(t, ctx, "trying an answer", chromedp.SendKeys(chromedp.ID("try-answer"), answer), chromedp.Click(chromedp.ID("try-run")),
		chromedp.WaitVisible(chromedp.CSS(`h2[data-ran="try"]`)))
	if got := text(t, ctx, "#report"); !strings.Contains(got, "The answer tried") {
		t.Errorf("after Try an answer the report is %q", got)
	}
	if got := text(t, ctx, `#edits tr[data-lead="`+itoa(other.ID)+`"]`); !strings.Contains(got, "2 processing · Обработка → 6 packing") {
		t.Errorf("Try an answer shows lead %d's edit as %q", other.ID, got)
	}
	if l := leadOf(t, a.Store, other.ID); l.Rev != other.Rev {
		t.Errorf("Try an answer committed an edit of lead %d", other.ID)
	}
	if n := len(partner.Requests()); n != 1 {
		t.Errorf("Try an answer asked the partner (%d requests)", n)
	}
	if got := read(t, ctx, "the answer kept", chromedp.Evaluate[string](`document.getElementById("try-answer").value`)); got != answer {
		t.Errorf("the form does not keep the answer: %q", got)
	}
	shot(t, ctx, dir, "offer-try")

	// Held work: the send held in doubt, released, reaches the partner.
	row := `tr[data-lead="` + itoa(sent.ID) + `"]`
	run(t, ctx, "held work", chromedp.Navigate(base+"/ui/held"), chromedp.WaitVisible(chromedp.CSS(row)))
	if got := text(t, ctx, row); !strings.Contains(got, "key=***") || strings.Contains(got, "PARTNER-KEY") || strings.Contains(got, phone) {
		t.Errorf("the held send shows %q", got)
	}
	shot(t, ctx, dir, "held")
	run(t, ctx, "release", chromedp.Click(chromedp.CSS(row+" a.release")), chromedp.WaitVisible(chromedp.ID("confirm-release")))
	if n := len(partner.Requests()); n != 1 || heldCount(t, a) != 1 {
		t.Fatalf("asking to release released: partner got %d, %d held", n, heldCount(t, a))
	}
	run(t, ctx, "confirming the release", chromedp.Click(chromedp.ID("confirm-release")), chromedp.WaitVisible(chromedp.CSS("p.note")))
	if got := text(t, ctx, "#held tbody"); strings.Contains(got, held) || !strings.Contains(got, "Nothing is held") {
		t.Errorf("after the release the held list shows %q", got)
	}
	hosttest.Eventually(t, "the partner receiving the released send", func() bool {
		for _, r := range partner.Requests() {
			if r.Path == "/order" {
				return true
			}
		}
		return false
	})
	hosttest.Eventually(t, "the lead taking the partner's id", func() bool { return leadOf(t, a.Store, sent.ID).Ext == "P-1" })
}

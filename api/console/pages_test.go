package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"leadhost/api"
	"leadhost/store"
)

// No page shows a lead's phone or e-mail as it came unless asked with
// raw=1 (where the admin API shows them raw too): they are masked as
// in the journal.
func TestNoPageShowsUnmaskedContactsWithoutRaw(t *testing.T) {
	t.Parallel()
	a := openApp(t)
	base := serve(t, &api.Server{App: a, APIToken: adminToken})
	id := addLead(t, base, "A1")
	entry := itoa(journalIDs(t, a.Store, store.KindHook)[0])
	b := newBrowser(t, base)
	b.signIn(adminToken)
	// The comment and history hold the phone too.
	if p := b.post("/ui/leads/"+itoa(id)+"/edit", url.Values{"csrf": {b.csrf("/ui/")}, "comment": {"call " + phone}}); p.code != 200 {
		t.Fatalf("edit: %d\n%s", p.code, p.body)
	}
	for _, path := range []string{"/ui/", "/ui/journal", "/ui/journal/rows", "/ui/journal?kind=lead", "/ui/journal/" + entry,
		"/ui/journal/" + entry + "/replay", "/ui/leads?offer=shop", "/ui/leads?offer=shop&ext=A1", "/ui/leads?contact=" + phone, "/ui/leads/" + itoa(id)} {
		p := b.get(path)
		if p.code != 200 {
			t.Errorf("GET %s: %d\n%s", path, p.code, p.body)
		}
		// What the person typed into the search box stays there, and in
		// the language switch's way back to this page.
		body := strings.NewReplacer(`name="contact" value="`+phone+`"`, "", "contact%3d"+phone, "").Replace(p.body)
		for _, contact := range []string{phone, email} {
			if strings.Contains(body, contact) {
				t.Errorf("GET %s shows %s unmasked", path, contact)
			}
		}
	}
	for _, path := range []string{"/ui/leads?offer=shop", "/ui/leads/" + itoa(id), "/ui/journal/" + entry} {
		if p := b.get(path); !strings.Contains(p.body, "7***22") {
			t.Errorf("GET %s does not show the masked phone 7***22", path)
		}
	}
	for _, path := range []string{"/ui/leads/" + itoa(id) + "?raw=1", "/ui/journal/" + entry + "?raw=1"} {
		if p := b.get(path); !strings.Contains(p.body, phone) || !strings.Contains(p.body, email) {
			t.Errorf("GET %s (raw) does not show the contacts as they came", path)
		}
	}
}

// A person's phone or e-mail, typed as they say it, finds their leads in
// every offer, masked; with an offer chosen, only that offer's.
func TestLeadsFoundByPhoneOrEmail(t *testing.T) {
	t.Parallel()
	a := openApp(t)
	base := serve(t, &api.Server{App: a, APIToken: adminToken})
	shop := addLead(t, base, "A1")
	crm, _, err := a.Store.Add(t.Context(), store.NewLead{Offer: "crm", Ext: "X1", Status: store.StatusProcessing,
		Fields: map[string]string{"phone": "8 (999) 000-11-22"}})
	if err != nil {
		t.Fatal(err)
	}
	addLead(t, base, "A2") // the same person again
	other, _, err := a.Store.Add(t.Context(), store.NewLead{Offer: "crm", Ext: "X2", Fields: map[string]string{"phone": "+7 999 000 11 99"}})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, base)
	b.signIn(adminToken)
	rows := func(p page) []string {
		var ids []string
		for _, m := range regexp.MustCompile(`<tr data-id="(\d+)"`).FindAllStringSubmatch(p.body, -1) {
			ids = append(ids, m[1])
		}
		return ids
	}
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/ui/leads?contact=" + url.QueryEscape("+7 (999) 000-11-22"), []string{itoa(shop), itoa(crm.ID), itoa(shop + 2)}},
		{"/ui/leads?contact=" + url.QueryEscape(strings.ToUpper(email)), []string{itoa(shop), itoa(shop + 2)}},
		{"/ui/leads?offer=crm&contact=9990001122", []string{itoa(crm.ID)}},
		{"/ui/leads?contact=79990001199", []string{itoa(other.ID)}},
	} {
		p := b.get(tc.path)
		if got := rows(p); p.code != 200 || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("GET %s: %d, leads %v, want %v", tc.path, p.code, got, tc.want)
		}
	}
	if p := b.get("/ui/leads?contact=12-34"); p.code != 400 || !strings.Contains(p.body, "want a phone (at least 7 digits) or an e-mail address") {
		t.Errorf("a contact that is neither: %d\n%s", p.code, p.body)
	}
}

// An edit the rules refuse is shown in words, with the form as posted,
// and the lead stays as it was; statuses carry their Russian labels.
func TestLeadEditRefusalInWords(t *testing.T) {
	t.Parallel()
	a := openApp(t)
	base := serve(t, &api.Server{App: a, APIToken: adminToken})
	id := addLead(t, base, "A1")
	b := newBrowser(t, base)
	b.signIn(adminToken)
	path := "/ui/leads/" + itoa(id)
	if p := b.post(path+"/edit", url.Values{"csrf": {b.csrf(path)}, "status": {"5"}, "reason": {"9"}}); p.code != 200 || !strings.Contains(p.body, "5 cancel · Отмена") {
		t.Fatalf("cancel: %d\n%s", p.code, p.body)
	}
	before := leadOf(t, a.Store, id)
	p := b.post(path+"/edit", url.Values{"csrf": {b.csrf(path)}, "status": {"2"}, "reason": {"9"}})
	if p.code != http.StatusConflict || !strings.Contains(p.body, "refused by the edit rules") || !strings.Contains(p.body, "Not saved:") {
		t.Errorf("a change back to processing: %d, want 409 with the refusal in words\n%s", p.code, p.body)
	}
	if !strings.Contains(p.body, `<option value="2" selected>`) {
		t.Errorf("the refused form does not keep the status posted")
	}
	if after := leadOf(t, a.Store, id); after.Rev != before.Rev || after.Status != store.StatusCancel {
		t.Errorf("the refused edit changed the lead: %+v", after)
	}
}

// Replay from the console asks first, then runs the call as the admin
// API's replay does: its answer and its new journal entry are shown.
func TestReplayAsksThenRuns(t *testing.T) {
	t.Parallel()
	a := openApp(t)
	base := serve(t, &api.Server{App: a, APIToken: adminToken})
	addLead(t, base, "A1")
	entry := journalIDs(t, a.Store, store.KindHook)[0]
	b := newBrowser(t, base)
	b.signIn(adminToken)
	path := "/ui/journal/" + itoa(entry) + "/replay"
	if p := b.get(path); p.code != 200 || !strings.Contains(p.body, "confirm-replay") {
		t.Fatalf("replay's confirmation: %d\n%s", p.code, p.body)
	}
	if n := len(journalIDs(t, a.Store, store.KindHook)); n != 1 {
		t.Fatalf("asking replayed: %d hook entries", n)
	}
	p := b.post(path, url.Values{"csrf": {b.csrf(path)}})
	ids := journalIDs(t, a.Store, store.KindHook)
	if p.code != 200 || len(ids) != 2 || !strings.Contains(p.body, "<strong>200</strong>") || !strings.Contains(p.body, `data-id="`+itoa(ids[0])+`"`) {
		t.Errorf("replay: %d, hook entries %v\n%s", p.code, ids, p.body)
	}
}

// The language is the browser's (Accept-Language) until the switch
// picks one, which a cookie keeps.
func TestLanguage(t *testing.T) {
	t.Parallel()
	a := openApp(t)
	base := serve(t, &api.Server{App: a, APIToken: adminToken})
	b := newBrowser(t, base)
	b.signIn(adminToken)
	for _, tc := range []struct{ accept, want string }{
		{"", "Journal"}, {"ru-RU,ru;q=0.9,en;q=0.8", "Журнал"}, {"de-DE,en;q=0.5,ru;q=0.7", "Журнал"}, {"en-GB,ru;q=0.3", "Journal"},
	} {
		if p := b.do("GET", "/ui/journal", nil, map[string]string{"Accept-Language": tc.accept}); !strings.Contains(p.body, "<h1>"+tc.want) {
			t.Errorf("Accept-Language %q: want %s", tc.accept, tc.want)
		}
	}
	p := b.get("/ui/lang?to=ru&back=/ui/leads")
	if p.code != http.StatusSeeOther || p.header.Get("Location") != "/ui/leads" {
		t.Fatalf("switch: %d %q", p.code, p.header.Get("Location"))
	}
	if p := b.do("GET", "/ui/leads", nil, map[string]string{"Accept-Language": "en"}); !strings.Contains(p.body, "<h1>Лиды") {
		t.Errorf("after the switch to Russian, an English browser still sees English")
	}
	if p := b.get("/ui/lang?to=en&back=https://evil.example/"); p.header.Get("Location") != "/ui/" {
		t.Errorf("the switch sends to another site: %q", p.header.Get("Location"))
	}
}

// The overview counts an offer's webhook calls and errors of the last
// 24 h: those in the journal when serve started and those since, not
// older ones.
func TestOverviewCountsTheLastDay(t *testing.T) {
	t.Parallel()
	a := openApp(t)
	now := time.Now()
	if err := a.Store.RecordWritten(store.JournalEntry{At: now.Add(-25 * time.Hour), Offer: "shop", Kind: store.KindHook, Status: store.JournalError, Summary: "too old"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Store.RecordWritten(store.JournalEntry{At: now.Add(-3 * time.Hour), Offer: "shop", Kind: store.KindHook, Status: store.JournalError, Summary: "before the start"}); err != nil {
		t.Fatal(err)
	}
	base := serve(t, &api.Server{App: a, APIToken: adminToken})
	b := newBrowser(t, base)
	b.signIn(adminToken) // the console starts counting here
	addLead(t, base, "A1")
	if err := a.Store.RecordWritten(store.JournalEntry{Offer: "shop", Kind: store.KindSend, Status: store.JournalError, Summary: "a send failed"}); err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`class="bad errors"[^>]*>2</a>\s*<span class="muted">· 2 webhook calls</span>`)
	var p page
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if p = b.get("/ui/"); want.MatchString(p.body) {
			return
		}
	}
	t.Errorf("the overview does not count 2 errors and 2 webhook calls in the last 24 h:\n%s", p.body)
}

// Hold from the form: status 4 until that many days from now, as
// PATCH {"hold": N} does.
func TestLeadHoldFromTheForm(t *testing.T) {
	t.Parallel()
	a := openApp(t)
	base := serve(t, &api.Server{App: a, APIToken: adminToken})
	id := addLead(t, base, "A1")
	b := newBrowser(t, base)
	b.signIn(adminToken)
	path := "/ui/leads/" + itoa(id)
	p := b.post(path+"/edit", url.Values{"csrf": {b.csrf(path)}, "status": {"1"}, "hold": {"3"}})
	l := leadOf(t, a.Store, id)
	if p.code != 200 || l.Status != store.StatusHold || l.HoldUntil.Sub(time.Now()) < 71*time.Hour || !strings.Contains(p.body, "4 hold · Холд") {
		t.Errorf("hold 3 days: %d, lead status %v until %v", p.code, l.Status, l.HoldUntil)
	}
	if p := b.post(path+"/edit", url.Values{"csrf": {b.csrf(path)}, "hold": {"-1"}}); p.code != http.StatusBadRequest || !strings.Contains(p.body, "want a number of days") {
		t.Errorf("hold -1: %d\n%s", p.code, p.body)
	}
}

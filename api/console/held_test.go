package console_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"leadhost/api"
	"leadhost/host/app"
	"leadhost/host/hosttest"
	"leadhost/store"
)

// heldWhy is a held send's error as the outbox records it: the
// partner's key and the lead's phone in its URL.
const heldWhy = "in doubt: POST http://partner.example/order?key=PARTNER-KEY&phone=79990001122: timeout; check with the partner"

// holdBeforeSending adds a shop lead (no partner's id yet) and holds its
// send in doubt, as the outbox does when a send's outcome is unknown,
// then starts the outbox. It gives the lead and the held item's page.
func holdBeforeSending(t *testing.T, a *app.App) (*store.Lead, string) {
	t.Helper()
	ctx := context.Background()
	feed, err := a.Store.Feed("send")
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := a.Store.Add(ctx, store.NewLead{Offer: "shop", Fields: map[string]string{"phone": phone}})
	if err != nil {
		t.Fatal(err)
	}
	var item *store.FeedItem
	for _, it := range mustPending(t, feed) {
		if it.LeadID == l.ID {
			item = &it
		}
	}
	if item == nil {
		t.Fatalf("lead %d's send is not in the outbox (already sent?)", l.ID)
	}
	if err := feed.Hold(ctx, *item, heldWhy); err != nil {
		t.Fatal(err)
	}
	runSends(t, a)
	return l, "/ui/held/send/" + itoa(l.ID) + "/" + itoa(uint64(item.Rev))
}

func mustPending(t *testing.T, feed store.Feed) []store.FeedItem {
	t.Helper()
	items, err := feed.Pending(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func heldCount(t *testing.T, a *app.App) int {
	t.Helper()
	feed, _ := a.Store.Feed("send")
	items, err := feed.Held(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	return len(items)
}

// The held work page lists a send held in doubt with what is known,
// its error masked; Release asks, then puts it back and the partner
// receives it.
func TestReleaseAHeldSend(t *testing.T) {
	t.Parallel()
	partner := hosttest.StartPartner(t, func(w http.ResponseWriter, _ int, _ hosttest.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"P-1"}`)
	})
	a := withPartner(t, partner.URL)
	l, path := holdBeforeSending(t, a)
	base := serve(t, &api.Server{App: a, APIToken: adminToken})
	b := newBrowser(t, base)
	b.signIn(adminToken)
	p := b.get("/ui/held")
	for _, want := range []string{`data-lead="` + itoa(l.ID) + `"`, "key=***&amp;phone=7***22: timeout", `href="` + path + `/release"`, `href="` + path + `/drop"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the held page does not show %q", want)
		}
	}
	if strings.Contains(p.body, "PARTNER-KEY") || strings.Contains(p.body, phone) {
		t.Errorf("the held page shows the error unmasked")
	}
	if p := b.get(path + "/release"); p.code != 200 || !strings.Contains(p.body, `id="confirm-release"`) {
		t.Fatalf("release's confirmation: %d\n%s", p.code, p.body)
	}
	if n := heldCount(t, a); n != 1 || len(partner.Requests()) != 0 {
		t.Fatalf("asking released: %d held, partner got %d", n, len(partner.Requests()))
	}
	p = b.post(path+"/release", url.Values{"csrf": {b.csrf(path + "/release")}})
	if p.code != http.StatusSeeOther || p.header.Get("Location") != "/ui/held?done=release" {
		t.Fatalf("release: %d %q\n%s", p.code, p.header.Get("Location"), p.body)
	}
	hosttest.Eventually(t, "the partner receiving the released send", func() bool { return len(partner.Requests()) == 1 })
	hosttest.Eventually(t, "the lead taking the partner's id", func() bool { return leadOf(t, a.Store, l.ID).Ext == "P-1" })
	if p := b.get("/ui/held?done=release"); !strings.Contains(p.body, "Released") || strings.Contains(p.body, `data-lead="`+itoa(l.ID)+`"`) {
		t.Errorf("after the release, the held page:\n%s", p.body)
	}
	if p := b.post(path+"/release", url.Values{"csrf": {b.csrf("/ui/held")}}); p.code != http.StatusNotFound {
		t.Errorf("releasing twice: %d, want 404", p.code)
	}
	journaledByConsole(t, a, "released", l)
}

// journaledByConsole waits for the journal entry of l's held send
// released or dropped (verb) from the console: a person's action, kind
// lead, under the lead's offer.
func journaledByConsole(t *testing.T, a *app.App, verb string, l *store.Lead) {
	t.Helper()
	want := "held send of lead " + itoa(l.ID) + " (rev " + itoa(uint64(l.Rev)) + ") " + verb + " by console"
	hosttest.Eventually(t, "the journal entry "+want, func() bool {
		entries, _, _ := a.Store.JournalList(context.Background(), store.JournalQuery{Offer: l.Offer, Kind: store.KindLead})
		for _, e := range entries {
			if e.Summary == want && e.Status == store.JournalOK {
				return true
			}
		}
		return false
	})
}

// Drop asks, then removes the held item for good: nothing is sent and
// the lead stays as it was.
func TestDropAHeldSend(t *testing.T) {
	t.Parallel()
	partner := hosttest.StartPartner(t, hosttest.Answer(200, `{"id":"P-1"}`))
	a := withPartner(t, partner.URL)
	l, path := holdBeforeSending(t, a)
	base := serve(t, &api.Server{App: a, APIToken: adminToken})
	b := newBrowser(t, base)
	b.signIn(adminToken)
	if p := b.get(path + "/drop"); p.code != 200 || !strings.Contains(p.body, `id="confirm-drop"`) {
		t.Fatalf("drop's confirmation: %d\n%s", p.code, p.body)
	}
	p := b.post(path+"/drop", url.Values{"csrf": {b.csrf(path + "/drop")}})
	if p.code != http.StatusSeeOther || p.header.Get("Location") != "/ui/held?done=drop" {
		t.Fatalf("drop: %d\n%s", p.code, p.body)
	}
	feed, _ := a.Store.Feed("send")
	if n := heldCount(t, a); n != 0 || len(mustPending(t, feed)) != 0 {
		t.Errorf("after the drop: %d held, %d pending", n, len(mustPending(t, feed)))
	}
	if got := leadOf(t, a.Store, l.ID); got.Rev != l.Rev || got.Status != store.StatusNew {
		t.Errorf("the drop changed the lead: %+v", got)
	}
	if p := b.get(path + "/drop"); p.code != http.StatusNotFound || !strings.Contains(p.body, "is not held") {
		t.Errorf("a dropped item's page: %d", p.code)
	}
	if n := len(partner.Requests()); n != 0 {
		t.Errorf("the dropped send reached the partner (%d requests)", n)
	}
	journaledByConsole(t, a, "dropped", l)
}

// Every new form that changes something or shows a secret is refused
// without its CSRF token, or from another origin, and changes nothing.
func TestOfferAndHeldFormsRefusedWithoutCSRF(t *testing.T) {
	t.Parallel()
	partner := hosttest.StartPartner(t, hosttest.Answer(200, statusAnswer))
	a := withPartner(t, partner.URL)
	crm := crmLead(t, a, "X1")
	shop, held := holdBeforeSending(t, a)
	base := serve(t, &api.Server{App: a, APIToken: adminToken})
	b := newBrowser(t, base)
	b.signIn(adminToken)
	token := b.csrf("/ui/held")
	for _, path := range []string{"/ui/offers/shop/token", "/ui/offers/crm/check", "/ui/offers/crm/try", held + "/release", held + "/drop"} {
		form := url.Values{"mode": {"processing"}, "answer": {statusAnswer}}
		for _, tc := range []struct {
			name   string
			form   url.Values
			header map[string]string
		}{
			{"no token", form, map[string]string{"Origin": base}},
			{"a wrong token", with(form, "csrf", "x"+token), map[string]string{"Origin": base}},
			{"another origin", with(form, "csrf", token), map[string]string{"Origin": "http://evil.example"}},
		} {
			p := b.do("POST", path, tc.form, tc.header)
			if p.code != http.StatusForbidden || strings.Contains(p.body, hookToken) || strings.Contains(p.body, "<table class=\"edits\"") {
				t.Errorf("POST %s with %s: %d, want 403 and nothing shown", path, tc.name, p.code)
			}
		}
	}
	if n := len(partner.Requests()); n != 0 {
		t.Errorf("refused forms asked the partner %d times", n)
	}
	if got := leadOf(t, a.Store, crm.ID); got.Rev != crm.Rev {
		t.Errorf("refused forms changed the crm lead")
	}
	if n := heldCount(t, a); n != 1 || leadOf(t, a.Store, shop.ID).Rev != shop.Rev {
		t.Errorf("refused forms released or dropped the held send: %d held", n)
	}
}

func with(form url.Values, k, v string) url.Values {
	out := url.Values{}
	for key, vs := range form {
		out[key] = vs
	}
	out.Set(k, v)
	return out
}

package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"leadhost/host/app"
	"leadhost/host/hosttest"
	"leadhost/store"
)

// startAdmin serves testdata/scripts with the admin API on 127.0.0.1:0.
func startAdmin(t *testing.T, token string) (string, store.Store) {
	t.Helper()
	base, a := startAdminApp(t, token)
	return base, a.Store
}

// startAdminApp is startAdmin giving the app itself. With no token, the
// server's local token (what serve leaves for the CLI) is localToken.
func startAdminApp(t *testing.T, token string) (string, *app.App) {
	t.Helper()
	a := openApp(t, "testdata/scripts")
	return serve(t, &Server{App: a, Log: slog.New(slog.DiscardHandler), APIToken: token, LocalToken: localToken}), a
}

// localToken is the test servers' local token; asLocal shows it, as the
// CLI does for a change with no api_token set.
const localToken = "l0cal"

var asLocal = map[string]string{"Authorization": "Bearer " + localToken}

func decodeJSON(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
}

// Every admin route: success, bad input, not found; and the token.
func TestAdminRoutes(t *testing.T) {
	t.Parallel()
	base, st := startAdmin(t, "adm1n")
	auth := map[string]string{"Authorization": "Bearer adm1n"}
	do := func(method, path, body string) (int, []byte) {
		t.Helper()
		code, _, b := call(t, method, base+path, "application/json", strings.NewReader(body), auth)
		return code, b
	}
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		want                     string
	}{
		{"create", "POST", "/api/leads", `{"offer":"shop","ext":"E1","fields":{"phone":"79990001122"}}`, 201, `"ext":"E1"`},
		{"create again with a taken ext", "POST", "/api/leads", `{"offer":"shop","ext":"E1"}`, 409, "already has ext"},
		{"create bad JSON", "POST", "/api/leads", `{"offer":`, 400, "error"},
		{"create unknown field", "POST", "/api/leads", `{"offer":"shop","colour":"red"}`, 400, "colour"},
		{"create unknown offer", "POST", "/api/leads", `{"offer":"nope"}`, 400, `no offer \"nope\"`},
		{"get", "GET", "/api/leads/1", "", 200, `"id":1`},
		{"get bad id", "GET", "/api/leads/x", "", 400, "not a lead id"},
		{"get unknown", "GET", "/api/leads/999", "", 404, "not found"},
		{"patch", "PATCH", "/api/leads/1", `{"accept":1,"comment":"ok"}`, 200, `"status":6`},
		{"patch refused", "PATCH", "/api/leads/1", `{"status":2}`, 409, "refused"},
		{"patch empty", "PATCH", "/api/leads/1", `{}`, 400, "no fields"},
		{"patch bad status", "PATCH", "/api/leads/1", `{"status":13}`, 400, "status"},
		{"patch unknown", "PATCH", "/api/leads/999", `{"comment":"x"}`, 404, "not found"},
		{"history", "GET", "/api/leads/1/history", "", 200, `"by":"api"`},
		{"history unknown", "GET", "/api/leads/999/history", "", 404, "not found"},
		{"list", "GET", "/api/leads?offer=shop&status=6", "", 200, `"ext":"E1"`},
		{"list by ext", "GET", "/api/leads?offer=shop&ext=E1", "", 200, `"ext":"E1"`},
		{"list by unknown ext", "GET", "/api/leads?offer=shop&ext=E9", "", 200, `"items":[]`},
		{"list without offer", "GET", "/api/leads", "", 400, "offer= is required"},
		{"list bad status", "GET", "/api/leads?offer=shop&status=13", "", 400, "want 1..12"},
		{"list bad limit", "GET", "/api/leads?offer=shop&limit=0", "", 400, "want 1..1000"},
		{"list bad cursor", "GET", "/api/leads?offer=shop&cursor=%21", "", 400, "cursor"},
		{"offers", "GET", "/api/offers", "", 200, `"id":"crm"`},
		{"offer", "GET", "/api/offers/crm", "", 200, `"check.lua"`},
		{"offer unknown", "GET", "/api/offers/nope", "", 404, "no offer"},
		{"check unknown offer", "POST", "/api/offers/nope/check", "", 404, "no offer"},
		{"check offer without [check]", "POST", "/api/offers/shop/check", "", 400, "has no status checks"},
		{"check bad mode", "POST", "/api/offers/crm/check?mode=weekly", "", 400, "want processing, accepted, dates"},
		{"dry-run without a body", "POST", "/api/offers/crm/dry-run", "", 400, "post the partner's answer"},
		{"dry-run garbage", "POST", "/api/offers/crm/dry-run", "<html>", 422, "undecodable"},
		{"journal", "GET", "/api/journal?limit=5", "", 200, `"items":[{"id":"`},
		{"journal bad since", "GET", "/api/journal?since=yesterday", "", 400, "since"},
		{"journal since a negative duration", "GET", "/api/journal?since=-1h", "", 400, "above zero"},
		{"journal since a time", "GET", "/api/journal?since=2026-12-07T06:00:00Z", "", 200, "items"},
		{"journal entry bad id", "GET", "/api/journal/x", "", 400, "not a journal id"},
		{"journal entry unknown", "GET", "/api/journal/42", "", 404, "not found"},
		{"replay unknown", "POST", "/api/journal/42/replay", "", 404, "not found"},
		{"wrong method", "DELETE", "/api/leads/1", "", 405, "takes GET or PATCH"},
		{"no such route", "GET", "/api/lead/1", "", 404, "no route"},
		{"list by status name", "GET", "/api/leads?offer=shop&status=packing,processing", "", 200, `"ext":"E1"`},
		{"list unknown status", "GET", "/api/leads?offer=shop&status=shipped", "", 400, `status \"shipped\"`},
		{"list unknown offer", "GET", "/api/leads?offer=nosuch", "", 400, `offer \"nosuch\": no such offer, and nothing stored under that name matches (offers: crm, shop)`},
		{"journal unknown kind", "GET", "/api/journal?kind=bogus", "", 400, `kind \"bogus\": want one of hook`},
		{"journal unknown status", "GET", "/api/journal?status=fine", "", 400, `status \"fine\"`},
		{"journal unknown offer", "GET", "/api/journal?offer=nosuch", "", 400, "no such offer"},
		{"outbox unknown", "GET", "/api/outbox/mail", "", 404, "no outbox"},
		{"release unknown outbox", "POST", "/api/outbox/mail/1/1/release", "", 404, "no outbox"},
	} {
		if tc.name == "journal" { // the journal is written behind the calls above
			hosttest.Eventually(t, "the journal written", func() bool {
				entries, _, _ := st.JournalList(context.Background(), store.JournalQuery{})
				return len(entries) > 0
			})
		}
		code, body := do(tc.method, tc.path, tc.body)
		if code != tc.code || !strings.Contains(string(body), tc.want) || !json.Valid(body) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, code, body, tc.code, tc.want)
		}
	}

	// The check routes with a lead to check: a dry run of a posted answer
	// changes nothing; a check now against an unreachable partner is 502.
	l, _, _ := st.Add(context.Background(), store.NewLead{Offer: "crm", Ext: "X1", Status: store.StatusProcessing})
	code, body := do("POST", "/api/offers/crm/dry-run?mode=processing", `[{"id":"X1","status":"approved"}]`)
	var rep struct {
		Edits []store.BatchChange `json:"edits"`
		Dry   bool                `json:"dry"`
	}
	decodeJSON(t, body, &rep)
	if code != 200 || len(rep.Edits) != 1 || !rep.Dry {
		t.Errorf("dry-run: %d %s", code, body)
	}
	if got, _ := st.Get(context.Background(), l.ID); got.Status != store.StatusProcessing {
		t.Errorf("the dry run changed the lead: %+v", got)
	}
	if code, body := do("POST", "/api/offers/crm/check?mode=processing", ""); code != 502 || !strings.Contains(string(body), "partner failed") {
		t.Errorf("check now: %d %s", code, body)
	}

	// Auth: no token, a wrong one.
	for _, h := range []map[string]string{nil, {"Authorization": "Bearer adm1"}, {"Authorization": "adm1n"}} {
		if code, hdr, body := call(t, "GET", base+"/api/offers", "", nil, h); code != 401 || hdr.Get("WWW-Authenticate") == "" || !json.Valid(body) {
			t.Errorf("auth %v: %d %s", h, code, body)
		}
	}
}

// With no token set, the admin API serves loopback clients only.
func TestAdminLoopbackOnly(t *testing.T) {
	t.Parallel()
	base, _ := startAdmin(t, "")
	if code, _, body := call(t, "GET", base+"/api/offers", "", nil, nil); code != 200 {
		t.Errorf("loopback without a token: %d %s", code, body)
	}
}

// A journaled webhook replays to the same answer and the same lead.
func TestReplay(t *testing.T) {
	t.Parallel()
	base, st := startAdmin(t, "")
	code, _, first := call(t, "POST", base+"/hook/shop?token=s3cret", "application/json", strings.NewReader(`{"order":"R1","phone":"79990001122"}`), nil)
	if code != 200 {
		t.Fatalf("hook: %d %s", code, first)
	}
	var entries struct {
		Entries []store.JournalEntry `json:"items"`
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(entries.Entries) == 0 && time.Now().Before(deadline) {
		_, _, body := call(t, "GET", base+"/api/journal?offer=shop&kind=hook", "", nil, nil)
		decodeJSON(t, body, &entries)
		time.Sleep(10 * time.Millisecond)
	}
	if len(entries.Entries) != 1 || strings.Contains(entries.Entries[0].Request, "79990001122") {
		t.Fatalf("journal: %+v (the phone must be masked)", entries.Entries)
	}
	// Not even raw=1 shows the token: it is not kept.
	_, _, raw := call(t, "GET", base+fmt.Sprintf("/api/journal/%d?raw=1", entries.Entries[0].ID), "", nil, nil)
	if strings.Contains(string(raw), "s3cret") || !strings.Contains(string(raw), "79990001122") {
		t.Errorf("raw entry: %s", raw)
	}
	code, _, body := call(t, "POST", base+fmt.Sprintf("/api/journal/%d/replay", entries.Entries[0].ID), "", nil, asLocal)
	var replay struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	decodeJSON(t, body, &replay)
	wantBody := strings.Replace(string(first), `"created":true`, `"created":false`, 1)
	if code != 200 || replay.Status != 200 || replay.Body != wantBody {
		t.Errorf("replay: %d %s\nfirst answer: %s", code, body, first)
	}
	if n := countLeads(t, st); n != 1 {
		t.Errorf("%d leads after the replay, want 1", n)
	}
	// Only webhooks and postbacks replay.
	st.Record(store.JournalEntry{Kind: "check", Offer: "crm", Status: "ok", Summary: "x"})
	time.Sleep(100 * time.Millisecond)
	_, _, body = call(t, "GET", base+"/api/journal?kind=check", "", nil, nil)
	decodeJSON(t, body, &entries)
	if code, _, body := call(t, "POST", base+fmt.Sprintf("/api/journal/%d/replay", entries.Entries[0].ID), "", nil, asLocal); code != 400 {
		t.Errorf("replay of a check: %d %s", code, body)
	}
}

// Paging through 10,000 leads while others are added: every lead that
// existed before the first page is seen exactly once.
func TestPagingUnderInserts(t *testing.T) {
	t.Parallel()
	base, st := startAdmin(t, "")
	ctx := context.Background()
	before := map[float64]bool{}
	var mu sync.Mutex
	var adders sync.WaitGroup
	for w := range 50 { // concurrent adds share commits: quick even under -race
		adders.Add(1)
		go func() {
			defer adders.Done()
			for i := range 200 {
				l, _, err := st.Add(ctx, store.NewLead{Offer: "shop", Status: store.StatusProcessing, Fields: map[string]string{"n": fmt.Sprint(w, i)}})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				before[float64(l.ID)] = true
				mu.Unlock()
			}
		}()
	}
	adders.Wait()
	if len(before) != 10_000 {
		t.Fatalf("%d leads added", len(before))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 2000 { // while the pages are read
			select {
			case <-stop:
				return
			default:
			}
			st.Add(ctx, store.NewLead{Offer: "shop", Status: store.StatusProcessing})
		}
	}()
	seen := map[float64]int{}
	cursor := ""
	for pages := 0; ; pages++ {
		_, _, body := call(t, "GET", base+"/api/leads?offer=shop&status=2,3,4&limit=500&cursor="+cursor, "", nil, nil)
		var page struct {
			Leads []map[string]any `json:"items"`
			Next  string           `json:"next"`
		}
		decodeJSON(t, body, &page)
		for _, l := range page.Leads {
			seen[l["id"].(float64)]++
		}
		if page.Next == "" || pages > 1000 {
			break
		}
		cursor = page.Next
	}
	close(stop)
	wg.Wait()
	for id := range before {
		if seen[id] != 1 {
			t.Fatalf("lead %v seen %d times", id, seen[id])
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("lead %v seen %d times", id, n)
		}
	}
	_ = http.StatusOK
}

// The outbox: what waits and what is held; a held send released.
func TestOutboxRoutes(t *testing.T) {
	t.Parallel()
	base, st := startAdmin(t, "")
	ctx := context.Background()
	a, _, _ := st.Add(ctx, store.NewLead{Offer: "shop"})
	st.Add(ctx, store.NewLead{Offer: "shop"})
	feed, _ := st.Feed("send")
	items, _ := feed.Pending(ctx, 10)
	why := "in doubt: POST https://partner.example/order?key=PARTNER-SECRET&phone=79990001122: timeout; check with the partner"
	if err := feed.Hold(ctx, items[0], why); err != nil {
		t.Fatal(err)
	}
	var box outboxByState
	_, _, body := call(t, "GET", base+"/api/outbox/send", "", nil, nil)
	box.decode(t, body)
	if len(box.Pending) != 1 || len(box.Held) != 1 || box.Held[0].LeadID != a.ID ||
		box.Held[0].LastError != "in doubt: POST https://partner.example/order?key=***&phone=7***22: timeout; check with the partner" {
		t.Fatalf("outbox, masked: %s", body)
	}
	_, _, body = call(t, "GET", base+"/api/outbox/send?raw=1", "", nil, nil)
	box.decode(t, body)
	if len(box.Held) != 1 || box.Held[0].LastError != why {
		t.Fatalf("outbox, raw: %s", body)
	}
	path := fmt.Sprintf("/api/outbox/send/%d/%d/release", a.ID, box.Held[0].Rev)
	if code, _, body := call(t, "POST", base+path, "", nil, asLocal); code != 200 {
		t.Errorf("release: %d %s", code, body)
	}
	if code, _, body := call(t, "POST", base+path, "", nil, asLocal); code != 404 {
		t.Errorf("release twice: %d %s", code, body)
	}
	_, _, body = call(t, "GET", base+"/api/outbox/send", "", nil, nil)
	box.decode(t, body)
	if len(box.Pending) != 2 || len(box.Held) != 0 {
		t.Errorf("after release: %s", body)
	}
}

// outboxByState is an outbox listing split by the state of its items.
type outboxByState struct {
	Pending, Held []store.FeedItem
}

func (b *outboxByState) decode(t *testing.T, body []byte) {
	t.Helper()
	var page struct {
		Items []struct {
			store.FeedItem
			State string `json:"state"`
		} `json:"items"`
	}
	decodeJSON(t, body, &page)
	b.Pending, b.Held = nil, nil
	for _, it := range page.Items {
		switch it.State {
		case "pending":
			b.Pending = append(b.Pending, it.FeedItem)
		case "held":
			b.Held = append(b.Held, it.FeedItem)
		default:
			t.Fatalf("outbox item in state %q: %s", it.State, body)
		}
	}
}

// /metrics: requests by route and code, operations from the journal,
// leads by status, outbox depth; behind the admin token.
func TestMetrics(t *testing.T) {
	t.Parallel()
	a := openApp(t, "testdata/scripts")
	st := a.Store
	// A lead before the count; the count done; then the calls.
	st.Add(context.Background(), store.NewLead{Offer: "shop", Status: store.StatusProcessing})
	m := NewMetrics(a)
	stop, err := m.TrackLeads(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	a.Observe(m.Observe)
	base := serve(t, &Server{App: a, Log: slog.New(slog.DiscardHandler), APIToken: "tok", Metrics: m})
	call(t, "POST", base+"/hook/shop?token=s3cret", "application/json", strings.NewReader(`{"order":"M1"}`), nil)
	call(t, "POST", base+"/hook/shop?token=bad", "application/json", strings.NewReader(`{}`), nil)    // refused: not an error
	call(t, "POST", base+"/hook/shop?token=s3cret", "application/json", strings.NewReader(`{}`), nil) // 422: an error
	if code, _, _ := call(t, "GET", base+"/metrics", "", nil, nil); code != 401 {
		t.Errorf("metrics without the token: %d", code)
	}
	var text string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, _, b := call(t, "GET", base+"/metrics", "", nil, map[string]string{"Authorization": "Bearer tok"})
		text = string(b)
		if strings.Contains(text, `leadhost_leads{offer="shop",status="1"} 1`) {
			break
		}
	}
	for _, want := range []string{
		`leadhost_http_requests_total{code="200",route="/hook"} 1`,
		`leadhost_http_requests_total{code="401",route="/hook"} 1`,
		`leadhost_http_requests_total{code="422",route="/hook"} 1`,
		`leadhost_operation_duration_seconds_count{kind="hook",offer="shop"} 3`,
		`leadhost_errors_total{kind="hook",offer="shop"} 1`,
		`leadhost_leads{offer="shop",status="2"} 1`,
		`leadhost_leads{offer="shop",status="1"} 1`,
		`leadhost_outbox_depth{outbox="send"} 1`, // the hook's new lead; the one made in status 2 is not to send
		`leadhost_outbox_held{offer="shop",outbox="send"} 0`,
		`leadhost_circuit_open{offer="shop",outbox="send"} 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// A check whose check.lua raises is the offer's script failing (500, the
// file and line in the report), told apart from a partner failing (502).
func TestCheckHandlerErrorIsNotAPartnerFailure(t *testing.T) {
	t.Parallel()
	p := hosttest.StartPartner(t, hosttest.Answer(200, `[]`))
	scripts := t.TempDir()
	dir := filepath.Join(scripts, "raiser")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "offer.toml"), []byte("[check]\nurl = \""+p.URL+"/status?ids={idel}\"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "check.lua"), []byte("\nerror(\"boom\")\n"), 0o644)
	a := openApp(t, scripts)
	if _, _, err := a.Store.Add(context.Background(), store.NewLead{Offer: "raiser", Ext: "R1", Status: store.StatusProcessing}); err != nil {
		t.Fatal(err)
	}
	base := serve(t, &Server{App: a, Log: slog.New(slog.DiscardHandler), LocalToken: localToken})
	code, _, body := call(t, "POST", base+"/api/offers/raiser/check", "", nil, asLocal)
	if code != 500 || !strings.Contains(string(body), `raiser/check.lua:2: boom`) {
		t.Errorf("a raising check.lua: %d %s, want 500 with the file and line", code, body)
	}
}

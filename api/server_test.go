package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/host/app"
	"leadhost/host/hosttest"
	"leadhost/store"
)

// startServer serves the offers in testdata/scripts on 127.0.0.1:0.
func startServer(t *testing.T) (base string, st store.Store) {
	t.Helper()
	a := openApp(t, "testdata/scripts")
	return serve(t, &Server{App: a, Log: slog.New(slog.DiscardHandler), MaxBody: 64 << 10}), a.Store
}

// openApp opens the assembled app on the offers in scripts, in memory;
// the test closes it.
func openApp(t testing.TB, scripts string) *app.App {
	t.Helper()
	a, err := app.Open(context.Background(), app.Config{InMemory: true, Scripts: scripts, Node: "node-1"})
	if err != nil {
		t.Fatal(err)
	}
	if errs := a.Offers.Errors(); len(errs) > 0 {
		t.Fatalf("offers do not load: %v", errs)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// serve serves s on 127.0.0.1:0 until the test ends and gives its URL.
func serve(t testing.TB, s *Server) string {
	t.Helper()
	srv := s.HTTP()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { s.Shutdown(srv) })
	return "http://" + ln.Addr().String()
}

func call(t *testing.T, method, url, contentType string, body io.Reader, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func countLeads(t *testing.T, st store.Store) int {
	page, err := st.List(context.Background(), store.Query{Offer: "shop", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Leads)
}

func TestHooks(t *testing.T) {
	t.Parallel()
	base, st := startServer(t)
	order := `{"order":"A1","phone":"79990001122"}`

	// JSON, token in the query; the same order twice is one lead.
	for i, wantCreated := range []bool{true, false} {
		code, h, body := call(t, "POST", base+"/hook/shop?token=s3cret", "application/json", strings.NewReader(order), nil)
		var got struct {
			Lead    int  `json:"lead"`
			Created bool `json:"created"`
		}
		if code != 200 || h.Get("Content-Type") != "application/json" || json.Unmarshal(body, &got) != nil || got.Lead != 1 || got.Created != wantCreated {
			t.Fatalf("call %d: %d %s %s", i, code, h.Get("Content-Type"), body)
		}
	}
	// A form to a named hook, token in X-Token; the script's status and header.
	code, h, body := call(t, "POST", base+"/hook/shop/form", "application/x-www-form-urlencoded",
		strings.NewReader("order=B2&phone=7000"), map[string]string{"X-Token": "s3cret"})
	if code != 201 || string(body) != "lead 2" || h.Get("X-Lead") != "2" {
		t.Fatalf("form hook: %d %q %v", code, body, h)
	}
	if n := countLeads(t, st); n != 2 {
		t.Fatalf("%d leads", n)
	}
	if code, _, body := call(t, "GET", base+"/healthz", "", nil, nil); code != 200 || string(body) != `{"ok":true}` {
		t.Errorf("healthz: %d %s", code, body)
	}
}

// Every refusal is a JSON error with a fitting code, and makes no lead.
func TestHookRefusals(t *testing.T) {
	t.Parallel()
	base, st := startServer(t)
	big := bytes.Repeat([]byte("x"), 65<<10)
	for _, tc := range []struct {
		name, method, path, contentType string
		body                            []byte
		header                          map[string]string
		code                            int
		want                            string
	}{
		{"no token", "POST", "/hook/shop", "application/json", []byte(`{"order":"X"}`), nil, 401, "wrong or missing token"},
		{"wrong token", "POST", "/hook/shop?token=guess", "application/json", []byte(`{"order":"X"}`), nil, 401, "wrong or missing token"},
		{"wrong header token", "POST", "/hook/shop", "application/json", []byte(`{"order":"X"}`), map[string]string{"X-Token": "s3cre"}, 401, "wrong or missing token"},
		{"unknown offer", "POST", "/hook/nope?token=s3cret", "", nil, nil, 404, `no offer \"nope\"`},
		{"unknown hook", "POST", "/hook/shop/nope?token=s3cret", "", nil, nil, 404, `has no hook \"nope\"`},
		{"nested hook name", "POST", "/hook/shop/a/b?token=s3cret", "", nil, nil, 404, "has no hook"},
		{"unknown route", "GET", "/nothing", "", nil, nil, 404, "no such route"},
		{"method", "PUT", "/hook/shop?token=s3cret", "", nil, nil, 405, "GET or POST"},
		{"malformed JSON", "POST", "/hook/shop?token=s3cret", "application/json", []byte(`{"order":`), nil, 400, "malformed JSON body"},
		{"malformed form", "POST", "/hook/shop/form?token=s3cret", "application/x-www-form-urlencoded", []byte("order=%zz"), nil, 400, "malformed form body"},
		{"body over the limit", "POST", "/hook/shop?token=s3cret", "application/json", big, nil, 413, "over the limit"},
		{"script error", "POST", "/hook/shop/boom?token=s3cret", "", nil, nil, 500, "boom.lua:3:"},
		{"script error masked", "POST", "/hook/shop/leak?token=s3cret", "", nil, nil, 500, `leak.lua:4: the partner said no to +7***22, api_key=***"`},
		{"script raises a table", "POST", "/hook/shop/leak?token=s3cret&as=table", "", nil, nil, 500, `leak.lua: a table raised as the error"`},
		{"script refuses", "POST", "/hook/shop?token=s3cret", "application/json", []byte(`{}`), nil, 422, "order is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, h, body := call(t, tc.method, base+tc.path, tc.contentType, bytes.NewReader(tc.body), tc.header)
			var e struct {
				Error string `json:"error"`
			}
			if code != tc.code || h.Get("Content-Type") != "application/json" || json.Unmarshal(body, &e) != nil || !strings.Contains(string(body), tc.want) {
				t.Errorf("%d %s %q, want %d with %q", code, h.Get("Content-Type"), body, tc.code, tc.want)
			}
		})
	}
	if n := countLeads(t, st); n != 0 {
		t.Errorf("refused calls made %d leads", n)
	}
}

// Built-in postbacks: the lead by eid= or oid=, the status by word or by
// the sta=/stc=/stt=/stw=/sth= lists, with reason, payout and comment;
// every refusal a JSON error.
func TestPostbacks(t *testing.T) {
	t.Parallel()
	base, st := startServer(t)
	ctx := context.Background()
	add := func(offer, ext string) *store.Lead {
		l, _, err := st.Add(ctx, store.NewLead{Offer: offer, Ext: ext, Status: store.StatusProcessing})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a, b, c, d := add("shop", "E1"), add("shop", "E2"), add("shop", "E3"), add("shop", "E4")
	other := add("crm", "X1")
	for _, tc := range []struct {
		name, query string
		code        int
		want        string // in the reply
		lead        *store.Lead
		status      store.Status
		reason      store.Reason
	}{
		{"approve by eid", "eid=E1&status=Approved&payout=300.50&currency=RUB&comment=ok", 200, `"status":6`, a, store.StatusPacking, 0},
		{"no way back", "eid=E1&status=processing", 409, "refused", a, store.StatusPacking, 0},
		{"cancel by oid with a reason", "oid=" + itoa(b.ID) + "&status=rejected&reason=9", 200, `"reason":9`, b, store.StatusCancel, store.ReasonExpensive},
		{"own word for trash", "eid=E3&status=FRAUD_CHECK_FAILED&stt=fraud_check_failed,bot", 200, `"reason":6`, c, store.StatusCancel, store.ReasonTrash},
		{"own word for hold", "eid=E4&status=on_review&sth=on_review", 200, `"status":4`, d, store.StatusHold, 0},
		{"unknown word", "eid=E4&status=maybe_later", 422, "not recognised", d, store.StatusHold, 0},
		{"no lead named", "status=approved", 400, "give oid= (our id) or eid= (yours)", nil, 0, 0},
		{"bad oid", "oid=abc&status=approved", 400, "not a lead id", nil, 0, 0},
		{"unknown lead", "eid=nope&status=approved", 404, "no such lead", nil, 0, 0},
		{"another offer's lead", "oid=" + itoa(other.ID) + "&status=approved", 404, "no such lead", other, store.StatusProcessing, 0},
		{"no status", "eid=E4", 400, "status is missing", nil, 0, 0},
		{"bad payout", "eid=E4&status=approved&payout=lots", 400, "payout", d, store.StatusHold, 0},
		{"oid and eid of two leads", "oid=" + itoa(d.ID) + "&eid=E1&status=cancel", 409, "disagree: eid E1 is lead " + itoa(a.ID), d, store.StatusHold, 0},
		{"oid and an unknown eid", "oid=" + itoa(d.ID) + "&eid=nope&status=cancel", 409, "no lead of offer shop has eid nope", d, store.StatusHold, 0},
		{"oid twice", "oid=" + itoa(d.ID) + "&oid=" + itoa(a.ID) + "&status=cancel", 400, "oid given more than once", d, store.StatusHold, 0},
		{"status twice", "eid=E4&status=cancel&status=approved", 400, "status given more than once", d, store.StatusHold, 0},
		{"oid and eid of one lead", "oid=" + itoa(d.ID) + "&eid=E4&status=processing&comment=back", 200, `"status":2`, d, store.StatusProcessing, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := call(t, "GET", base+"/postback/shop?token=pb&"+tc.query, "", nil, nil)
			if code != tc.code || !strings.Contains(string(body), tc.want) {
				t.Errorf("%d %s, want %d with %q", code, body, tc.code, tc.want)
			}
			if tc.lead != nil {
				l, _ := st.Get(ctx, tc.lead.ID)
				if l.Status != tc.status || l.Reason != tc.reason {
					t.Errorf("lead %d: status %d reason %d, want %d %d", l.ID, l.Status, l.Reason, tc.status, tc.reason)
				}
			}
		})
	}
	if l, _ := st.Get(ctx, a.ID); l.Cash.Pay.String() != "300.50" || l.Cash.CC.Code() != "RUB" || l.Comment != "ok" {
		t.Errorf("payout and comment: %+v", l)
	}
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/postback/shop?token=wrong&eid=E4&status=approved", 401},
		{"/postback/nope?token=pb&eid=E4&status=approved", 404},
	} {
		if code, _, body := call(t, "GET", base+tc.path, "", nil, nil); code != tc.code || !json.Valid(body) {
			t.Errorf("%s: %d %s", tc.path, code, body)
		}
	}
	// An offer's postback.lua reads the call itself.
	code, _, body := call(t, "POST", base+"/postback/crm?token=crm-pb", "application/json",
		strings.NewReader(`{"order":{"ref":"`+itoa(other.ID)+`","state":"approved"}}`), nil)
	if l, _ := st.Get(ctx, other.ID); code != 200 || l.Status != store.StatusPacking {
		t.Errorf("postback.lua: %d %s, lead status %d", code, body, l.Status)
	}
}

func itoa(id uint64) string { return strconv.FormatUint(id, 10) }

// Review regressions: a Content-Type in any case with parameters; a call
// refused before its token is journaled as a line only.
func TestHookContentTypeAndJournal(t *testing.T) {
	t.Parallel()
	base, st := startServer(t)
	code, _, body := call(t, "POST", base+"/hook/shop?token=s3cret", "Application/JSON; charset=utf-8", strings.NewReader(`{"order":"C1"}`), nil)
	if code != 200 || !strings.Contains(string(body), `"created":true`) {
		t.Errorf("JSON with a mixed-case Content-Type: %d %s", code, body)
	}
	call(t, "POST", base+"/hook/shop?token=guess", "application/json", strings.NewReader(`{"junk":"`+strings.Repeat("x", 1000)+`"}`), nil)
	var entries []store.JournalEntry
	for deadline := time.Now().Add(5 * time.Second); len(entries) < 2 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		entries, _, _ = st.JournalList(context.Background(), store.JournalQuery{Offer: "shop"})
	}
	if len(entries) != 2 || entries[0].Status != "refused" || entries[0].Request != "" || entries[1].Request == "" || strings.Contains(entries[1].Request, "s3cret") {
		t.Errorf("journal: %+v", entries)
	}
}

func TestPostbackJSONAndConflictingLists(t *testing.T) {
	t.Parallel()
	base, st := startServer(t)
	l, _, _ := st.Add(context.Background(), store.NewLead{Offer: "shop", Ext: "J1", Status: store.StatusProcessing})
	code, _, body := call(t, "POST", base+"/postback/shop?token=pb", "application/json", strings.NewReader(`{"eid":"J1","status":"approved","payout":12.5}`), nil)
	if got, _ := st.Get(context.Background(), l.ID); code != 200 || got.Status != store.StatusPacking || got.Cash.Pay.String() != "12.5" {
		t.Errorf("JSON postback: %d %s %+v", code, body, got)
	}
	code, _, body = call(t, "GET", base+"/postback/shop?token=pb&eid=J1&status=done&sta=done&stc=Done", "", nil, nil)
	if code != 400 || !strings.Contains(string(body), "in both sta= and stc=") {
		t.Errorf("conflicting lists: %d %s", code, body)
	}
}

// A call to an offer that does not exist is journaled without an offer:
// made-up paths do not become index entries or metrics series.
func TestUnknownOfferJournaledWithoutOffer(t *testing.T) {
	t.Parallel()
	base, st := startServer(t)
	call(t, "GET", base+"/hook/made-up-123?token=x", "", nil, nil)
	var entries []store.JournalEntry
	for deadline := time.Now().Add(5 * time.Second); len(entries) == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		entries, _, _ = st.JournalList(context.Background(), store.JournalQuery{Kind: "hook"})
	}
	if len(entries) != 1 || entries[0].Offer != "" || !strings.Contains(entries[0].Summary, "/hook/made-up-123") {
		t.Errorf("entries %+v", entries)
	}
	if byOffer, _, _ := st.JournalList(context.Background(), store.JournalQuery{Offer: "made-up-123"}); len(byOffer) != 0 {
		t.Errorf("an index entry for a made-up offer: %+v", byOffer)
	}
}

// The journal keeps a request that reads back as the call that came,
// without its token, wherever the token was.
func TestRedactedRequest(t *testing.T) {
	for _, tc := range []struct {
		name, raw, wantURI, wantBody string
	}{
		{"query token among others", "GET /hook/shop?a=1&token=s3cret&b=x%40y HTTP/1.1\r\nHost: h\r\n\r\n", "/hook/shop?a=1&b=x%40y", ""},
		{"query token alone", "GET /hook/shop?token=s3cret HTTP/1.1\r\nHost: h\r\n\r\n", "/hook/shop", ""},
		{"header token, JSON body", "POST /hook/shop/paid?x=1 HTTP/1.1\r\nHost: h\r\nX-Token: s3cret\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"order\":\"1\"}", "/hook/shop/paid?x=1", `{"order":"1"}`},
		{"chunked body", "POST /hook/shop?token=s3cret HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n3\r\n\"b\"\r\n1\r\n}\r\n0\r\n\r\n", "/hook/shop", `{"a":"b"}`},
		{"Expect: 100-continue", "POST /hook/shop?token=s3cret HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", "/hook/shop", `{}`},
		{"JSON without a Content-Type", "POST /hook/shop?token=s3cret HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n[]", "/hook/shop", `[]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in fasthttp.Request
			br := bufio.NewReader(strings.NewReader(tc.raw))
			if err := in.Read(br); err != nil {
				t.Fatal(err)
			}
			if in.MayContinue() { // as the server does, having said 100 Continue
				if err := in.ContinueReadBody(br, 0); err != nil {
					t.Fatal(err)
				}
			}
			kept := redactedRequest(&in)
			if strings.Contains(kept, "s3cret") {
				t.Fatalf("the token was kept:\n%s", kept)
			}
			var back fasthttp.Request
			if err := back.Read(bufio.NewReader(strings.NewReader(kept))); err != nil {
				t.Fatalf("%v in\n%s", err, kept)
			}
			if string(back.Header.Method()) != string(in.Header.Method()) || string(back.RequestURI()) != tc.wantURI ||
				string(back.Body()) != tc.wantBody || string(back.Header.Host()) != "h" ||
				string(back.Header.ContentType()) != string(in.Header.ContentType()) {
				t.Errorf("read back %s %s %q (host %q), want %s %q", back.Header.Method(), back.RequestURI(), back.Body(), back.Header.Host(), tc.wantURI, tc.wantBody)
			}
		})
	}
}

// What a webhook's script says (core.log, print) is kept with the call's
// journal entry, masked as the rest of it.
func TestScriptWordsReachTheJournalEntry(t *testing.T) {
	t.Parallel()
	scripts := t.TempDir()
	dir := filepath.Join(scripts, "talker")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "offer.toml"), []byte("[hook]\ntoken = \"t\"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "hook.lua"), []byte(`core.log("phone", req.query.phone, "looks fine")
print("second", 2)
return { ok = true }`), 0o644)
	a := openApp(t, scripts)
	base := serve(t, &Server{App: a, Log: slog.New(slog.DiscardHandler)})
	if code, _, body := call(t, "GET", base+"/hook/talker?token=t&phone=79990001122", "", nil, nil); code != 200 {
		t.Fatalf("hook: %d %s", code, body)
	}
	var entry store.JournalEntry
	hosttest.Eventually(t, "the hook journaled", func() bool {
		entries, _, _ := a.Store.JournalList(context.Background(), store.JournalQuery{Kind: store.KindHook})
		if len(entries) == 1 {
			entry = entries[0]
		}
		return len(entries) == 1
	})
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"log: phone 7***22 looks fine", "print: second\t2"}},
		{"?raw=1", []string{"log: phone 79990001122 looks fine", "print: second\t2"}},
	} {
		_, _, body := call(t, "GET", fmt.Sprintf("%s/api/journal/%d%s", base, entry.ID, tc.query), "", nil, nil)
		var got store.JournalEntry
		if err := json.Unmarshal(body, &got); err != nil || !reflect.DeepEqual(got.Logs, tc.want) {
			t.Errorf("entry%s logs %q, want %q (%s)", tc.query, got.Logs, tc.want, body)
		}
	}
}

// Behind a trusted proxy a webhook's req.ip is the client's address from
// X-Forwarded-For or Forwarded; from anyone else those headers are not
// believed.
func TestClientAddressBehindTrustedProxies(t *testing.T) {
	t.Parallel()
	scripts := t.TempDir()
	dir := filepath.Join(scripts, "echo")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "offer.toml"), []byte("[hook]\ntoken = \"t\"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "hook.lua"), []byte(`return req.ip`), 0o644)
	a := openApp(t, scripts)
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	trusting := serve(t, &Server{App: a, Log: slog.New(slog.DiscardHandler), TrustedProxies: []*net.IPNet{loopback}})
	forwarded := serve(t, &Server{App: a, Log: slog.New(slog.DiscardHandler), TrustedProxies: []*net.IPNet{loopback}, ForwardedHeader: "Forwarded"})
	plain := serve(t, &Server{App: a, Log: slog.New(slog.DiscardHandler)})
	for _, tc := range []struct {
		name, base string
		headers    http.Header
		want       string
	}{
		{"behind the proxy", trusting, http.Header{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"the last hop not ours", trusting, http.Header{"X-Forwarded-For": {"198.51.100.1, 203.0.113.9, 127.0.0.5"}}, "203.0.113.9"},
		{"a caller's line before the proxy's", trusting, http.Header{"X-Forwarded-For": {"6.6.6.6", "203.0.113.9"}}, "203.0.113.9"},
		{"Forwarded, when the proxy writes it", forwarded, http.Header{"Forwarded": {`for="203.0.113.9:4711";proto=https`}}, "203.0.113.9"},
		{"IPv6 in Forwarded", forwarded, http.Header{"Forwarded": {`for="[2001:db8::1]:4711"`}}, "2001:db8::1"},
		{"a caller's X-Forwarded-For where the proxy writes Forwarded", forwarded,
			http.Header{"X-Forwarded-For": {"6.6.6.6"}, "Forwarded": {"for=203.0.113.9"}}, "203.0.113.9"},
		{"a caller's Forwarded where the proxy writes X-Forwarded-For", trusting,
			http.Header{"Forwarded": {"for=6.6.6.6"}, "X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"no header", trusting, nil, "127.0.0.1"},
		{"not from a proxy of ours", plain, http.Header{"X-Forwarded-For": {"203.0.113.9"}}, "127.0.0.1"},
	} {
		req, _ := http.NewRequest("GET", tc.base+"/hook/echo?token=t", nil)
		for k, vs := range tc.headers {
			req.Header[k] = vs
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != tc.want {
			t.Errorf("%s: req.ip %q, want %q", tc.name, body, tc.want)
		}
	}
}

// A webhook body nested deeper than scripts take is the caller's mistake
// (400), not the server's (500); one within the bound reaches the hook.
func TestDeeplyNestedWebhookBody(t *testing.T) {
	t.Parallel()
	base, _ := startServer(t)
	for _, tc := range []struct {
		depth, code int
		want        string
	}{
		{5000, 400, "JSON body nested deeper than 100"},
		{50, 422, "order is missing"}, // the hook ran, and answered
	} {
		body := strings.Repeat(`{"a":`, tc.depth) + "1" + strings.Repeat("}", tc.depth)
		code, _, got := call(t, "POST", base+"/hook/shop?token=s3cret", "application/json", strings.NewReader(body), nil)
		if code != tc.code || !strings.Contains(string(got), tc.want) {
			t.Errorf("depth %d: %d %s, want %d", tc.depth, code, got, tc.code)
		}
	}
}

package api

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"leadhost/host/app"
	"leadhost/host/hosttest"
	"leadhost/store"
	"leadhost/store/postgres/pgtest"
)

var update = flag.Bool("update", false, "rewrite the golden answers in testdata/golden")

// TestMain runs the package's tests in a zone that is not UTC, so that an
// answer with a local time in it shows.
func TestMain(m *testing.M) {
	time.Local = time.FixedZone("UTC+5", 5*60*60)
	os.Exit(pgtest.Main(m)) // the cluster tests' PostgreSQL, stopped at the end
}

// The document validates as OpenAPI 3.1 (pb33f/libopenapi-validator).
func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	v := openAPIValidator(t)
	if ok, errs := v.ValidateDocument(); !ok {
		for _, e := range errs {
			t.Errorf("%s: %s (%s)", e.ValidationType, e.Message, e.HowToFix)
		}
	}
}

func openAPIValidator(t *testing.T) validator.Validator {
	t.Helper()
	doc, err := libopenapi.NewDocument(openAPIDocument)
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("openapi.json: %v", errs)
	}
	return v
}

// Every route the router has is in the document, and nothing else.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	var documented, routed []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	for _, r := range adminRoutes() {
		routed = append(routed, r.method+" /api/"+r.path)
	}
	sort.Strings(documented)
	sort.Strings(routed)
	if strings.Join(documented, "\n") != strings.Join(routed, "\n") {
		t.Errorf("the document has\n%s\n\nthe router has\n%s", strings.Join(documented, "\n"), strings.Join(routed, "\n"))
	}
}

// Every route's real answers, success and failure: each one as the
// document describes it, and each the same as its golden file in
// testdata/golden (times, ids and durations blanked). A change of shape
// fails here; go test ./api -run Contract -update rewrites the files
// after a change meant to be made (and the README's changelog says so).
func TestRouteAnswersMatchContract(t *testing.T) {
	t.Parallel()
	base, a := startAdminApp(t, "")
	st := a.Store
	guarded := serve(t, &Server{App: a, Log: slog.New(slog.DiscardHandler), APIToken: "tok"}) // the same app behind a token
	v := openAPIValidator(t)
	host := strings.TrimPrefix(base, "http://")
	ctx := context.Background()

	// Ground to stand on: a webhook's journal entry, a crm lead to check.
	if code, _, body := call(t, "POST", base+"/hook/shop?token=s3cret", "application/json", strings.NewReader(`{"order":"G1","phone":"79990001122"}`), nil); code != 200 {
		t.Fatalf("hook: %d %s", code, body)
	}
	var hookEntry string
	hosttest.Eventually(t, "the webhook journaled", func() bool {
		entries, _, _ := st.JournalList(ctx, store.JournalQuery{Kind: store.KindHook})
		if len(entries) == 1 {
			hookEntry = jsonID(entries[0].ID)
		}
		return hookEntry != ""
	})

	// Paths may name what exists only once earlier steps ran; prepare
	// makes it and fills vars.
	vars := map[string]string{"{hook-entry}": hookEntry}
	steps := []struct {
		name, method, path, body string
		code                     int
		prepare                  func()
	}{
		{"create-lead", "POST", "/api/leads", `{"offer":"shop","key":"k1","ext":"E1","fields":{"phone":"79990001122","name":"Ivan"},"base":"12.10","curr":"RUB"}`, 201, nil},
		{"create-lead-again", "POST", "/api/leads", `{"offer":"shop","key":"k1"}`, 200, nil},
		{"create-lead-taken-ext", "POST", "/api/leads", `{"offer":"shop","ext":"E1"}`, 409, nil},
		{"create-lead-bad-field", "POST", "/api/leads", `{"offer":"shop","fields":{"phone":79990001122}}`, 400, nil},
		{"create-lead-bad-created", "POST", "/api/leads", `{"offer":"shop","created":"yesterday"}`, 400, nil},
		{"create-lead-unknown-offer", "POST", "/api/leads", `{"offer":"nosuch"}`, 400, nil},
		{"create-crm-lead", "POST", "/api/leads", `{"offer":"crm","ext":"X1","status":"processing"}`, 201, nil},
		{"get-lead", "GET", "/api/leads/2", "", 200, nil},
		{"get-lead-unknown", "GET", "/api/leads/999", "", 404, nil},
		{"get-lead-bad-id", "GET", "/api/leads/x", "", 400, nil},
		{"patch-lead", "PATCH", "/api/leads/2", `{"accept":1,"comment":"ok"}`, 200, nil},
		{"patch-lead-refused", "PATCH", "/api/leads/2", `{"status":"processing"}`, 409, nil},
		{"patch-lead-empty", "PATCH", "/api/leads/2", `{}`, 400, nil},
		{"patch-lead-bad-base", "PATCH", "/api/leads/2", `{"base":true}`, 400, nil},
		{"patch-lead-bad-counts", "PATCH", "/api/leads/2", `{"counts":1.5}`, 400, nil},
		{"patch-lead-goal", "PATCH", "/api/leads/2", `{"goal":"upsell"}`, 200, nil},
		{"patch-lead-unknown-goal", "PATCH", "/api/leads/2", `{"goal":"downsell"}`, 400, nil},
		{"lead-history", "GET", "/api/leads/2/history", "", 200, nil},
		{"list-leads", "GET", "/api/leads?offer=shop&status=new,packing&limit=10", "", 200, nil},
		{"list-leads-unknown-offer", "GET", "/api/leads?offer=nosuch", "", 400, nil},
		{"list-leads-bad-status", "GET", "/api/leads?offer=shop&status=shipped", "", 400, nil},
		{"list-leads-by-contact", "GET", "/api/leads?contact=%2B7%20(999)%20000-11-22", "", 200, nil},
		{"list-leads-bad-contact", "GET", "/api/leads?contact=12-34", "", 400, nil},
		{"list-leads-no-offer", "GET", "/api/leads?status=new", "", 400, nil},
		{"delete-lead", "DELETE", "/api/leads/2", "", 405, nil},
		{"list-offers", "GET", "/api/offers", "", 200, nil},
		{"list-nodes", "GET", "/api/nodes", "", 200, func() {
			addr, err := net.ResolveTCPAddr("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Join(ctx, addr); err != nil {
				t.Fatal(err)
			}
		}},
		{"get-offer", "GET", "/api/offers/crm", "", 200, nil},
		{"get-offer-unknown", "GET", "/api/offers/nope", "", 404, nil},
		{"dry-run", "POST", "/api/offers/crm/dry-run?mode=processing", `[{"id":"X1","status":"approved"}]`, 200, nil},
		{"dry-run-garbage", "POST", "/api/offers/crm/dry-run", `not json`, 422, nil},
		{"dry-run-about-a-lead", "POST", "/api/offers/crm/dry-run?leads=3", `[{"id":"X1","status":"approved"}]`, 200, nil},
		{"dry-run-about-another-offers-lead", "POST", "/api/offers/crm/dry-run?leads=2", `[]`, 400, nil},
		{"dry-run-about-no-lead", "POST", "/api/offers/crm/dry-run?leads=999", `[]`, 404, nil},
		{"dry-run-bad-leads", "POST", "/api/offers/crm/dry-run?leads=x", `[]`, 400, nil},
		{"shadow-no-candidate", "GET", "/api/offers/shop/shadow", "", 200, nil},
		{"shadow-unknown-offer", "GET", "/api/offers/nope/shadow", "", 404, nil},
		{"shadow-replay-no-candidate", "POST", "/api/offers/shop/shadow/replay?last=5", "", 409, nil},
		{"shadow-replay-bad-last", "POST", "/api/offers/shop/shadow/replay?last=5000", "", 400, nil},
		{"promote-no-candidate", "POST", "/api/offers/shop/promote", "", 409, nil},
		{"check-unreachable-partner", "POST", "/api/offers/crm/check?mode=processing", "", 502, nil},
		{"check-mode-not-run", "POST", "/api/offers/crm/check?mode=dates", "", 400, nil},
		{"check-bad-dry", "POST", "/api/offers/crm/check?dry=yes", "", 400, nil},
		{"check-offer-without-checks", "POST", "/api/offers/shop/check", "", 400, nil},
		{"list-journal", "GET", "/api/journal?kind=lead&limit=2", "", 200, nil},
		{"list-journal-bad-kind", "GET", "/api/journal?kind=bogus", "", 400, nil},
		{"list-journal-bad-status", "GET", "/api/journal?status=fine", "", 400, nil},
		{"list-journal-bad-since", "GET", "/api/journal?since=yesterday", "", 400, nil},
		{"list-journal-bad-limit", "GET", "/api/journal?limit=5000", "", 400, nil},
		{"journal-entry", "GET", "/api/journal/{hook-entry}", "", 200, nil},
		{"journal-entry-unknown", "GET", "/api/journal/42", "", 404, nil},
		{"replay", "POST", "/api/journal/{hook-entry}/replay", "", 200, nil},
		{"replay-not-a-webhook", "POST", "/api/journal/{lead-entry}/replay", "", 400, func() {
			entries, _, _ := st.JournalList(ctx, store.JournalQuery{Kind: store.KindLead, Limit: 1})
			vars["{lead-entry}"] = jsonID(entries[0].ID)
		}},
		{"list-leads-by-ext", "GET", "/api/leads?offer=shop&ext=E1", "", 200, nil},
		{"list-outbox", "GET", "/api/outbox/send", "", 200, nil},
		{"list-outbox-held", "GET", "/api/outbox/send?state=held", "", 200, func() {
			feed, _ := st.Feed("send")
			items, _ := feed.Pending(ctx, 1)
			if err := feed.Hold(ctx, items[0], "in doubt: POST https://partner.example/order?key=K: no answer in time"); err != nil {
				t.Fatal(err)
			}
			vars["{held}"] = fmt.Sprintf("%d/%d", items[0].LeadID, items[0].Rev)
		}},
		{"release", "POST", "/api/outbox/send/{held}/release", "", 200, nil},
		{"release-bad-rev", "POST", "/api/outbox/send/1/x/release", "", 400, nil},
		{"list-outbox-unknown", "GET", "/api/outbox/mail", "", 404, nil},
		{"release-not-held", "POST", "/api/outbox/send/1/1/release", "", 404, nil},
		{"drop", "POST", "/api/outbox/send/{held-again}/drop", "", 200, func() {
			feed, _ := st.Feed("send")
			items, _ := feed.Pending(ctx, 1)
			if err := feed.Hold(ctx, items[0], "in doubt: no answer in time"); err != nil {
				t.Fatal(err)
			}
			vars["{held-again}"] = fmt.Sprintf("%d/%d", items[0].LeadID, items[0].Rev)
		}},
		{"drop-not-held", "POST", "/api/outbox/send/{held-again}/drop", "", 404, nil},
		{"drop-bad-lead", "POST", "/api/outbox/send/x/1/drop", "", 400, nil},
		{"drop-unknown-outbox", "POST", "/api/outbox/mail/1/1/drop", "", 404, nil},
		{"drop-by-get", "GET", "/api/outbox/send/1/1/drop", "", 405, nil},
		{"get-offer-with-schedules", "GET", "/api/offers/crm", "", 200, func() {
			// The scheduler's first step makes the offer's schedules.
			ctx, cancel := context.WithCancel(ctx)
			stopped := make(chan error, 1)
			go func() { stopped <- a.Checks.Run(ctx) }()
			hosttest.Eventually(t, "the schedules made", func() bool { return len(a.Checks.Schedules()) == 2 })
			cancel()
			<-stopped
		}},
		{"unauthorized", "GET", "{guarded}/api/leads?offer=shop", "", 401, func() { vars["{guarded}"] = guarded }},
		{"disk-full", "POST", "{full}/api/leads", `{"offer":"shop","key":"k-full"}`, 503, func() {
			// A store on disk that keeps more free than any disk has: read-only from the start.
			full, err := app.Open(ctx, app.Config{Data: t.TempDir(), Scripts: "testdata/scripts", MinFreeDisk: 1 << 62})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { full.Close() })
			vars["{full}"] = serve(t, &Server{App: full, Log: slog.New(slog.DiscardHandler), LocalToken: localToken})
		}},
		{"verify", "GET", "/api/verify", "", 200, nil},
		{"backup-in-memory", "GET", "/api/backup", "", 409, nil},
		{"openapi", "GET", "/api/openapi.json", "", 200, nil},
	}
	for _, s := range steps {
		if s.prepare != nil {
			s.prepare()
		}
		for k, val := range vars {
			s.path = strings.ReplaceAll(s.path, k, val)
		}
		url := base + s.path
		if strings.HasPrefix(s.path, "http") {
			url = s.path
		}
		if s.name == "list-journal" {
			// Every add and edit above, made or refused: 4 made (two adds,
			// the approval, the goal), 9 refused (the taken ext, the bad
			// field, the bad created, the unknown offer, the refused
			// patch, the empty patch, the bad base, the bad counts, the
			// unknown goal).
			hosttest.Eventually(t, "the lead entries journaled", func() bool {
				entries, _, _ := st.JournalList(ctx, store.JournalQuery{Kind: store.KindLead})
				return len(entries) == 13
			})
		}
		req, err := http.NewRequest(s.method, url, strings.NewReader(s.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if s.method != "GET" {
			req.Header.Set("Authorization", "Bearer "+localToken) // changes need one with no api_token
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != s.code {
			t.Errorf("%s: %s %s: %d %s, want %d", s.name, s.method, s.path, resp.StatusCode, body, s.code)
			continue
		}
		if s.code != 405 { // a method the path does not take is, by definition, not in the document
			resp.Body = io.NopCloser(bytes.NewReader(body))
			if ok, errs := v.ValidateHttpResponse(req, resp); !ok {
				for _, e := range errs {
					t.Errorf("%s: %s %s answers %d against the document: %s %s", s.name, s.method, s.path, s.code, e.Message, e.Reason)
				}
			}
		}
		if s.name == "openapi" {
			var served, doc any
			json.Unmarshal(body, &served)
			json.Unmarshal(openAPIDocument, &doc)
			if !reflect.DeepEqual(served, doc) {
				t.Errorf("GET /api/openapi.json is not the document")
			}
			continue
		}
		compareGolden(t, s.name, s.code, normalizeAnswer(t, body, host))
	}
}

func jsonID(id uint64) string {
	b, _ := json.Marshal(store.JournalEntry{ID: id})
	var v struct{ ID string }
	json.Unmarshal(b, &v)
	return v.ID
}

var (
	// Only UTC times are blanked (the contract promises UTC): a time in
	// another zone stays in the answer and fails the comparison.
	rfc3339    = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
	journalIDs = regexp.MustCompile(`\b1[0-9]{18}\b`)
	// The free space of the test machine's disk, in a full disk's answer.
	freeMiB = regexp.MustCompile(`reserve: \d+ MiB free`)
)

// normalizeAnswer blanks what changes from run to run: times, journal
// ids, durations, cursors and the test server's address.
func normalizeAnswer(t *testing.T, body []byte, host string) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	var walk func(key string, v any) any
	walk = func(key string, v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = walk(k, e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(key, e)
			}
		case string:
			switch {
			case key == "duration":
				return "<duration>"
			case key == "next" && x != "" && !rfc3339.MatchString(x):
				return "<cursor>"
			}
			x = strings.ReplaceAll(x, host, "<host>")
			x = rfc3339.ReplaceAllString(x, "<time>")
			x = freeMiB.ReplaceAllString(x, "reserve: <free> MiB free")
			return journalIDs.ReplaceAllString(x, "<journal-id>")
		}
		return v
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(walk("", v)); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func compareGolden(t *testing.T, name string, code int, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%s: no golden answer (%v); run go test ./api -run Contract -update", name, err)
		return
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s (%d): the answer drifted from %s:\n%s\nwant:\n%s", name, code, path, got, want)
	}
}

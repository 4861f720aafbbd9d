package console_test

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"leadhost/api"
	"leadhost/host/app"
	"leadhost/store"
)

// The tokens of the test servers.
const (
	adminToken = "admin-token-for-tests"
	localToken = "local-token-for-tests"
	hookToken  = "hook-secret"
)

// A lead's contacts as they came: no page may show them without raw=1.
const (
	phone = "79990001122"
	email = "ivan.petrov@example.com"
)

// openApp opens the app on testdata/scripts in memory; the test closes it.
func openApp(t testing.TB) *app.App {
	t.Helper()
	a, err := app.Open(context.Background(), app.Config{InMemory: true, Scripts: "testdata/scripts"})
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
func serve(t testing.TB, s *api.Server) string {
	t.Helper()
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	srv := s.HTTP()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { s.Shutdown(srv) })
	return "http://" + ln.Addr().String()
}

// browser is an HTTP client that keeps cookies by hand and never
// follows redirects, so that a test sees each answer.
type browser struct {
	t      *testing.T
	base   string
	cookie map[string]string
	header map[string]string // sent with every request
}

func newBrowser(t *testing.T, base string) *browser {
	return &browser{t: t, base: base, cookie: map[string]string{}, header: map[string]string{}}
}

// page is one answer.
type page struct {
	code   int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values, header map[string]string) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range b.cookie {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	for k, v := range b.header {
		req.Header.Set(k, v)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	client := http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookie, c.Name)
		} else {
			b.cookie[c.Name] = c.Value
		}
	}
	return page{resp.StatusCode, resp.Header, string(got)}
}

func (b *browser) get(path string) page { b.t.Helper(); return b.do("GET", path, nil, nil) }

// post sends a form as the console's own page would (same Origin).
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	return b.do("POST", path, form, map[string]string{"Origin": b.base})
}

// signIn signs in with token and fails the test if that does not work.
func (b *browser) signIn(token string) {
	b.t.Helper()
	p := b.post("/ui/signin", url.Values{"token": {token}, "next": {"/ui/"}})
	if p.code != http.StatusSeeOther || b.cookie["leadhost_session"] == "" {
		b.t.Fatalf("sign-in: %d, cookies %v\n%s", p.code, b.cookie, p.body)
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of a form on the page at path.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	p := b.get(path)
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		b.t.Fatalf("no CSRF token on %s (%d):\n%s", path, p.code, p.body)
	}
	return m[1]
}

// addLead adds a lead through the shop's webhook, with contacts, and
// gives its id.
func addLead(t *testing.T, base, order string) uint64 {
	t.Helper()
	body := `{"order":"` + order + `","name":"Ivan","phone":"` + phone + `","email":"` + email + `"}`
	resp, err := http.Post(base+"/hook/shop?token="+hookToken, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Lead uint64 `json:"lead"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 || got.Lead == 0 {
		t.Fatalf("hook: %d %v %+v", resp.StatusCode, err, got)
	}
	return got.Lead
}

func itoa(id uint64) string { return strconv.FormatUint(id, 10) }

// journalIDs are the ids of the journal's entries of kind, newest first.
func journalIDs(t *testing.T, st store.Store, kind store.JournalKind) []uint64 {
	t.Helper()
	entries, _, err := st.JournalList(context.Background(), store.JournalQuery{Kind: kind, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, e := range entries {
		ids = append(ids, e.ID)
	}
	return ids
}

func leadOf(t *testing.T, st store.Store, id uint64) *store.Lead {
	t.Helper()
	l, err := st.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// withPartner opens the app on a copy of testdata/scripts whose partner
// URLs (http://127.0.0.1:1) point at partner instead: the shop's sends
// and the crm's checks. Nothing runs in the background (runSends).
func withPartner(t *testing.T, partner string) *app.App {
	t.Helper()
	scripts := t.TempDir()
	err := filepath.WalkDir("testdata/scripts", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel("testdata/scripts", p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		b = []byte(strings.ReplaceAll(string(b), "http://127.0.0.1:1", partner))
		if err := os.MkdirAll(filepath.Join(scripts, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(scripts, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), app.Config{InMemory: true, Scripts: scripts, SendPoll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if errs := a.Offers.Errors(); len(errs) > 0 {
		t.Fatalf("offers do not load: %v", errs)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// runSends runs the app's send outbox, polling often, until the test
// ends (and before the app closes).
func runSends(t *testing.T, a *app.App) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Sends.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// crmLead adds a crm lead in processing whose partner's id is ext.
func crmLead(t *testing.T, a *app.App, ext string) *store.Lead {
	t.Helper()
	l, _, err := a.Store.Add(context.Background(), store.NewLead{Offer: "crm", Ext: ext, Status: store.StatusProcessing})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Package console is the operator's web console (SPEC §5, issue 14),
// served by `leadhost serve` at /ui/ on the API's listener: server-made
// html/template pages with a little htmx, every file embedded in the
// binary. It reads and writes through the same host/app functions as the
// admin API and under its access rules, which package api hands it
// (Access): api routes /ui/ here, so this package cannot import it.
package console

import (
	"bytes"
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"path"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/api/guesslimit"
	"leadhost/host/app"
	"leadhost/store"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Access is what the console takes from the admin API beside it: the
// same rules, decided in one place (package api).
type Access struct {
	// Token is what the sign-in page takes: the admin token, or with
	// none the token serve keeps in its data folder, which the admin API
	// takes for changes ("": nobody signs in, nothing changes).
	Token string
	// AdminToken says Token is the admin token: then a signed-out
	// browser sees only the sign-in page.
	AdminToken bool
	// Refusal is the admin API's rule for a request without a token:
	// why it may not be served, or "" (direct loopback reads).
	Refusal func(*fasthttp.RequestCtx) string
	// Secure says the request came over TLS, to the server or, as a
	// trusted proxy says, to the proxy: the session cookie is then Secure.
	Secure func(*fasthttp.RequestCtx) bool
	// Host is the host (and port) the browser asked for, which a form's
	// Origin must name: the Host header, or what a trusted proxy says
	// (X-Forwarded-Host) when it passes the request on under another.
	// Nil: the Host header.
	Host func(*fasthttp.RequestCtx) string
	// Replay runs a journaled webhook or postback again, as POST
	// /api/journal/<id>/replay does, and says how it was answered.
	Replay func(c *fasthttp.RequestCtx, id string) (status int, body string, err error)
	// StatusOf is the HTTP status the admin API answers an error with.
	StatusOf func(error) int
	// Client is the caller's address, as the admin API works it out
	// behind trusted proxies; nil: the peer's. Wrong sign-in tokens are
	// counted by it (signinlimit.go).
	Client func(*fasthttp.RequestCtx) net.IP
}

// Console serves /ui/. Make it with New.
type Console struct {
	App    *app.App
	Access Access
	// Counts is every offer's leads by status; nil reads them from the
	// store (a scan: serve hands the metrics' running counts instead).
	Counts func(context.Context) (map[string]map[store.Status]int, error)
	Log    *slog.Logger

	pages    map[string]*template.Template
	sessions sessions
	signIns  guesslimit.Limit
	activity activity
}

// New makes the console of a, served under access. It starts counting
// the last 24 h of the journal for the overview in the background, until
// done or ctx ends.
func New(ctx context.Context, a *app.App, access Access, log *slog.Logger) *Console {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cs := &Console{App: a, Access: access, Log: log, pages: parsePages()}
	cs.sessions.shared, cs.sessions.log = a.Store, log
	// Entries from here on are counted as they are written, those before
	// by the count: one written just as this runs may be counted twice.
	until := time.Now()
	a.Observe(cs.activity.add)
	go cs.activity.seed(ctx, a.Store, until)
	if t, shared := a.Store.(tallier); shared {
		go cs.activity.follow(ctx, t, a.Node, until, followEvery, followLag)
	}
	return cs
}

// parsePages parses each page with the layout: one template set per
// page, since each defines its own "content".
func parsePages() map[string]*template.Template {
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".html")
		if base == "layout" {
			continue
		}
		pages[base] = template.Must(template.New(base).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", name))
	}
	return pages
}

// Handle serves a request for /ui or anything under it.
func (cs *Console) Handle(c *fasthttp.RequestCtx) {
	p := strings.TrimPrefix(string(c.Path()), "/ui")
	if p == "" {
		seeOther(c, "/ui/")
		return
	}
	if rest, ok := strings.CutPrefix(p, "/static/"); ok {
		serveStatic(c, rest)
		return
	}
	c.Response.Header.Set("Cache-Control", "no-store")
	c.Response.Header.Set("X-Frame-Options", "DENY")
	c.Response.Header.Set("Referrer-Policy", "same-origin")
	c.Response.Header.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
	r := cs.newRequest(c)
	switch p {
	case "/signin":
		cs.signIn(r)
		return
	case "/lang":
		cs.switchLanguage(r)
		return
	}
	if !cs.admit(r) {
		return
	}
	parts := strings.Split(strings.Trim(p, "/"), "/")
	post := c.IsPost()
	switch {
	case p == "/" && !post:
		cs.overview(r)
	case p == "/signout" && post:
		cs.signOut(r)
	case parts[0] == "journal" && len(parts) == 1 && !post:
		cs.journal(r)
	case parts[0] == "journal" && len(parts) == 2 && parts[1] == "rows" && !post:
		cs.journalRows(r)
	case parts[0] == "journal" && len(parts) == 2 && !post:
		cs.journalEntry(r, parts[1])
	case parts[0] == "journal" && len(parts) == 3 && parts[2] == "replay":
		cs.replay(r, parts[1])
	case parts[0] == "leads" && len(parts) == 1 && !post:
		cs.leads(r)
	case parts[0] == "leads" && len(parts) == 2 && !post:
		cs.lead(r, parts[1])
	case parts[0] == "leads" && len(parts) == 3 && parts[2] == "edit" && post:
		cs.editLead(r, parts[1])
	case parts[0] == "held" && len(parts) == 1 && !post:
		cs.held(r)
	case parts[0] == "held" && len(parts) == 5 && (parts[4] == "release" || parts[4] == "drop"):
		cs.heldItem(r, parts[1:])
	case parts[0] == "offers" && len(parts) == 2 && !post:
		cs.offerPage(r, parts[1])
	case parts[0] == "offers" && len(parts) == 3 && parts[2] == "token" && post:
		cs.showToken(r, parts[1])
	case parts[0] == "offers" && len(parts) == 3 && parts[2] == "check" && post:
		cs.runCheck(r, parts[1])
	case parts[0] == "offers" && len(parts) == 3 && parts[2] == "try" && post:
		cs.tryAnswer(r, parts[1])
	case parts[0] == "offers" && len(parts) == 3 && parts[2] == "shadow" && post:
		cs.shadowReplay(r, parts[1])
	case parts[0] == "offers" && len(parts) == 3 && parts[2] == "promote":
		cs.promote(r, parts[1])
	default:
		r.fail(fasthttp.StatusNotFound, r.T("err.no_page"))
	}
}

// serveStatic serves an embedded file of static/.
func serveStatic(c *fasthttp.RequestCtx, name string) {
	b, err := staticFiles.ReadFile("static/" + name)
	if err != nil || strings.Contains(name, "..") {
		c.Error("no such file", fasthttp.StatusNotFound)
		return
	}
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		c.SetContentType(ct)
	}
	c.Response.Header.Set("Cache-Control", "public, max-age=3600")
	c.SetBody(b)
}

// request is one request to the console: its context, language and
// session.
type request struct {
	*fasthttp.RequestCtx
	cs      *Console
	lang    lang
	session *session // nil: signed out
}

func (cs *Console) newRequest(c *fasthttp.RequestCtx) *request {
	return &request{RequestCtx: c, cs: cs, lang: chooseLanguage(c), session: cs.sessions.get(c, cs.Access.Token, time.Now())}
}

// T is the message key in the request's language.
func (r *request) T(key string) string { return r.lang.message(key) }

// page is what every template gets: the request's words and session,
// and the page's own data.
type page struct {
	r     *request
	Title string
	Path  string // the page's own address, for the language switch to come back to
	Data  any
	Error string // a refusal or failure, in words
	Note  string // a change done
}

// T is the message key in the page's language.
func (p page) T(key string) string { return p.r.T(key) }

// Lang is the page's language code (en, ru).
func (p page) Lang() string { return string(p.r.lang) }

// CSRF is the token every changing form carries ("" signed out).
func (p page) CSRF() string {
	if p.r.session == nil {
		return ""
	}
	return p.r.session.csrf
}

// SignedIn says whether a session is open (the sign-out button).
func (p page) SignedIn() bool { return p.r.session != nil }

// CanChange says whether forms that change something will be taken.
func (p page) CanChange() bool { return p.r.session != nil }

// render answers with a page, or with one template of it ("journal#rows").
func (r *request) render(status int, name, title string, data any, errText, note string) {
	var buf bytes.Buffer
	here := string(r.URI().RequestURI())
	if r.IsPost() {
		here = path.Dir(string(r.Path())) // a form's answer: the page the form is on (/ui/leads/7 for /ui/leads/7/edit)
	}
	p := page{r: r, Title: title, Path: here, Data: data, Error: errText, Note: note}
	set, tpl := name, "layout"
	if i := strings.IndexByte(name, '#'); i > 0 {
		set, tpl = name[:i], name[i+1:] // a part of a page, for htmx to swap in
	}
	if err := r.cs.pages[set].ExecuteTemplate(&buf, tpl, p); err != nil {
		r.cs.Log.Error("console page", "page", name, "err", err)
		r.Error("the page could not be made: "+err.Error(), fasthttp.StatusInternalServerError)
		return
	}
	r.SetStatusCode(status)
	r.SetContentType("text/html; charset=utf-8")
	r.SetBody(buf.Bytes())
}

// fail answers with an error page.
func (r *request) fail(status int, msg string) {
	r.render(status, "error", r.T("err.title"), nil, msg, "")
}

// failErr answers err as the admin API would, in its words.
func (r *request) failErr(err error) {
	status := fasthttp.StatusInternalServerError
	if r.cs.Access.StatusOf != nil {
		status = r.cs.Access.StatusOf(err)
	}
	r.fail(status, store.Describe(err))
}

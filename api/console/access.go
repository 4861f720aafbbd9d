package console

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"leadhost/api/guesslimit"
	"leadhost/host/app"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// Who the console serves, by the admin API's rules (Access):
//
//   - With an admin token set, whoever signs in with it: the sign-in page
//     sets a session cookie (HttpOnly, SameSite=Strict, Secure over TLS);
//     a signed-out browser sees the sign-in page and nothing else.
//   - With none, the pages are read by the clients the admin API serves
//     reads to without a token (direct loopback, loopback Host, no
//     forwarding header, no cross-site fetch); changes, as in the API,
//     need serve's local token, which the sign-in page takes then.
//
// Every form that changes something carries the session's CSRF token and
// must come from the console's own origin: a form posted by another site
// (or without its token) changes nothing.

const csrfField = "csrf"

// admit says whether the request is served; when not, it has been
// answered (the sign-in page, or a refusal in words).
func (cs *Console) admit(r *request) bool {
	if r.IsPost() {
		return cs.admitChange(r)
	}
	if r.session != nil {
		return true
	}
	why := "sign in"
	if !cs.Access.AdminToken && cs.Access.Refusal != nil {
		why = cs.Access.Refusal(r.RequestCtx)
	}
	if why == "" {
		return true
	}
	if cs.Access.AdminToken {
		signin := "/ui/signin?next=" + url.QueryEscape(string(r.URI().RequestURI()))
		if string(r.Request.Header.Peek("HX-Request")) == "true" {
			// htmx polling for a page whose session ended: the whole page
			// goes to the sign-in, not the sign-in into a table.
			r.Response.Header.Set("HX-Redirect", "/ui/signin")
			r.SetStatusCode(fasthttp.StatusUnauthorized)
			return false
		}
		seeOther(r.RequestCtx, signin)
		return false
	}
	cs.signInPage(r, fasthttp.StatusUnauthorized, why)
	return false
}

// admitChange says whether a form that changes something is taken: a
// session, its CSRF token, and the console's own origin.
func (cs *Console) admitChange(r *request) bool {
	if r.session == nil {
		cs.signInPage(r, fasthttp.StatusUnauthorized, r.T("access.sign_in_to_change"))
		return false
	}
	if why := cs.crossSite(r.RequestCtx); why != "" {
		r.fail(fasthttp.StatusForbidden, r.T("access.cross_site")+" ("+why+")")
		return false
	}
	got := r.PostArgs().Peek(csrfField)
	if subtle.ConstantTimeCompare(got, []byte(r.session.csrf)) != 1 {
		r.fail(fasthttp.StatusForbidden, r.T("access.csrf"))
		return false
	}
	return true
}

// crossSite says why a form post did not come from the console's own
// pages, or "": an Origin other than the host the browser asked for, or
// fetch metadata saying another site.
func (cs *Console) crossSite(c *fasthttp.RequestCtx) string {
	host := string(c.Host())
	if cs.Access.Host != nil {
		host = cs.Access.Host(c)
	}
	if origin := c.Request.Header.Peek("Origin"); len(origin) > 0 || hasHeader(c, "Origin") {
		u, err := url.Parse(string(origin))
		if err != nil || u.Host == "" || !strings.EqualFold(u.Host, host) {
			return "Origin " + string(origin)
		}
	}
	if site := c.Request.Header.Peek("Sec-Fetch-Site"); len(site) > 0 &&
		!bytes.EqualFold(site, []byte("same-origin")) && !bytes.EqualFold(site, []byte("none")) {
		return "Sec-Fetch-Site " + string(site)
	}
	return ""
}

func hasHeader(c *fasthttp.RequestCtx, name string) bool {
	found := false
	c.Request.Header.VisitAll(func(k, _ []byte) {
		found = found || strings.EqualFold(string(k), name)
	})
	return found
}

// signInData is what the sign-in page shows.
type signInData struct {
	Why      string // why the page was shown instead of another
	Next     string
	HasToken bool // someone can sign in at all
	Local    bool // the token asked for is serve's local one
}

func (cs *Console) signInPage(r *request, status int, why string) {
	next := safeNext(string(r.QueryArgs().Peek("next")))
	if next == "/ui/" && !r.IsPost() && string(r.Path()) != "/ui/signin" {
		next = string(r.URI().RequestURI())
	}
	r.render(status, "signin", r.T("signin.title"), signInData{Why: why, Next: next,
		HasToken: cs.Access.Token != "", Local: !cs.Access.AdminToken}, "", "")
}

// signIn is /ui/signin: the page, and its form taking the token.
func (cs *Console) signIn(r *request) {
	if !r.IsPost() {
		cs.signInPage(r, fasthttp.StatusOK, "")
		return
	}
	if why := cs.crossSite(r.RequestCtx); why != "" {
		r.fail(fasthttp.StatusForbidden, r.T("access.cross_site")+" ("+why+")")
		return
	}
	caller := cs.caller(r.RequestCtx)
	now := time.Now()
	if wait := cs.signIns.Wait(caller, now); wait > 0 {
		wait = wait.Round(time.Second)
		r.Response.Header.Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
		cs.signInPage(r, fasthttp.StatusTooManyRequests, fmt.Sprintf(r.T("signin.too_many"), guesslimit.Tries, guesslimit.Window/time.Minute, wait))
		return
	}
	got := bytes.TrimSpace(r.PostArgs().Peek("token"))
	if cs.Access.Token == "" || subtle.ConstantTimeCompare(got, []byte(cs.Access.Token)) != 1 {
		cs.signIns.Failed(caller, now)
		cs.signInPage(r, fasthttp.StatusUnauthorized, r.T("signin.wrong"))
		return
	}
	cs.signIns.Succeeded(caller)
	id := cs.sessions.start(cs.Access.Token, time.Now())
	var ck fasthttp.Cookie
	ck.SetKey(sessionCookie)
	ck.SetValue(id)
	ck.SetPath("/ui/")
	ck.SetHTTPOnly(true)
	ck.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	ck.SetMaxAge(int(sessionTTL / time.Second))
	ck.SetSecure(cs.Access.Secure != nil && cs.Access.Secure(r.RequestCtx))
	r.Response.Header.SetCookie(&ck)
	seeOther(r.RequestCtx, safeNext(string(r.PostArgs().Peek("next"))))
}

// caller is who a sign-in is counted as (app.SourceOf).
func (cs *Console) caller(c *fasthttp.RequestCtx) string {
	ip := c.RemoteIP()
	if cs.Access.Client != nil {
		ip = cs.Access.Client(c)
	}
	return app.SourceOf(ip.String())
}

// signOut is POST /ui/signout.
func (cs *Console) signOut(r *request) {
	if r.session != nil {
		cs.sessions.end(r.session, time.Now())
	}
	var ck fasthttp.Cookie
	ck.SetKey(sessionCookie)
	ck.SetPath("/ui/")
	ck.SetHTTPOnly(true)
	ck.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	ck.SetExpire(fasthttp.CookieExpireDelete)
	r.Response.Header.SetCookie(&ck)
	seeOther(r.RequestCtx, "/ui/signin")
}

// seeOther sends the browser to path on this site. The Location is the
// path alone, not fasthttp's absolute URL made from the Host header:
// behind a proxy that rewrites Host that would name the proxy's upstream.
func seeOther(c *fasthttp.RequestCtx, path string) {
	c.Response.Header.Set("Location", path)
	c.SetStatusCode(fasthttp.StatusSeeOther)
}

// safeNext is where to go after signing in: a console page, never
// another site (//evil.example).
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") || strings.HasPrefix(next, "/ui/signin") {
		return "/ui/"
	}
	return next
}

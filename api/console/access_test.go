package console_test

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"leadhost/api"
	"leadhost/store"
)

// With an admin token set, a signed-out browser sees the sign-in page
// and nothing else: every page redirects to it, and nothing of a lead
// or the journal is in what it gets.
func TestSignedOutSeesOnlySignIn(t *testing.T) {
	t.Parallel()
	a := openApp(t)
	base := serve(t, &api.Server{App: a, APIToken: adminToken})
	id := addLead(t, base, "A1")
	entry := journalIDs(t, a.Store, store.KindHook)[0]
	b := newBrowser(t, base)
	for _, path := range []string{"/ui/", "/ui/journal", "/ui/journal/rows", "/ui/journal/" + itoa(entry), "/ui/journal/" + itoa(entry) + "/replay",
		"/ui/leads", "/ui/leads?offer=shop", "/ui/leads/" + itoa(id), "/ui/leads/" + itoa(id) + "?raw=1", "/ui/journal/" + itoa(entry) + "?raw=1"} {
		p := b.get(path)
		if p.code != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/ui/signin?next=") {
			t.Errorf("GET %s signed out: %d Location %q, want 303 to the sign-in page", path, p.code, p.header.Get("Location"))
		}
		for _, secret := range []string{phone, email, "A1", "shop"} {
			if strings.Contains(p.body, secret) {
				t.Errorf("GET %s signed out shows %q", path, secret)
			}
		}
	}
	signin := b.get("/ui/signin?next=/ui/leads")
	if signin.code != 200 || !strings.Contains(signin.body, `name="token"`) || strings.Contains(signin.body, "shop") {
		t.Errorf("the sign-in page: %d\n%s", signin.code, signin.body)
	}
	// A change signed out: refused, and the lead and journal stay.
	before := leadOf(t, a.Store, id)
	p := b.post("/ui/leads/"+itoa(id)+"/edit", url.Values{"status": {"5"}, "reason": {"2"}})
	if p.code != http.StatusUnauthorized {
		t.Errorf("edit signed out: %d, want 401", p.code)
	}
	p = b.post("/ui/journal/"+itoa(entry)+"/replay", url.Values{})
	if p.code != http.StatusUnauthorized {
		t.Errorf("replay signed out: %d, want 401", p.code)
	}
	if after := leadOf(t, a.Store, id); after.Rev != before.Rev || after.Status != before.Status {
		t.Errorf("a signed-out edit changed the lead: %+v", after)
	}
	if n := len(journalIDs(t, a.Store, store.KindHook)); n != 1 {
		t.Errorf("%d hook entries after a signed-out replay, want 1", n)
	}
}

// Signing in takes the admin token only, and sets an HttpOnly,
// SameSite=Strict cookie, Secure when the request came over TLS as a
// trusted proxy says; signing out ends the session on the server.
func TestSignInAndOut(t *testing.T) {
	t.Parallel()
	a := openApp(t)
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	base := serve(t, &api.Server{App: a, APIToken: adminToken, LocalToken: localToken, TrustedProxies: []*net.IPNet{loopback}})

	b := newBrowser(t, base)
	for _, wrong := range []string{"", "guess", localToken} {
		p := b.post("/ui/signin", url.Values{"token": {wrong}})
		if p.code != http.StatusUnauthorized || b.cookie["leadhost_session"] != "" {
			t.Errorf("sign-in with %q: %d, cookies %v; want 401 and no session", wrong, p.code, b.cookie)
		}
	}
	p := b.post("/ui/signin", url.Values{"token": {adminToken}, "next": {"/ui/leads"}})
	if p.code != http.StatusSeeOther || p.header.Get("Location") != "/ui/leads" {
		t.Fatalf("sign-in: %d Location %q", p.code, p.header.Get("Location"))
	}
	cookie := p.header.Get("Set-Cookie")
	for _, attr := range []string{"leadhost_session=", "HttpOnly", "SameSite=Strict", "path=/ui/"} {
		if !strings.Contains(strings.ToLower(cookie), strings.ToLower(attr)) {
			t.Errorf("session cookie %q lacks %s", cookie, attr)
		}
	}
	if strings.Contains(strings.ToLower(cookie), "secure") {
		t.Errorf("session cookie over plain HTTP is Secure (the browser would drop it): %q", cookie)
	}
	if p := b.get("/ui/leads"); p.code != 200 {
		t.Errorf("signed in, /ui/leads: %d", p.code)
	}
	// Another site's page cannot send anyone elsewhere after signing in.
	nb := newBrowser(t, base)
	if p := nb.post("/ui/signin", url.Values{"token": {adminToken}, "next": {"//evil.example/"}}); p.header.Get("Location") != "/ui/" {
		t.Errorf("sign-in with next=//evil.example: Location %q", p.header.Get("Location"))
	}

	for _, tc := range []struct {
		name   string
		header map[string]string
		secure bool
	}{
		{"a trusted proxy says https", map[string]string{"X-Forwarded-Proto": "https"}, true},
		{"a trusted proxy says Forwarded proto=https", map[string]string{"Forwarded": "for=203.0.113.9;proto=https"}, true},
		{"a trusted proxy says http", map[string]string{"X-Forwarded-Proto": "http"}, false},
	} {
		nb := newBrowser(t, base)
		p := nb.do("POST", "/ui/signin", url.Values{"token": {adminToken}}, tc.header)
		if got := strings.Contains(strings.ToLower(p.header.Get("Set-Cookie")), "secure"); got != tc.secure {
			t.Errorf("%s: cookie %q, Secure %v, want %v", tc.name, p.header.Get("Set-Cookie"), got, tc.secure)
		}
	}
	untrusted := serve(t, &api.Server{App: a, APIToken: adminToken})
	p = newBrowser(t, untrusted).do("POST", "/ui/signin", url.Values{"token": {adminToken}}, map[string]string{"X-Forwarded-Proto": "https"})
	if strings.Contains(strings.ToLower(p.header.Get("Set-Cookie")), "secure") {
		t.Errorf("an untrusted X-Forwarded-Proto made the cookie Secure: %q", p.header.Get("Set-Cookie"))
	}

	// Signing out: the old cookie no longer opens anything.
	old := b.cookie["leadhost_session"]
	if p := b.post("/ui/signout", url.Values{"csrf": {b.csrf("/ui/")}}); p.code != http.StatusSeeOther {
		t.Fatalf("sign-out: %d\n%s", p.code, p.body)
	}
	b.cookie["leadhost_session"] = old
	if p := b.get("/ui/leads"); p.code != http.StatusSeeOther {
		t.Errorf("the signed-out cookie still reads /ui/leads: %d", p.code)
	}
}

// A form posted without its CSRF token, with another session's, from
// another origin or marked cross-site by the browser changes nothing;
// the console's own form does.
func TestChangesNeedTheFormsTokenAndOrigin(t *testing.T) {
	t.Parallel()
	a := openApp(t)
	base := serve(t, &api.Server{App: a, APIToken: adminToken})
	id := addLead(t, base, "A1")
	entry := journalIDs(t, a.Store, store.KindHook)[0]
	b := newBrowser(t, base)
	b.signIn(adminToken)
	token := b.csrf("/ui/leads/" + itoa(id))
	other := newBrowser(t, base)
	other.signIn(adminToken)
	otherToken := other.csrf("/ui/")

	edit := func(csrf string) url.Values {
		return url.Values{"csrf": {csrf}, "status": {"5"}, "reason": {"2"}, "comment": {"by the test"}}
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		header map[string]string
	}{
		{"no token", url.Values{"status": {"5"}, "reason": {"2"}}, map[string]string{"Origin": base}},
		{"an empty token", edit(""), map[string]string{"Origin": base}},
		{"another session's token", edit(otherToken), map[string]string{"Origin": base}},
		{"another origin", edit(token), map[string]string{"Origin": "https://evil.example"}},
		{"Origin null", edit(token), map[string]string{"Origin": "null"}},
		{"cross-site fetch", edit(token), map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"same-site fetch", edit(token), map[string]string{"Sec-Fetch-Site": "same-site"}},
	} {
		before := leadOf(t, a.Store, id)
		p := b.do("POST", "/ui/leads/"+itoa(id)+"/edit", tc.form, tc.header)
		if p.code != http.StatusForbidden || !strings.Contains(p.body, "nothing was changed") {
			t.Errorf("%s: edit answered %d, want 403 saying nothing changed\n%s", tc.name, p.code, p.body)
		}
		if after := leadOf(t, a.Store, id); after.Rev != before.Rev {
			t.Errorf("%s: the lead changed: %+v", tc.name, after)
		}
		replay := url.Values{"csrf": tc.form["csrf"]}
		if p := b.do("POST", "/ui/journal/"+itoa(entry)+"/replay", replay, tc.header); p.code != http.StatusForbidden {
			t.Errorf("%s: replay answered %d, want 403", tc.name, p.code)
		}
		if n := len(journalIDs(t, a.Store, store.KindHook)); n != 1 {
			t.Errorf("%s: %d hook entries, want 1 (no replay)", tc.name, n)
		}
	}
	// The console's own form, from its own origin: done.
	p := b.post("/ui/leads/"+itoa(id)+"/edit", edit(token))
	l := leadOf(t, a.Store, id)
	if p.code != 200 || l.Status != store.StatusCancel || l.Reason != 2 || l.Comment != "by the test" {
		t.Errorf("the console's own edit: %d, lead %+v\n%s", p.code, l, p.body)
	}
}

// With no admin token, the pages are read by the clients the admin API
// serves reads to without one (direct loopback), by the API's own rule;
// changes need a session signed in with serve's local token.
func TestWithoutTokenTheAdminAPIsRule(t *testing.T) {
	t.Parallel()
	a := openApp(t)
	base := serve(t, &api.Server{App: a, LocalToken: localToken})
	id := addLead(t, base, "A1")
	b := newBrowser(t, base)
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   int
		why    string
	}{
		{"direct loopback", nil, 200, ""},
		{"through a proxy", map[string]string{"X-Forwarded-For": "203.0.113.9"}, 401, "through a proxy"},
		{"a rebound Host", map[string]string{"Host": "evil.example"}, 401, "loopback host"},
		{"another site's page", map[string]string{"Sec-Fetch-Site": "cross-site"}, 401, "another site"},
	} {
		p := b.do("GET", "/ui/leads/"+itoa(id), nil, tc.header)
		if p.code != tc.want || !strings.Contains(p.body, tc.why) {
			t.Errorf("%s: %d, want %d with %q\n%s", tc.name, p.code, tc.want, tc.why, p.body)
		}
		if tc.want != 200 && strings.Contains(p.body, "Ivan") {
			t.Errorf("%s: the refused page shows the lead", tc.name)
		}
	}
	// Reading, a loopback client sees no edit form until it signs in.
	if p := b.get("/ui/leads/" + itoa(id)); strings.Contains(p.body, `name="csrf"`) {
		t.Errorf("signed out, the lead page has a form that changes something")
	}
	p := b.post("/ui/leads/"+itoa(id)+"/edit", url.Values{"status": {"5"}, "reason": {"2"}})
	if p.code != http.StatusUnauthorized || leadOf(t, a.Store, id).Rev != 1 {
		t.Errorf("an edit without a session: %d, lead rev %d", p.code, leadOf(t, a.Store, id).Rev)
	}
	b.signIn(localToken)
	p = b.post("/ui/leads/"+itoa(id)+"/edit", url.Values{"csrf": {b.csrf("/ui/leads/" + itoa(id))}, "status": {"5"}, "reason": {"2"}})
	if l := leadOf(t, a.Store, id); p.code != 200 || l.Status != store.StatusCancel {
		t.Errorf("an edit signed in with the local token: %d, status %v\n%s", p.code, l.Status, p.body)
	}
}

// Behind a trusted proxy that passes requests on under its upstream's
// Host, a form's Origin is held to the host the browser asked for
// (X-Forwarded-Host); from anyone else that header is not believed.
func TestFormsBehindATrustedProxy(t *testing.T) {
	t.Parallel()
	a := openApp(t)
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	for _, tc := range []struct {
		name    string
		proxies []*net.IPNet
		want    int
	}{
		{"trusted proxy", []*net.IPNet{loopback}, 200},
		{"untrusted peer", nil, 403},
	} {
		base := serve(t, &api.Server{App: a, APIToken: adminToken, TrustedProxies: tc.proxies})
		id := addLead(t, base, "P-"+tc.name)
		b := newBrowser(t, base)
		b.signIn(adminToken)
		form := url.Values{"csrf": {b.csrf("/ui/leads/" + itoa(id))}, "comment": {"through " + tc.name}}
		p := b.do("POST", "/ui/leads/"+itoa(id)+"/edit", form, map[string]string{
			"Origin": "https://leads.example", "X-Forwarded-Host": "leads.example", "X-Forwarded-Proto": "https"})
		changed := leadOf(t, a.Store, id).Comment == "through "+tc.name
		if p.code != tc.want || changed != (tc.want == 200) {
			t.Errorf("%s: %d, lead changed %v; want %d", tc.name, p.code, changed, tc.want)
		}
	}
}

// htmx polling a page whose session ended is told to send the whole page
// to the sign-in, not given the sign-in page to put into a table.
func TestPollingSignedOut(t *testing.T) {
	t.Parallel()
	base := serve(t, &api.Server{App: openApp(t), APIToken: adminToken})
	p := newBrowser(t, base).do("GET", "/ui/journal/rows", nil, map[string]string{"HX-Request": "true"})
	if p.code != http.StatusUnauthorized || p.header.Get("HX-Redirect") != "/ui/signin" || p.body != "" {
		t.Errorf("signed-out polling: %d HX-Redirect %q body %q", p.code, p.header.Get("HX-Redirect"), p.body)
	}
}

// The console's redirects name a path, not an address made from the
// Host header: behind a proxy that rewrites Host, that address would be
// the proxy's upstream, which the browser cannot reach.
func TestRedirectsArePaths(t *testing.T) {
	t.Parallel()
	base := serve(t, &api.Server{App: openApp(t), APIToken: adminToken})
	b := newBrowser(t, base)
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/ui/leads", "/ui/signin?next=%2Fui%2Fleads"},
		{"GET", "/ui", "/ui/"},
		{"GET", "/ui/lang?to=ru&back=/ui/journal", "/ui/journal"},
		{"POST", "/ui/signin", "/ui/"},
	} {
		var form url.Values
		if tc.method == "POST" {
			form = url.Values{"token": {adminToken}}
		}
		p := b.do(tc.method, tc.path, form, map[string]string{"Host": "127.0.0.1:8080"})
		if p.code != http.StatusSeeOther || p.header.Get("Location") != tc.want {
			t.Errorf("%s %s: %d Location %q, want 303 to %q", tc.method, tc.path, p.code, p.header.Get("Location"), tc.want)
		}
	}
}

// Guessing the token is slowed per caller: after five wrong tokens, the
// caller's next tries — the right token too — are refused unread with
// 429 and when to come back; another caller (here another client behind
// the trusted proxy) signs in as before, and a caller who got it right
// is not held to their typos.
func TestSignInGuessesAreSlowedPerCaller(t *testing.T) {
	t.Parallel()
	a := openApp(t)
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	base := serve(t, &api.Server{App: a, APIToken: adminToken, TrustedProxies: []*net.IPNet{loopback}})
	from := func(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }
	signIn := func(b *browser, ip, token string) page {
		return b.do("POST", "/ui/signin", url.Values{"token": {token}}, from(ip))
	}
	guesser := newBrowser(t, base)
	for i := range 5 {
		if p := signIn(guesser, "203.0.113.7", "guess"+itoa(uint64(i))); p.code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d", i+1, p.code)
		}
	}
	p := signIn(guesser, "203.0.113.7", adminToken)
	if p.code != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" || !strings.Contains(p.body, "5 wrong tokens from your address within 10 minutes") {
		t.Errorf("the sixth try: %d, Retry-After %q\n%s", p.code, p.header.Get("Retry-After"), p.body)
	}
	if guesser.cookie["leadhost_session"] != "" {
		t.Errorf("the right token was read while the caller was held back: a session was opened")
	}
	// The same /64 is the same caller.
	v6 := newBrowser(t, base)
	for i := range 5 {
		signIn(v6, "2001:db8:1:2::"+itoa(uint64(i+1)), "guess")
	}
	if p := signIn(v6, "2001:db8:1:2::99", adminToken); p.code != http.StatusTooManyRequests {
		t.Errorf("another address of the guessing /64: %d, want 429", p.code)
	}
	other := newBrowser(t, base)
	for range 4 {
		signIn(other, "198.51.100.1", "typo")
	}
	if p := signIn(other, "198.51.100.1", adminToken); p.code != http.StatusSeeOther {
		t.Errorf("another caller, after four typos: %d, want signed in", p.code)
	}
	if p := signIn(newBrowser(t, base), "198.51.100.1", "typo"); p.code != http.StatusUnauthorized {
		t.Errorf("after signing in, one more typo: %d, want 401 (the count started again)", p.code)
	}
}

// A session opened on one node opens every node that shares the admin
// token (a cluster behind a load balancer without sticky sessions, or a
// restarted serve); not a node with another token, nor a cookie
// changed by hand. Signing out ends it on the node that took it.
func TestSessionsOpenEveryNodeWithTheToken(t *testing.T) {
	t.Parallel()
	a := openApp(t)
	node1 := serve(t, &api.Server{App: a, APIToken: adminToken})
	node2 := serve(t, &api.Server{App: a, APIToken: adminToken})
	rotated := serve(t, &api.Server{App: a, APIToken: adminToken + "-rotated"})
	id := addLead(t, node1, "S1")

	b := newBrowser(t, node1)
	b.signIn(adminToken)
	cookie := b.cookie["leadhost_session"]
	on := func(base, value string) *browser {
		nb := newBrowser(t, base)
		nb.cookie["leadhost_session"] = value
		return nb
	}
	b2 := on(node2, cookie)
	if p := b2.get("/ui/leads"); p.code != http.StatusOK {
		t.Fatalf("node 2 with node 1's session: /ui/leads %d, want 200", p.code)
	}
	if t1, t2 := b.csrf("/ui/leads/"+itoa(id)), b2.csrf("/ui/leads/"+itoa(id)); t1 != t2 {
		t.Errorf("the session's form token differs between nodes: %q and %q", t1, t2)
	}
	edit := url.Values{"csrf": {b.csrf("/ui/leads/" + itoa(id))}, "status": {"5"}, "reason": {"2"}, "comment": {"from node 2"}}
	if p := b2.post("/ui/leads/"+itoa(id)+"/edit", edit); p.code != http.StatusOK || leadOf(t, a.Store, id).Comment != "from node 2" {
		t.Errorf("a form of node 1 posted to node 2: %d, lead %+v\n%s", p.code, leadOf(t, a.Store, id), p.body)
	}

	forged := []byte(cookie)
	forged[3] ^= 1
	for _, tc := range []struct {
		name, base, cookie string
	}{
		{"a node with another token", rotated, cookie},
		{"a cookie changed by hand", node1, string(forged)},
		{"a cookie cut short", node1, cookie[:40]},
		{"not a cookie of ours", node1, "c2Vzc2lvbg"},
	} {
		if p := on(tc.base, tc.cookie).get("/ui/leads"); p.code != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/ui/signin") {
			t.Errorf("%s: /ui/leads %d Location %q, want the sign-in page", tc.name, p.code, p.header.Get("Location"))
		}
	}

	if p := b.post("/ui/signout", url.Values{"csrf": {b.csrf("/ui/")}}); p.code != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", p.code)
	}
	if p := on(node1, cookie).get("/ui/leads"); p.code != http.StatusSeeOther {
		t.Errorf("the signed-out cookie still opens node 1: %d", p.code)
	}
}

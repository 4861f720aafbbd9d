package console

import (
	"crypto/hmac"
	"encoding/base64"
	"fmt"
	"leadhost/store"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// A session lasts sessionTTL from its sign-in, whichever node reads it.
func TestSessionExpires(t *testing.T) {
	var s sessions
	signedIn := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	cookie := s.start("the-token", signedIn)
	for _, tc := range []struct {
		after time.Duration
		open  bool
	}{
		{0, true},
		{sessionTTL - time.Second, true},
		{sessionTTL, false},
		{sessionTTL + time.Hour, false},
	} {
		var c fasthttp.RequestCtx
		c.Request.Header.SetCookie(sessionCookie, cookie)
		var other sessions // another node
		if got := other.get(&c, "the-token", signedIn.Add(tc.after)) != nil; got != tc.open {
			t.Errorf("%v after sign-in: open %v, want %v", tc.after, got, tc.open)
		}
	}
}

// A signed-out cookie stays signed out however its base64 is spelled: the
// cookie is 56 bytes, 75 characters whose last carries two unused bits, and
// the lenient decoder takes any value for them. Sign-out remembered the
// spelling (a hash of the characters), so the same cookie with another last
// character opened the session again on the node that took the sign-out.
func TestSignedOutCookieStaysOutInAnotherSpelling(t *testing.T) {
	var s sessions
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	cookie := s.start("the-token", now)
	var out fasthttp.RequestCtx
	out.Request.Header.SetCookie(sessionCookie, cookie)
	s.end(s.get(&out, "the-token", now), now)

	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, cookie[len(cookie)-1])
	respelled := cookie[:len(cookie)-1] + string(alphabet[last^1])
	var c fasthttp.RequestCtx
	c.Request.Header.SetCookie(sessionCookie, respelled)
	if s.get(&c, "the-token", now.Add(time.Minute)) != nil {
		t.Errorf("the signed-out cookie %q, respelled %q, opens the session again", cookie, respelled)
	}
}

// A sign-out holds on every node sharing the store and across a restart,
// until the cookie would have expired; while the store cannot take or
// tell one, the node that took it still refuses the cookie and the
// others take it (the console stays usable with the database away).
func TestSignOutReachesEveryNodeOnTheStore(t *testing.T) {
	shared, err := store.Open(store.Options{Dir: t.TempDir(), GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	node := func() *sessions { return &sessions{shared: shared, log: slog.New(slog.DiscardHandler)} }
	now := time.Now()
	a, b := node(), node()
	cookie := a.start("the-token", now)
	var c fasthttp.RequestCtx
	c.Request.Header.SetCookie(sessionCookie, cookie)
	sess := b.get(&c, "the-token", now)
	if sess == nil {
		t.Fatal("a fresh cookie does not open a session on another node")
	}
	b.end(sess, now)
	for name, s := range map[string]*sessions{"the node that took the sign-out": b, "another node": a, "a restarted node": node()} {
		if s.get(&c, "the-token", now.Add(time.Minute)) != nil {
			t.Errorf("%s takes the signed-out cookie", name)
		}
	}

	// The store away: sign-out kept on this node only.
	other := a.start("the-token", now)
	var d fasthttp.RequestCtx
	d.Request.Header.SetCookie(sessionCookie, other)
	sess = a.get(&d, "the-token", now)
	shared.Close()
	a.end(sess, now)
	if a.get(&d, "the-token", now) != nil {
		t.Error("with the store closed, the node that took the sign-out takes the cookie")
	}
	if node().get(&d, "the-token", now) == nil {
		t.Error("with the store closed, another node refuses a cookie it cannot check: the console is locked while the database is away")
	}
}

// A session cookie does not make the admin token cheap to guess offline.
// The cookie is its body and an HMAC keyed by a function of the token, so
// whoever holds one cookie (a proxy's log, a shared browser profile, a
// backup) can try token after token against it, unseen by the sign-in's
// guess limit; what they win is the token itself — the admin API, every
// node, past the session's 12 h. With the key a single SHA-256 of the
// token, a core tried millions a second; a deliberately slow derivation,
// made once per token by the serve, makes each try cost milliseconds.
func TestCookieDoesNotCheckTokenGuessesCheaply(t *testing.T) {
	var s sessions
	cookie := s.start("the-token", time.Now())
	raw, _ := base64.RawURLEncoding.DecodeString(cookie)
	body, mac := raw[:24], raw[24:]
	const guesses = 20
	began := time.Now()
	for i := range guesses {
		if hmac.Equal(mac, sessionMAC(sessionKey(fmt.Sprintf("guess-%d", i)), body)) {
			t.Fatal("a wrong guess matched")
		}
	}
	if per := time.Since(began) / guesses; per < 5*time.Millisecond {
		t.Errorf("checking a token guess against a cookie offline takes %v, want a slow key derivation (>= 5ms)", per)
	}
}

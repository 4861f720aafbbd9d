package console

import (
	"crypto/hmac"
	"encoding/base64"
	"fmt"
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
	s.end(&out, now)

	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, cookie[len(cookie)-1])
	respelled := cookie[:len(cookie)-1] + string(alphabet[last^1])
	var c fasthttp.RequestCtx
	c.Request.Header.SetCookie(sessionCookie, respelled)
	if s.get(&c, "the-token", now.Add(time.Minute)) != nil {
		t.Errorf("the signed-out cookie %q, respelled %q, opens the session again", cookie, respelled)
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

package console

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

const (
	sessionCookie = "leadhost_session"
	sessionTTL    = 12 * time.Hour
	// maxSignedOut bounds the sign-outs a node remembers; past it the
	// oldest is forgotten (its cookie was deleted in its browser anyway).
	maxSignedOut = 10000
)

// session is one signed-in browser.
type session struct {
	csrf    string
	expires time.Time
}

// sessions are the console's sessions. A session is its cookie: an expiry
// and a random nonce signed with a key made from the sign-in token, so
// that every node of a cluster that shares the token (and a restarted
// serve) reads it without a shared table, and a new token ends every
// session. The form token (CSRF) is derived from the cookie the same way.
// What a node keeps is the sign-outs it took, until their cookies expire:
// signing out on one node does not reach the others (the browser's cookie
// is deleted; a copy taken before opens other nodes until it expires).
type sessions struct {
	mu        sync.Mutex
	signedOut map[[32]byte]time.Time // the hash of the cookie's bytes → its expiry
	keyToken  string                 // the token keyBytes was made from
	keyBytes  []byte
}

// sessionKey is the signing key for sessions opened with token: a slow
// derivation (tens of milliseconds), since a cookie lets whoever holds one
// check token guesses against it offline. A node makes it once per token
// (sessions.key).
func sessionKey(token string) []byte {
	k, err := pbkdf2.Key(sha256.New, token, []byte("leadhost console session"), 200_000, sha256.Size)
	if err != nil {
		panic(err) // only for a key length FIPS mode refuses: ours is 32
	}
	return k
}

// key is sessionKey(token), made once for the token last asked.
func (s *sessions) key(token string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keyToken != token || s.keyBytes == nil {
		s.keyToken, s.keyBytes = token, sessionKey(token)
	}
	return s.keyBytes
}

// sessionMAC signs a cookie's expiry and nonce (its first 24 bytes).
func sessionMAC(key, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("cookie\x00"))
	m.Write(body)
	return m.Sum(nil)
}

// csrfOf is the form token of the session whose cookie body is body.
func csrfOf(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("csrf\x00"))
	m.Write(body)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:24])
}

// get is the request's session, nil when its cookie is missing, forged,
// signed with another token, expired or signed out here.
func (s *sessions) get(c *fasthttp.RequestCtx, token string, now time.Time) *session {
	id := c.Request.Header.Cookie(sessionCookie)
	if len(id) == 0 || token == "" {
		return nil
	}
	raw := make([]byte, base64.RawURLEncoding.DecodedLen(len(id)))
	n, err := base64.RawURLEncoding.Strict().Decode(raw, id)
	if err != nil || n != 24+sha256.Size {
		return nil
	}
	body, mac := raw[:24], raw[24:n]
	key := s.key(token)
	if !hmac.Equal(mac, sessionMAC(key, body)) {
		return nil
	}
	expires := time.Unix(int64(binary.BigEndian.Uint64(body[:8])), 0)
	if !now.Before(expires) {
		return nil
	}
	s.mu.Lock()
	_, out := s.signedOut[sha256.Sum256(raw[:n])]
	s.mu.Unlock()
	if out {
		return nil
	}
	return &session{csrf: csrfOf(key, body), expires: expires}
}

// start opens a session for whoever signed in with token and returns its
// cookie value.
func (s *sessions) start(token string, now time.Time) string {
	body := make([]byte, 24, 24+sha256.Size)
	binary.BigEndian.PutUint64(body[:8], uint64(now.Add(sessionTTL).Unix()))
	_, _ = rand.Read(body[8:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(append(body, sessionMAC(s.key(token), body)...))
}

// end signs the request's session out on this node.
func (s *sessions) end(c *fasthttp.RequestCtx, now time.Time) {
	id := c.Request.Header.Cookie(sessionCookie)
	raw := make([]byte, base64.RawURLEncoding.DecodedLen(len(id)))
	n, err := base64.RawURLEncoding.Strict().Decode(raw, id)
	if len(id) == 0 || err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.signedOut == nil {
		s.signedOut = map[[32]byte]time.Time{}
	}
	for k, expires := range s.signedOut {
		if !now.Before(expires) {
			delete(s.signedOut, k)
		}
	}
	if len(s.signedOut) >= maxSignedOut {
		var oldest [32]byte
		var first time.Time
		for k, expires := range s.signedOut {
			if first.IsZero() || expires.Before(first) {
				oldest, first = k, expires
			}
		}
		delete(s.signedOut, oldest)
	}
	s.signedOut[sha256.Sum256(raw[:n])] = now.Add(sessionTTL) // the bytes, not their spelling
}

package console

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"log/slog"
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
	// storeWait bounds how long a page waits for the store to say
	// whether its session was signed out, or to take a sign-out.
	storeWait = 2 * time.Second
)

// session is one signed-in browser.
type session struct {
	id      [32]byte // the hash of its cookie's bytes: what a sign-out keeps
	csrf    string
	expires time.Time
}

// signOuts is where sign-outs are kept for every node on the store and
// for a restarted serve (store.Store).
type signOuts interface {
	SignOut(ctx context.Context, id [32]byte, until time.Time) error
	SignedOut(ctx context.Context, id [32]byte) (bool, error)
}

// sessions are the console's sessions. A session is its cookie: an expiry
// and a random nonce signed with a key made from the sign-in token, so
// that every node of a cluster that shares the token (and a restarted
// serve) reads it without a shared table, and a new token ends every
// session. The form token (CSRF) is derived from the cookie the same way.
// A sign-out is kept in the store (shared), so that it holds on every
// node and across restarts, and in the node's memory, so that it holds
// here even when the store cannot take it (a database away, a full
// disk).
type sessions struct {
	shared    signOuts
	log       *slog.Logger
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
// signed with another token, expired or signed out. When the store
// cannot say whether it was signed out, the session stands (as signed
// out on this node or not): an operator keeps the console while the
// database is away, which is when it is needed; the cookie is still
// checked and still expires.
func (s *sessions) get(c *fasthttp.RequestCtx, token string, now time.Time) *session {
	cookie := c.Request.Header.Cookie(sessionCookie)
	if len(cookie) == 0 || token == "" {
		return nil
	}
	raw := make([]byte, base64.RawURLEncoding.DecodedLen(len(cookie)))
	n, err := base64.RawURLEncoding.Strict().Decode(raw, cookie)
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
	id := sha256.Sum256(raw[:n]) // the bytes, not their spelling
	s.mu.Lock()
	_, out := s.signedOut[id]
	s.mu.Unlock()
	if out {
		return nil
	}
	if s.shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), storeWait)
		out, err := s.shared.SignedOut(ctx, id)
		cancel()
		if err != nil {
			s.log.Warn("console: cannot tell whether a session was signed out; taking its cookie", "err", err)
		}
		if out {
			return nil
		}
	}
	return &session{id: id, csrf: csrfOf(key, body), expires: expires}
}

// start opens a session for whoever signed in with token and returns its
// cookie value.
func (s *sessions) start(token string, now time.Time) string {
	body := make([]byte, 24, 24+sha256.Size)
	binary.BigEndian.PutUint64(body[:8], uint64(now.Add(sessionTTL).Unix()))
	_, _ = rand.Read(body[8:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(append(body, sessionMAC(s.key(token), body)...))
}

// end signs session out, on every node when the store takes it.
func (s *sessions) end(sess *session, now time.Time) {
	if s.shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), storeWait)
		err := s.shared.SignOut(ctx, sess.id, sess.expires)
		cancel()
		if err != nil {
			s.log.Error("console: a sign-out is kept on this node only", "err", err)
		}
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
	s.signedOut[sess.id] = sess.expires
}

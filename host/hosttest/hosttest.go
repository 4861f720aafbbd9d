// Package hosttest holds what leadhost's tests share: a fake partner on
// 127.0.0.1 that records every request it gets, and Eventually for what
// the host does in the background (sends, postbacks, the journal).
package hosttest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Request is one request a Partner received.
type Request struct {
	Method, Path, RawQuery, ContentType string
	Query                               url.Values
	// Form is the body read as a form (empty when it is not one).
	Form    url.Values
	Headers http.Header
	Body    string
}

// Partner is a fake partner API (a CRM, a network, a tracker) on
// 127.0.0.1:0, stopped when the test ends.
type Partner struct {
	URL string
	mu  sync.Mutex
	got []Request
}

// StartPartner starts a partner that records each request and answers it
// with reply; n counts the requests from 1.
func StartPartner(t testing.TB, reply func(w http.ResponseWriter, n int, r Request)) *Partner {
	t.Helper()
	p := &Partner{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		req := Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, ContentType: r.Header.Get("Content-Type"),
			Query: r.URL.Query(), Form: form, Headers: r.Header.Clone(), Body: string(body)}
		p.mu.Lock()
		p.got = append(p.got, req)
		n := len(p.got)
		p.mu.Unlock()
		reply(w, n, req)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Answer is a reply that answers every request with status and body.
func Answer(status int, body string) func(http.ResponseWriter, int, Request) {
	return func(w http.ResponseWriter, _ int, _ Request) {
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// Requests are the requests received so far, oldest first.
func (p *Partner) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.got...)
}

// Eventually polls cond every 5 ms for up to 10 s (a loaded machine under
// the race detector is slow), and fails the test
// naming what it waited for.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	EventuallyWithin(t, 10*time.Second, what, cond)
}

// EventuallyWithin is Eventually for what takes long by its nature (a
// thousand sends held one by one under the race detector): it waits up to
// limit.
func EventuallyWithin(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

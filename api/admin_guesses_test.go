package api

import (
	"log/slog"
	"net"
	"strings"
	"testing"
)

// Five wrong bearer tokens from one caller within ten minutes hold its
// next requests back, their token unread (the right one too), with 429
// and Retry-After, on the admin API and /metrics alike; other callers
// and requests without a token are not affected.
func TestAdminTokenGuessesAreSlowedPerCaller(t *testing.T) {
	t.Parallel()
	a := openApp(t, "testdata/scripts")
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	base := serve(t, &Server{App: a, Log: slog.New(slog.DiscardHandler), APIToken: "tok", Metrics: NewMetrics(a), TrustedProxies: []*net.IPNet{loopback}})
	as := func(ip, token string) map[string]string {
		h := map[string]string{"X-Forwarded-For": ip}
		if token != "" {
			h["Authorization"] = "Bearer " + token
		}
		return h
	}
	for i := range 5 {
		if code, _, body := call(t, "GET", base+"/api/offers", "", nil, as("203.0.113.7", "guess")); code != 401 {
			t.Fatalf("wrong token %d: %d %s", i+1, code, body)
		}
	}
	for _, path := range []string{"/api/offers", "/metrics"} {
		code, h, body := call(t, "GET", base+path, "", nil, as("203.0.113.7", "tok"))
		if code != 429 || h.Get("Retry-After") == "" || !strings.Contains(string(body), "5 wrong tokens from your address within 10 minutes") {
			t.Errorf("%s with the right token after five wrong ones: %d, Retry-After %q\n%s", path, code, h.Get("Retry-After"), body)
		}
	}
	if code, _, body := call(t, "GET", base+"/api/offers", "", nil, as("203.0.113.7", "")); code != 401 || strings.Contains(string(body), "wrong tokens") {
		t.Errorf("the guesser without a token: %d %s, want the usual 401", code, body)
	}
	for range 4 {
		call(t, "GET", base+"/api/offers", "", nil, as("198.51.100.1", "typo"))
	}
	if code, _, body := call(t, "GET", base+"/api/offers", "", nil, as("198.51.100.1", "tok")); code != 200 {
		t.Errorf("another caller after four wrong tokens: %d %s, want 200", code, body)
	}
	if code, _, _ := call(t, "GET", base+"/api/offers", "", nil, as("198.51.100.1", "typo")); code != 401 {
		t.Errorf("after a right token, one more wrong one: %d, want 401 (the count started again)", code)
	}
}

// With no api_token set, a loopback read is served without a token: a
// wrong one shown with it is no guess, and never holds the reads back.
// A change with a wrong token is refused and counts.
func TestTokenOnAReadThatNeedsNoneIsNoGuess(t *testing.T) {
	t.Parallel()
	a := openApp(t, "testdata/scripts")
	base := serve(t, &Server{App: a, Log: slog.New(slog.DiscardHandler), LocalToken: "local"})
	wrong := map[string]string{"Authorization": "Bearer stale"}
	for i := range 8 {
		if code, _, body := call(t, "GET", base+"/api/offers", "", nil, wrong); code != 200 {
			t.Fatalf("loopback read %d with a stale token: %d %s, want 200", i+1, code, body)
		}
	}
	for range 5 {
		call(t, "POST", base+"/api/offers/shop/check", "", nil, wrong)
	}
	if code, _, _ := call(t, "POST", base+"/api/offers/shop/check", "", nil, map[string]string{"Authorization": "Bearer local"}); code != 429 {
		t.Errorf("a change after five refused for their wrong token: %d, want 429", code)
	}
}

// With no api_token set, a loopback read needs no token, so a caller held
// back for its wrong tokens on changes still has its reads served: the
// README says a loopback read that needs no token is not affected, and
// serving it says nothing about the token. guard answered 429 to any
// request showing a token once its caller was held, before asking whether
// the request needed one: a CLI with a stale token (or anything else on
// the machine: every local caller is 127.0.0.1) lost its reads too.
func TestHeldCallersReadThatNeedsNoTokenIsServed(t *testing.T) {
	t.Parallel()
	a := openApp(t, "testdata/scripts")
	base := serve(t, &Server{App: a, Log: slog.New(slog.DiscardHandler), LocalToken: "local"})
	wrong := map[string]string{"Authorization": "Bearer stale"}
	for range 5 {
		call(t, "POST", base+"/api/offers/shop/check", "", nil, wrong)
	}
	if code, _, body := call(t, "GET", base+"/api/offers", "", nil, wrong); code != 200 {
		t.Errorf("a loopback read, which needs no token, after five changes refused for a wrong one: %d %s, want 200", code, body)
	}
}

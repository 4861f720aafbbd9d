package script

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// http.request from a hook: query, headers and a form or JSON body go
// out; status, headers, body and decoded JSON come back; a failure is
// nil, why; check handlers may not make requests.
func TestHTTPRequest(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/slow":
			time.Sleep(500 * time.Millisecond)
		case "/echo":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Seen", r.Header.Get("X-Key"))
			io.WriteString(w, `{"method":"`+r.Method+`","query":"`+r.URL.RawQuery+`","type":"`+r.Header.Get("Content-Type")+`","body":`+quote(string(body))+`}`)
		}
	}))
	defer srv.Close()
	st := openStore(t)
	pool := NewPool(Limits{Timeout: 2 * time.Second, Fence: allowLoopback(t)})
	hook := func(src string) HookResult {
		t.Helper()
		s, err := Compile("hooks/h.lua", []byte(strings.ReplaceAll(src, "BASE", srv.URL)))
		if err != nil {
			t.Fatal(err)
		}
		res, err := pool.RunHook(context.Background(), s, Hook{Store: st, Offer: "acme", Request: HookRequest{Method: "GET"}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := hook(`
		local r, why = http.request{ url = "BASE/echo?a=1", query = { b = "x y" }, headers = { ["X-Key"] = "k" }, form = { phone = "7999" } }
		assert(r, why)
		return { status = r.status, seen = r.headers["x-seen"], method = r.json.method, query = r.json.query, type = r.json.type, body = r.json.body }`)
	if got := string(res.Reply.Body); got != `{"body":"phone=7999","method":"POST","query":"a=1\u0026b=x+y","seen":"k","status":200,"type":"application/x-www-form-urlencoded"}` {
		t.Errorf("form request: %s", got)
	}
	res = hook(`
		local r = http.request{ method = "PUT", url = "BASE/echo", json = { ids = { 1, 2 } } }
		return r.json.method .. " " .. r.json.type .. " " .. r.json.body`)
	if got := string(res.Reply.Body); got != `PUT application/json {"ids":[1,2]}` {
		t.Errorf("json request: %s", got)
	}
	res = hook(`
		local r, why = http.request{ url = "BASE/slow", timeout = 0.1 }
		local r2, why2 = http.request{ url = "http://127.0.0.1:1/" }
		return tostring(r) .. " | " .. why .. " | " .. tostring(r2) .. " | " .. why2`)
	if got := string(res.Reply.Body); !strings.Contains(got, "nil | GET "+srv.URL+"/slow: no answer in time | nil | GET http://127.0.0.1:1/: ") {
		t.Errorf("failures: %s", got)
	}

	s, _ := Compile("check.lua", []byte(`http.request{ url = "`+srv.URL+`/echo" }`))
	_, err := pool.RunCheck(context.Background(), s, Check{Store: st, Offer: "acme"})
	if err == nil || !strings.Contains(err.Error(), "only hooks and send.lua make requests") {
		t.Errorf("a check handler made a request: %v", err)
	}
}

// allowLoopback is the fence of tests whose partners listen on
// 127.0.0.1: the operator's script_http_allow = ["127.0.0.0/8"].
func allowLoopback(t testing.TB) *Fence {
	t.Helper()
	f, err := NewFence([]string{"127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// Issue 12, point 10: with every connection to a host busy, http.request
// waits for one until its deadline instead of failing at once, and an
// offer's http_conns bounds the connections. One connection, a partner
// answering in 250 ms, eight runs at once: all eight get their answer,
// and the partner never sees two requests at a time.
func TestHTTPRequestWaitsForAConnection(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	inFlight, most := 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(250 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	st := openStore(t)
	pool := NewPool(Limits{Timeout: 5 * time.Second, HTTPConns: 1, Fence: allowLoopback(t)})
	s, err := Compile("hooks/h.lua", []byte(`
		local r, why = http.request{ url = "`+srv.URL+`/", timeout = 4 }
		return r and r.body or why`))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	replies := make([]string, 8)
	for i := range replies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := pool.RunHook(context.Background(), s, Hook{Store: st, Offer: "acme", Request: HookRequest{Method: "GET"}})
			if err != nil {
				replies[i] = err.Error()
				return
			}
			replies[i] = string(res.Reply.Body)
		}()
	}
	wg.Wait()
	for i, r := range replies {
		if r != "ok" {
			t.Errorf("run %d: %s", i, r)
		}
	}
	if most != 1 {
		t.Errorf("the partner saw %d requests at a time; http_conns = 1", most)
	}
}

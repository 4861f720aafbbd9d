package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"leadhost/host"
	"leadhost/store"
)

// startServer serves the offers in testdata/scripts on 127.0.0.1:0.
func startServer(t *testing.T) (base string, st *store.Store) {
	t.Helper()
	reg := host.NewRegistry("testdata/scripts")
	if _, err := reg.Reload(); err != nil || len(reg.Errors()) > 0 {
		t.Fatalf("load: %v %v", err, reg.Errors())
	}
	st, err := store.Open(store.Options{InMemory: true, Policies: reg})
	if err != nil {
		t.Fatal(err)
	}
	srv := (&Server{Offers: reg, Store: st, Log: slog.New(slog.DiscardHandler), MaxBody: 64 << 10}).HTTP()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		Shutdown(srv)
		st.Close()
	})
	return "http://" + ln.Addr().String(), st
}

func call(t *testing.T, method, url, contentType string, body io.Reader, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func countLeads(t *testing.T, st *store.Store) int {
	page, err := st.List(context.Background(), store.Query{Offer: "shop", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Leads)
}

func TestHooks(t *testing.T) {
	t.Parallel()
	base, st := startServer(t)
	order := `{"order":"A1","phone":"79990001122"}`

	// JSON, token in the query; the same order twice is one lead.
	for i, wantCreated := range []bool{true, false} {
		code, h, body := call(t, "POST", base+"/hook/shop?token=s3cret", "application/json", strings.NewReader(order), nil)
		var got struct {
			Lead    int  `json:"lead"`
			Created bool `json:"created"`
		}
		if code != 200 || h.Get("Content-Type") != "application/json" || json.Unmarshal(body, &got) != nil || got.Lead != 1 || got.Created != wantCreated {
			t.Fatalf("call %d: %d %s %s", i, code, h.Get("Content-Type"), body)
		}
	}
	// A form to a named hook, token in X-Token; the script's status and header.
	code, h, body := call(t, "POST", base+"/hook/shop/form", "application/x-www-form-urlencoded",
		strings.NewReader("order=B2&phone=7000"), map[string]string{"X-Token": "s3cret"})
	if code != 201 || string(body) != "lead 2" || h.Get("X-Lead") != "2" {
		t.Fatalf("form hook: %d %q %v", code, body, h)
	}
	if n := countLeads(t, st); n != 2 {
		t.Fatalf("%d leads", n)
	}
	if code, _, body := call(t, "GET", base+"/healthz", "", nil, nil); code != 200 || string(body) != `{"ok":true}` {
		t.Errorf("healthz: %d %s", code, body)
	}
}

// Every refusal is a JSON error with a fitting code, and makes no lead.
func TestHookRefusals(t *testing.T) {
	t.Parallel()
	base, st := startServer(t)
	big := bytes.Repeat([]byte("x"), 65<<10)
	for _, tc := range []struct {
		name, method, path, contentType string
		body                            []byte
		header                          map[string]string
		code                            int
		want                            string
	}{
		{"no token", "POST", "/hook/shop", "application/json", []byte(`{"order":"X"}`), nil, 401, "wrong or missing token"},
		{"wrong token", "POST", "/hook/shop?token=guess", "application/json", []byte(`{"order":"X"}`), nil, 401, "wrong or missing token"},
		{"wrong header token", "POST", "/hook/shop", "application/json", []byte(`{"order":"X"}`), map[string]string{"X-Token": "s3cre"}, 401, "wrong or missing token"},
		{"unknown offer", "POST", "/hook/nope?token=s3cret", "", nil, nil, 404, `no offer \"nope\"`},
		{"unknown hook", "POST", "/hook/shop/nope?token=s3cret", "", nil, nil, 404, `has no hook \"nope\"`},
		{"nested hook name", "POST", "/hook/shop/a/b?token=s3cret", "", nil, nil, 404, "has no hook"},
		{"unknown route", "GET", "/nothing", "", nil, nil, 404, "no such route"},
		{"method", "PUT", "/hook/shop?token=s3cret", "", nil, nil, 405, "GET or POST"},
		{"malformed JSON", "POST", "/hook/shop?token=s3cret", "application/json", []byte(`{"order":`), nil, 400, "malformed JSON body"},
		{"malformed form", "POST", "/hook/shop/form?token=s3cret", "application/x-www-form-urlencoded", []byte("order=%zz"), nil, 400, "malformed form body"},
		{"body over the limit", "POST", "/hook/shop?token=s3cret", "application/json", big, nil, 413, "over the limit"},
		{"script error", "POST", "/hook/shop/boom?token=s3cret", "", nil, nil, 500, "boom.lua:3:"},
		{"script refuses", "POST", "/hook/shop?token=s3cret", "application/json", []byte(`{}`), nil, 422, "order is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, h, body := call(t, tc.method, base+tc.path, tc.contentType, bytes.NewReader(tc.body), tc.header)
			var e struct {
				Error string `json:"error"`
			}
			if code != tc.code || h.Get("Content-Type") != "application/json" || json.Unmarshal(body, &e) != nil || !strings.Contains(string(body), tc.want) {
				t.Errorf("%d %s %q, want %d with %q", code, h.Get("Content-Type"), body, tc.code, tc.want)
			}
		})
	}
	if n := countLeads(t, st); n != 0 {
		t.Errorf("refused calls made %d leads", n)
	}
}

package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"testing"

	"github.com/valyala/fasthttp"
)

// FuzzHookRequest sends whatever HTTP request fasthttp reads from the
// input to a hook that reads every part of req: the webhook request
// reader never hands a script something it fails on, nor answers 5xx
// for what a caller sent, and every answer is JSON.
func FuzzHookRequest(f *testing.F) {
	for _, seed := range []string{
		"GET /hook/echo?token=fuzz&a=1&a=2 HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /hook/echo?token=fuzz HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"a\":[1,{\"b\":2}]}",
		"POST /hook/echo HTTP/1.1\r\nHost: x\r\nX-Token: fuzz\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\n\r\na=1&b=%D0%98",
		"POST /hook/echo?token=fuzz HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n[[[[[[]]]]]]",
		"POST /hook/echo?token=fuzz HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain; charset=\"\r\nContent-Length: 3\r\n\r\n{\"\"",
	} {
		f.Add([]byte(seed))
	}
	// The offer is not under testdata/fuzz, where Go keeps its corpus.
	srv := &Server{App: openApp(f, "testdata/hookreader"), Log: slog.New(slog.DiscardHandler), NoJournal: true}
	remote := &net.TCPAddr{IP: net.IPv4(203, 0, 113, 7), Port: 4711}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var req fasthttp.Request
		if err := req.Read(bufio.NewReader(bytes.NewReader(raw))); err != nil {
			return // not a request fasthttp would hand us
		}
		var c fasthttp.RequestCtx
		c.Init(&req, remote, nil)
		srv.Handle(&c)
		status, body := c.Response.StatusCode(), c.Response.Body()
		if status >= 500 {
			t.Fatalf("%d %s for\n%q", status, body, raw)
		}
		if !json.Valid(body) {
			t.Fatalf("%d answered with no JSON: %q for\n%q", status, body, raw)
		}
	})
}

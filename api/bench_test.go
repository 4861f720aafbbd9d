package api

import (
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkHook is the webhook path without the network: a
// Getcourse-shaped GET through Handle, each call a new lead, next to a
// bare handler that parses the same query. The store is in memory, so
// this is the CPU a webhook costs (`leadhost bench hook` adds the
// network and fsync).
func BenchmarkHook(b *testing.B) {
	var seq atomic.Uint64
	uri := func() string {
		i := seq.Add(1)
		return fmt.Sprintf("/hook/gc?token=bench&order=B%d&phone=7999%07d&name=Ivan&email=ivan%%40example.com&cost=4990", i, i%10000000)
	}
	bare := func(c *fasthttp.RequestCtx) {
		q := c.QueryArgs()
		if string(q.Peek("token")) != "bench" || len(q.Peek("order")) == 0 {
			c.SetStatusCode(401)
			return
		}
		c.SetContentType(jsonContentType)
		c.SetBodyString(`{"ok":true,"lead":` + strconv.FormatUint(seq.Load(), 10) + `,"created":true}`)
	}
	for _, bc := range []struct {
		name      string
		noJournal bool
		bare      bool
	}{{name: "bare", bare: true}, {name: "leadhost"}, {name: "leadhost-nojournal", noJournal: true}} {
		b.Run(bc.name, func(b *testing.B) {
			srv := &Server{App: openApp(b, "testdata/bench"), Log: slog.New(slog.DiscardHandler), NoJournal: bc.noJournal}
			handle := srv.Handle
			if bc.bare {
				handle = bare
			}
			b.ReportAllocs()
			b.SetParallelism(16) // core.lead.add waits for its group commit
			b.RunParallel(func(pb *testing.PB) {
				var c fasthttp.RequestCtx
				for pb.Next() {
					c.Request.Reset()
					c.Response.Reset()
					c.Request.Header.SetMethod("GET")
					c.Request.SetRequestURI(uri())
					handle(&c)
					if c.Response.StatusCode() != 200 {
						b.Fatalf("%d %s", c.Response.StatusCode(), c.Response.Body())
					}
				}
			})
		})
	}
}

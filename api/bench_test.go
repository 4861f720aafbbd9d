package api

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/host"
	"leadhost/host/app"
	"leadhost/host/script"
	"leadhost/store"
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

// BenchmarkHookStages is the webhook's CPU budget, stage by stage, each
// stage run alone b.N times on one goroutine against the real server, app
// and store (in a temporary folder, without fsync unless the name says
// so): what `go test -bench HookStages ./api/` prints is the README's
// table. The Lua stages run real hooks of the bench offer, each one step
// more than the last, so a stage's cost is its row less the row before.
// The store's own stages also report the committer's split
// (store.CommitStats) per add.
func BenchmarkHookStages(b *testing.B) {
	var seq atomic.Uint64
	uri := func() string {
		i := seq.Add(1)
		return fmt.Sprintf("/hook/gc?token=bench&order=S%d&phone=7999%07d&name=Ivan&email=ivan%%40example.com&cost=4990", i, i%10000000)
	}
	raw := []byte("GET " + uri() + " HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: fasthttp\r\n\r\n")
	open := func(b *testing.B, noSync bool) (*Server, *host.Offer) {
		a, err := app.Open(context.Background(), app.Config{Data: b.TempDir(), Scripts: "testdata/bench", NoSync: noSync,
			Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { a.Close() })
		if errs := a.Offers.Errors(); len(errs) > 0 {
			b.Fatalf("offers do not load: %v", errs)
		}
		o, _ := a.Offers.Offer("gc")
		return &Server{App: a, Log: slog.New(slog.DiscardHandler)}, o
	}
	// parsed is a request as the server holds it once fasthttp read it.
	parsed := func(b *testing.B, c *fasthttp.RequestCtx) {
		c.Request.Reset()
		c.Response.Reset()
		if err := c.Request.Read(bufio.NewReader(bytes.NewReader(raw))); err != nil {
			b.Fatal(err)
		}
	}
	hookReq := func(b *testing.B, s *Server) script.HookRequest {
		var c fasthttp.RequestCtx
		parsed(b, &c)
		r, err := s.hookRequest(&c)
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	// runHook runs one of the offer's hooks with a new order each time.
	runHook := func(file string) func(b *testing.B, s *Server, o *host.Offer) {
		return func(b *testing.B, s *Server, o *host.Offer) {
			req := hookReq(b, s)
			sc := o.Scripts[file]
			for i := 0; i < b.N; i++ {
				req.Query["order"] = []string{"S" + strconv.FormatUint(seq.Add(1), 10)}
				if _, err := o.Pool.RunHook(context.Background(), sc, script.Hook{Store: s.App.Store, Offer: o.ID, Request: req}); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	add := func(b *testing.B, s *Server, o *host.Offer) {
		ctx := context.Background()
		for i := 0; i < b.N; i++ {
			nl := store.NewLead{Offer: o.ID, Key: "S" + strconv.FormatUint(seq.Add(1), 10),
				Fields: map[string]string{"phone": "79990000001", "name": "Ivan", "email": "ivan@example.com"}}
			if _, _, err := s.App.Store.Add(ctx, nl); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, st := range []struct {
		name  string
		fsync bool
		run   func(b *testing.B, s *Server, o *host.Offer)
	}{
		{name: "1-parse", run: func(b *testing.B, s *Server, o *host.Offer) {
			var c fasthttp.RequestCtx
			br := bufio.NewReader(nil)
			rd := bytes.NewReader(nil)
			for i := 0; i < b.N; i++ {
				c.Request.Reset()
				rd.Reset(raw)
				br.Reset(rd)
				if err := c.Request.Read(br); err != nil || c.QueryArgs().Len() == 0 {
					b.Fatal(err)
				}
			}
		}},
		{name: "2-route+token", run: func(b *testing.B, s *Server, o *host.Offer) {
			var c fasthttp.RequestCtx
			parsed(b, &c)
			for i := 0; i < b.N; i++ {
				path := string(c.Path())
				rest := strings.TrimPrefix(path, "/hook/")
				o, ok := s.App.Offers.Offer(rest)
				if !ok || !tokenOK(&c, offerToken(o, store.KindHook)) || !s.writable(&c) {
					b.Fatal("refused")
				}
			}
		}},
		{name: "3-request", run: func(b *testing.B, s *Server, o *host.Offer) {
			var c fasthttp.RequestCtx
			parsed(b, &c)
			for i := 0; i < b.N; i++ {
				if _, err := s.hookRequest(&c); err != nil {
					b.Fatal(err)
				}
			}
		}},
		{name: "4-lua-state", run: func(b *testing.B, s *Server, o *host.Offer) {
			sc := o.Scripts["hooks/empty.lua"]
			for i := 0; i < b.N; i++ {
				if err := o.Pool.Run(context.Background(), sc, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
		}},
		{name: "5-lua-state+req", run: runHook("hooks/empty.lua")},
		{name: "6-lua-state+req+reply", run: runHook("hooks/reply.lua")},
		{name: "7-lua-state+req+reply+add", run: runHook("hook.lua")},
		{name: "8-store-add", run: add},
		{name: "8-store-add-fsync", fsync: true, run: add},
		{name: "9-journal", run: func(b *testing.B, s *Server, o *host.Offer) {
			var c fasthttp.RequestCtx
			parsed(b, &c)
			c.SetContentType(jsonContentType)
			c.SetBodyString(`{"created":true,"lead":1,"ok":true}`)
			started := time.Now()
			for i := 0; i < b.N; i++ {
				s.journal(&c, store.KindHook, "gc", started)
			}
		}},
		{name: "10-reply", run: func(b *testing.B, s *Server, o *host.Offer) {
			var c fasthttp.RequestCtx
			c.SetContentType(jsonContentType)
			c.SetBodyString(`{"created":true,"lead":1,"ok":true}`)
			w := bufio.NewWriter(io.Discard)
			for i := 0; i < b.N; i++ {
				if err := c.Response.Write(w); err != nil {
					b.Fatal(err)
				}
				w.Flush()
			}
		}},
		// all-Handle-reply is the call whose hook (hooks/reply.lua) reads
		// req.query and answers without adding a lead: the request path
		// alone.
		{name: "all-Handle-reply", run: func(b *testing.B, s *Server, o *host.Offer) {
			handleGETs(b, s, func() string { return strings.Replace(uri(), "/hook/gc?", "/hook/gc/reply?", 1) })
		}},
		{name: "all-Handle", run: func(b *testing.B, s *Server, o *host.Offer) { handleGETs(b, s, uri) }},
	} {
		b.Run(st.name, func(b *testing.B) {
			s, o := open(b, !st.fsync)
			before := s.App.Store.(*store.Badger).CommitStats()
			b.ReportAllocs()
			b.ResetTimer()
			st.run(b, s, o)
			b.StopTimer()
			if cs := s.App.Store.(*store.Badger).CommitStats().Sub(before); cs.Ops > 0 {
				per := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) / float64(cs.Ops) }
				b.ReportMetric(per(cs.Build), "build-µs/add")
				b.ReportMetric(float64(cs.Write)/float64(time.Microsecond)/float64(cs.Groups), "badger-µs/group")
				b.ReportMetric(per(cs.Wake), "wake-µs/add")
				b.ReportMetric(per(cs.Round), "round-µs/add")
			}
		})
	}
}

// handleGETs has s handle b.N GETs of uri() through Handle, each
// answered 200.
func handleGETs(b *testing.B, s *Server, uri func() string) {
	var c fasthttp.RequestCtx
	for i := 0; i < b.N; i++ {
		c.Request.Reset()
		c.Response.Reset()
		c.Request.Header.SetMethod("GET")
		c.Request.SetRequestURI(uri())
		s.Handle(&c)
		if c.Response.StatusCode() != 200 {
			b.Fatalf("%d %s", c.Response.StatusCode(), c.Response.Body())
		}
	}
}

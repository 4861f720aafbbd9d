package console_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/api"
	"leadhost/host/app"
	"leadhost/store"
)

// BenchmarkPages is each console page's server time on a big store:
// LEADHOST_BENCH_CONSOLE_N leads and as many journal entries (default
// 100,000; the figure is for 1,000,000), served as serve does
// (the metrics' running lead counts for the overview), the request
// handled in process so that only the server's time is measured.
//
//	LEADHOST_BENCH_CONSOLE_N=1000000 go test -run '^$' -bench Pages -benchtime 20x ./api/console/
func BenchmarkPages(b *testing.B) {
	n := 100_000
	if v := os.Getenv("LEADHOST_BENCH_CONSOLE_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	a, err := app.Open(ctx, app.Config{Data: b.TempDir(), NoSync: true, Scripts: "testdata/scripts"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	started := time.Now()
	lead := fillLeads(b, a.Store, n)
	fillJournal(b, a.Store, n)
	b.Logf("%d leads and %d journal entries in %s", n, n, time.Since(started).Round(time.Second))
	metrics := api.NewMetrics(a)
	untrack, err := metrics.TrackLeads(ctx, a.Store)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(untrack)
	s := &api.Server{App: a, APIToken: adminToken, Metrics: metrics}
	cookie := benchSignIn(b, s)
	// The console counts the day's journal once, in the background: the
	// figures are for the pages after that.
	counted := time.Now()
	for strings.Contains(benchBody(s, cookie, "/ui/"), "counting the journal") {
		time.Sleep(100 * time.Millisecond)
	}
	b.Logf("the overview's count of the journal took %s", time.Since(counted).Round(100*time.Millisecond))
	holdSends(b, a.Store, 1000)
	entries, _, err := a.Store.JournalList(ctx, store.JournalQuery{Kind: store.KindHook, Limit: 1})
	if err != nil || len(entries) == 0 {
		b.Fatal("no hook entry", err)
	}
	for _, page := range []struct{ name, path string }{
		{"overview", "/ui/"},
		{"journal", "/ui/journal"},
		{"journal-filtered", "/ui/journal?offer=shop&kind=hook&status=error&since=24h"},
		{"journal-rows", "/ui/journal/rows"},
		{"entry", "/ui/journal/" + itoa(entries[0].ID)},
		{"leads", "/ui/leads?offer=shop"},
		{"leads-paid", "/ui/leads?offer=shop&status=10"},
		{"leads-by-phone", "/ui/leads?contact=" + url.QueryEscape("+7 (999) 000-01-23")},
		{"leads-by-email", "/ui/leads?contact=ivan@example.com"}, // every lead has it: the first page of n
		{"lead", "/ui/leads/" + itoa(lead)},
		{"offer", "/ui/offers/shop"},
		{"held", "/ui/held"},
	} {
		b.Run(page.name, func(b *testing.B) {
			for b.Loop() {
				if code := benchGet(s, cookie, page.path); code != 200 {
					b.Fatalf("GET %s: %d", page.path, code)
				}
			}
		})
	}
}

// fillLeads adds n leads of the shop in the statuses a network holds,
// created over the last months, and gives one's id.
func fillLeads(b *testing.B, st store.Store, n int) uint64 {
	statuses := []store.Status{store.StatusProcessing, store.StatusCallback, store.StatusPacking, store.StatusCancel,
		store.StatusPaid, store.StatusTransit, store.StatusHold, store.StatusNew}
	var next atomic.Int64
	var last atomic.Uint64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	now := time.Now()
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				nl := store.NewLead{Offer: "shop", Ext: "E" + strconv.Itoa(i), Status: statuses[i%len(statuses)],
					Created: now.Add(-time.Duration(i) * time.Minute / 4),
					Fields:  map[string]string{"name": "Ivan", "phone": fmt.Sprintf("7999%07d", i), "email": "ivan@example.com"}}
				if nl.Status == store.StatusCancel {
					nl.Reason = 2
				}
				l, _, err := st.Add(context.Background(), nl)
				if err != nil {
					errs <- err
					return
				}
				last.Store(l.ID)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return last.Load()
}

// holdSends holds n of the shop's new leads' sends for a person, as
// sends in doubt are: the held work page lists up to 1000 an outbox.
func holdSends(b *testing.B, st store.Store, n int) {
	ctx := context.Background()
	feed, err := st.Feed("send")
	if err != nil {
		b.Fatal(err)
	}
	items, err := feed.Pending(ctx, n)
	if err != nil {
		b.Fatal(err)
	}
	for _, it := range items {
		if err := feed.Hold(ctx, it, "in doubt: POST http://partner.example/order?key=K&phone=79990001122: timeout"); err != nil {
			b.Fatal(err)
		}
	}
}

// fillJournal records n entries: webhooks with their requests, some
// failed, check runs and sends.
func fillJournal(b *testing.B, st store.Store, n int) {
	kinds := []store.JournalKind{store.KindHook, store.KindHook, store.KindSend, store.KindCheck}
	for i := range n {
		e := store.JournalEntry{Offer: "shop", Kind: kinds[i%len(kinds)], Status: store.JournalOK, Duration: store.Duration(time.Millisecond),
			Summary:  "POST /hook/shop → 200",
			Request:  fmt.Sprintf("POST /hook/shop HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\r\n{\"order\":\"A%d\",\"phone\":\"7999%07d\"}", i, i),
			Response: `{"lead":1,"created":true}`}
		if i%50 == 0 {
			e.Status, e.Summary = store.JournalError, "POST /hook/shop → 500"
		}
		st.Record(e)
	}
	if err := st.RecordWritten(store.JournalEntry{Offer: "shop", Kind: store.KindReload, Status: store.JournalOK, Summary: "the last"}); err != nil {
		b.Fatal(err)
	}
}

func benchSignIn(b *testing.B, s *api.Server) []byte {
	var c fasthttp.RequestCtx
	var req fasthttp.Request
	req.Header.SetMethod("POST")
	req.SetRequestURI("/ui/signin")
	req.Header.SetHost("127.0.0.1")
	req.Header.SetContentType("application/x-www-form-urlencoded")
	req.SetBodyString("token=" + adminToken)
	c.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, nil)
	s.Handle(&c)
	var ck fasthttp.Cookie
	if !c.Response.Header.Cookie(&ck) {
		ck.SetKey("leadhost_session")
		if !c.Response.Header.Cookie(&ck) {
			b.Fatalf("sign-in: %d, no cookie", c.Response.StatusCode())
		}
	}
	return append([]byte(nil), ck.Value()...)
}

func benchGet(s *api.Server, cookie []byte, path string) int {
	code, _ := benchServe(s, cookie, path)
	return code
}

func benchBody(s *api.Server, cookie []byte, path string) string {
	_, body := benchServe(s, cookie, path)
	return body
}

func benchServe(s *api.Server, cookie []byte, path string) (int, string) {
	var c fasthttp.RequestCtx
	var req fasthttp.Request
	req.SetRequestURI(path)
	req.Header.SetHost("127.0.0.1")
	req.Header.SetCookieBytesKV([]byte("leadhost_session"), cookie)
	c.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, nil)
	s.Handle(&c)
	return c.Response.StatusCode(), string(c.Response.Body())
}

package check

import (
	"bytes"
	"context"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/host"
	"leadhost/store"
	"leadhost/store/postgres"
	"leadhost/store/postgres/pgtest"
)

// BenchmarkProcessingRun is one full processing run of the AlterCPA-style
// example: 10,000 leads in 200-lead batches against a partner on
// 127.0.0.1 that answers every lead, each run moving every lead (hold ↔
// callback, both in the processing set) so that every answer is an edit
// committed with fsync. leads/s counts leads checked end to end: listed,
// asked about, answered, decoded, handled by check.lua and committed.
// cpu-s/run is the CPU time one run took, the test's own PostgreSQL
// server included (not a server at LEADHOST_BENCH_DATABASE_URL): on a
// shared machine it moves less than leads/s.
func BenchmarkProcessingRun(b *testing.B) {
	st, err := store.Open(store.Options{Dir: b.TempDir(), GCInterval: -1, NoSync: os.Getenv("NOSYNC") != ""})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	benchProcessingRun(b, st)
}

// BenchmarkProcessingRunPostgres is BenchmarkProcessingRun on the
// PostgreSQL store: in a new database on the server at
// LEADHOST_BENCH_DATABASE_URL (a durable one, as shipped: the figure to
// compare with Badger's), else on the test server (pgtest: fsync off, it
// measures CPU only).
func BenchmarkProcessingRunPostgres(b *testing.B) {
	url := pgtest.On(b, os.Getenv("LEADHOST_BENCH_DATABASE_URL"))
	st, err := postgres.Open(context.Background(), url, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	benchProcessingRun(b, st)
}

// benchProcessingRun is the run of BenchmarkProcessingRun on st.
func benchProcessingRun(b *testing.B, st store.Store) {
	const leads, batch = 10_000, 200
	var round atomic.Int64
	// The partner is a fasthttp server that echoes the ids it is asked
	// about, so that it costs the shared two cores little.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(c *fasthttp.RequestCtx) {
		stage := `","stage":"hold","status":4,"phase":"operator note"}`
		if round.Load()%2 == 1 {
			stage = `","stage":"wait","status":3,"phase":"operator note"}`
		}
		out := append(make([]byte, 0, 64<<10), '[')
		for i, id := range bytes.Split(c.PostBody(), []byte("&")) {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, `{"uid":0,"id":"`...)
			out = append(out, bytes.TrimPrefix(id, []byte("ids[]="))...)
			out = append(out, stage...)
		}
		out = append(out, ']')
		c.SetContentType("application/json")
		c.SetBody(out)
	}}
	go srv.Serve(ln)
	defer srv.Shutdown()
	o := offerAt(b, "../../scripts/altercpa", "http://"+ln.Addr().String(), map[string]string{"batch = 50": "batch = " + strconv.Itoa(batch)})
	ctx := context.Background()
	for i := range leads {
		if _, _, err := st.Add(ctx, store.NewLead{Offer: "altercpa", Ext: strconv.Itoa(100000 + i), Status: store.StatusProcessing,
			Fields: map[string]string{"phone": "79990001122"}}); err != nil {
			b.Fatal(err)
		}
	}
	r := NewRunner(st)
	r.Timeout = 10 * time.Second
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		round.Store(int64(i))
		rep := r.Run(ctx, o, host.ModeProcessing, Options{})
		if rep.Err != nil || rep.Leads != leads || len(rep.Edits) != leads || len(rep.Exchanges) != leads/batch {
			b.Fatalf("run: %v, %d leads, %d edits, %d requests", rep.Err, rep.Leads, len(rep.Edits), len(rep.Exchanges))
		}
	}
	b.ReportMetric(float64(leads)*float64(b.N)/b.Elapsed().Seconds(), "leads/s")
	b.ReportMetric((cpuTime()-cpu).Seconds()/float64(b.N), "cpu-s/run")
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/host"
	"leadhost/store"
)

// benchOffer is the webhook the load runs against: Getcourse-shaped, a
// durable lead per call (the order id is the idempotency key), no send.
const benchOffer = `name = "bench"
[hook]
token = "bench"
`

const benchHook = `local q = req.query
local id, created = core.lead.add{ key = q.order, fields = { phone = q.phone, name = q.name, email = q.email } }
return { ok = true, lead = id, created = created }
`

// runBench is `leadhost bench hook`: the webhook → durable lead path
// under load, side by side with a bare fasthttp handler that parses the
// same query and replies, in one run on this machine.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "hostile" {
		return runBenchHostile(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "mix" {
		return runBenchMix(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("leadhost bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	duration := fs.Duration("duration", 10*time.Second, "how long each phase runs")
	conc := fs.Int("concurrency", 64, "requests in flight at once")
	noSync := fs.Bool("no-fsync", false, "the store without fsync")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the leadhost phase to this file")
	noJournal := fs.Bool("no-journal", false, "the main phases without journaling the calls")
	timelineCSV := fs.String("timeline", "", "also write the half-load phase's latency per 100 ms window to this CSV file")
	storeSpec := fs.String("store", "badger", "where the leads go: badger (a temporary folder) or postgres://… (or postgres: $"+host.DatabaseURLEnv+"), a database the bench may fill")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(rest) != 1 || rest[0] != "hook" {
		fmt.Fprintln(stderr, "leadhost bench: what to measure? (hook, mix, hostile)")
		return exitUsage
	}
	spec, err := host.ParseStoreSpec(*storeSpec, "", os.Getenv(host.DatabaseURLEnv))
	if err != nil || (spec.URL == "" && spec.Dir != "") {
		fmt.Fprintf(stderr, "leadhost bench: --store %s: want badger or postgres://…\n", *storeSpec)
		return exitUsage
	}
	storeName := "Badger"
	if spec.URL != "" {
		storeName = "PostgreSQL"
	}
	dir, err := os.MkdirTemp("", "leadhost-bench-")
	if err != nil {
		fmt.Fprintf(stderr, "leadhost bench: %v\n", err)
		return exitError
	}
	defer os.RemoveAll(dir)
	offerDir := filepath.Join(dir, "scripts", "bench")
	if err := os.MkdirAll(offerDir, 0o755); err != nil {
		fmt.Fprintf(stderr, "leadhost bench: %v\n", err)
		return exitError
	}
	os.WriteFile(filepath.Join(offerDir, "offer.toml"), []byte(benchOffer), 0o644)
	os.WriteFile(filepath.Join(offerDir, "hook.lua"), []byte(benchHook), 0o644)

	// The bare handler: parse the same query, reply the same shape.
	bareLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(stderr, "leadhost bench: %v\n", err)
		return exitError
	}
	var n atomic.Uint64
	bare := &fasthttp.Server{Handler: func(c *fasthttp.RequestCtx) {
		q := c.QueryArgs()
		if string(q.Peek("token")) != "bench" || len(q.Peek("order")) == 0 || len(q.Peek("phone")) == 0 {
			c.SetStatusCode(401)
			return
		}
		c.SetContentType("application/json")
		fmt.Fprintf(c, `{"ok":true,"lead":%d,"created":true}`, n.Add(1))
	}}
	go bare.Serve(bareLn)
	defer bare.Shutdown()

	hctx, stop := context.WithCancel(ctx)
	h, err := startHost(hctx, hostConfig{listen: "127.0.0.1:0", data: filepath.Join(dir, "data"), databaseURL: spec.URL, scripts: filepath.Join(dir, "scripts"),
		noSync: *noSync, noJournal: *noJournal, log: slog.New(slog.DiscardHandler)})
	if err != nil {
		stop()
		fmt.Fprintf(stderr, "leadhost bench: %v\n", err)
		return exitError
	}
	defer func() { stop(); h.wait() }()

	fmt.Fprintf(stdout, "webhook → durable lead on %s (fsync %v), %d in flight, %s a phase\n\n", storeName, !*noSync, *conc, *duration)
	fmt.Fprintf(stdout, "%-34s %10s %9s %9s %9s\n", "", "req/s", "p50", "p99", "errors")
	load(ctx, "http://"+h.addr.String(), "w", *conc, time.Second, 0) // warm up: VM pools, connections
	b := load(ctx, "http://"+bareLn.Addr().String(), "b", *conc, *duration, 0)
	b.print(stdout, "bare fasthttp handler")
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer f.Close()
		}
	}
	before := commitStats(h.st)
	l := load(ctx, "http://"+h.addr.String(), "l", *conc, *duration, 0)
	pprof.StopCPUProfile()
	full := commitStats(h.st).Sub(before)
	l.print(stdout, "leadhost webhook")
	half := l.rate / 2
	before = commitStats(h.st)
	p := load(ctx, "http://"+h.addr.String(), "p", *conc, *duration, half)
	halfStats := commitStats(h.st).Sub(before)
	p.print(stdout, fmt.Sprintf("leadhost at half load (%.0f/s)", half))

	fmt.Fprintln(stdout)
	printRound(stdout, fmt.Sprintf("durable rounds at %d in flight", *conc), full)
	printRound(stdout, "durable rounds at half load", halfStats)
	fmt.Fprintln(stdout, "one sync on this disk, now, for reference:")
	printSyncs(stdout, dir)
	ws := timeline(p.calls, 100*time.Millisecond)
	fmt.Fprintf(stdout, "\nlatency at half load, per 100 ms window (by when the call was due):\n")
	printTimeline(stdout, ws, 10*time.Millisecond)
	if *timelineCSV != "" {
		if err := writeTimelineCSV(*timelineCSV, ws); err != nil {
			fmt.Fprintf(stderr, "leadhost bench: %v\n", err)
		}
	}

	stop()
	h.wait()
	// What the journal costs: two fresh hosts, one journaling its calls
	// and one not, side by side, phases alternating twice so that the
	// machine's drift falls on both alike.
	fresh := func(name string, noJournal bool, databaseURL string) (*runningHost, func(), error) {
		c, cancel := context.WithCancel(ctx)
		fh, err := startHost(c, hostConfig{listen: "127.0.0.1:0", data: filepath.Join(dir, name), databaseURL: databaseURL, scripts: filepath.Join(dir, "scripts"),
			noSync: *noSync, noJournal: noJournal, log: slog.New(slog.DiscardHandler)})
		if err != nil {
			cancel()
			return nil, nil, err
		}
		return fh, func() { cancel(); fh.wait() }, nil
	}
	jh, jstop, err := fresh("data-journal", false, spec.URL)
	if err != nil {
		fmt.Fprintf(stderr, "leadhost bench: %v\n", err)
		return exitError
	}
	defer jstop()
	nh, nstop, err := fresh("data-nojournal", true, spec.URL)
	if err != nil {
		fmt.Fprintf(stderr, "leadhost bench: %v\n", err)
		return exitError
	}
	defer nstop()
	jl, nj := alternate(ctx, jh, nh, "j", "n", *conc, *duration)
	fmt.Fprintln(stdout)
	jl.print(stdout, "journal on (alternating)")
	nj.print(stdout, "journal off (alternating)")
	if spec.URL != "" {
		// PostgreSQL against Badger in the same way: two fresh hosts,
		// phases alternating, so that the shared machine's drift falls
		// on both alike.
		jstop()
		nstop()
		ph, pstop, err := fresh("data-pg", false, spec.URL)
		if err != nil {
			fmt.Fprintf(stderr, "leadhost bench: %v\n", err)
			return exitError
		}
		defer pstop()
		bh, bstop, err := fresh("data-badger", false, "")
		if err != nil {
			fmt.Fprintf(stderr, "leadhost bench: %v\n", err)
			return exitError
		}
		defer bstop()
		pg, bg := alternate(ctx, ph, bh, "p", "g", *conc, *duration)
		fmt.Fprintln(stdout)
		pg.print(stdout, "PostgreSQL (alternating)")
		bg.print(stdout, "Badger (alternating)")
		fmt.Fprintf(stdout, "\nPostgreSQL / Badger: %.0f%% of the webhooks (target ≥ 25%%)\n", 100*pg.rate/bg.rate)
	}
	fmt.Fprintf(stdout, "\nleadhost / bare: %.0f%% (target ≥ 50%%); p99 at half load %s (target < 10ms)\n",
		100*l.rate/b.rate, p.p99.Round(10*time.Microsecond))
	fmt.Fprintf(stdout, "journaling costs %.0f%% of webhook throughput (target < 20%%)\n", 100*(1-jl.rate/nj.rate))
	return exitOK
}

// alternate loads two hosts in turns, a second's warm-up each and then
// two rounds of d/2 each, so that the machine's drift falls on both
// alike; the tags keep their idempotency keys apart.
func alternate(ctx context.Context, a, b *runningHost, tagA, tagB string, conc int, d time.Duration) (ra, rb loadResult) {
	load(ctx, "http://"+a.addr.String(), tagA+"w", conc, time.Second, 0)
	load(ctx, "http://"+b.addr.String(), tagB+"w", conc, time.Second, 0)
	for round := range 2 {
		x := load(ctx, "http://"+a.addr.String(), fmt.Sprintf("%s%d-", tagA, round), conc, d/2, 0)
		y := load(ctx, "http://"+b.addr.String(), fmt.Sprintf("%s%d-", tagB, round), conc, d/2, 0)
		ra, rb = ra.merge(x, round), rb.merge(y, round)
	}
	return ra, rb
}

// loadResult is one phase's figures.
type loadResult struct {
	rate     float64
	p50, p99 time.Duration
	errors   int
	calls    []call
}

// merge averages two rounds' figures (the percentiles too: close enough
// for a comparison in one run).
func (r loadResult) merge(o loadResult, round int) loadResult {
	if round == 0 {
		return o
	}
	return loadResult{rate: (r.rate + o.rate) / 2, p50: (r.p50 + o.p50) / 2, p99: (r.p99 + o.p99) / 2, errors: r.errors + o.errors}
}

func (r loadResult) print(w io.Writer, name string) {
	fmt.Fprintf(w, "%-34s %10.0f %9s %9s %9d\n", name, r.rate, r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), r.errors)
}

// timerSlack is how late a sleeping load worker may wake without it
// counting as the server's latency (Go's timers on Linux).
const timerSlack = time.Millisecond

// load sends Getcourse-shaped calls with unique order ids from conc
// workers for d; with rate > 0 the calls are paced to that many a second
// (open loop: latency counts from when a call was due).
func load(ctx context.Context, base, tag string, conc int, d time.Duration, rate float64) loadResult {
	client := &fasthttp.Client{MaxConnsPerHost: conc * 2, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	var (
		mu      sync.Mutex
		calls   []call
		errs    int
		seq     atomic.Uint64
		wg      sync.WaitGroup
		started = time.Now()
		end     = started.Add(d)
	)
	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(time.Second) / rate)
	}
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			var local []call
			bad := 0
			for ctx.Err() == nil {
				i := seq.Add(1)
				due := time.Now()
				if interval > 0 {
					// A call that starts late because every worker was
					// waiting for the server counts from when it was due
					// (no coordinated omission). A worker that sleeps until
					// the call is due is forgiven the timer's slack, up to
					// a millisecond, and no more: a stall of the process
					// (which the host shares) counts for it as well.
					due = started.Add(time.Duration(i) * interval)
					if wait := time.Until(due); wait > 0 {
						time.Sleep(wait)
						if late := time.Since(due); late < timerSlack {
							due = due.Add(late)
						} else {
							due = due.Add(timerSlack)
						}
					}
				}
				if due.After(end) || time.Now().After(end) {
					break
				}
				req.SetRequestURI(fmt.Sprintf("%s/hook/bench?token=bench&order=%s%d&phone=7999%07d&name=Ivan&email=ivan%%40example.com&cost=4990", base, tag, i, i%10000000))
				err := client.Do(req, resp)
				local = append(local, call{at: due.Sub(started), took: time.Since(due)})
				if err != nil || resp.StatusCode() != 200 {
					bad++
				}
			}
			mu.Lock()
			calls = append(calls, local...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(started)
	r := loadResult{errors: errs, calls: calls}
	if len(calls) > 0 {
		r.rate = float64(len(calls)) / elapsed.Seconds()
		r.p50, r.p99 = percentiles(calls)
	}
	return r
}

// call is one request of a load: when it was due, from the load's start,
// and how long it took from then.
type call struct{ at, took time.Duration }

// percentiles are the p50 and p99 of calls' durations (calls not empty).
func percentiles(calls []call) (p50, p99 time.Duration) {
	lat := make([]time.Duration, len(calls))
	for i, c := range calls {
		lat[i] = c.took
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[len(lat)/2], lat[len(lat)*99/100]
}

// commitStats is the store's committer time so far; only Badger keeps it
// (zero for another backend).
func commitStats(st store.Store) store.CommitStats {
	if c, ok := st.(interface{ CommitStats() store.CommitStats }); ok {
		return c.CommitStats()
	}
	return store.CommitStats{}
}

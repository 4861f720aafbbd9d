package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/host/app"
	"leadhost/host/check"
	"leadhost/store"
)

// The mix's offers beside bench's webhook: a network whose status API
// the processing check asks about every lead (AlterCPA-shaped: ids[]= in,
// one row per id out), and an advertiser whose order API every new lead
// of its offer is sent to, eight at a time (send.concurrency).
const (
	mixCheckOffer = `name = "mix check"
[check]
url = "%s/check"
method = "POST"
format = "json"
batch = 200
body = "form"
fields = { ids = "{ide}" }
processing = { every = "24h" }
`
	mixCheckLua = `for _, row in ipairs(data) do
  local id = e2i[row.id]
  if id then core.lead.edit(id, { status = tonumber(row.status), comment = row.phase }) end
end
`
	mixSendOffer = `name = "mix send"
[send]
url = "%s/order"
method = "POST"
body = "form"
format = "json"
fields = { phone = "{phone}", name = "{name}" }
concurrency = 8
`
	mixSendLua = `if type(data) == "table" and data.id then return data.id end
return nil
`
)

// runBenchMix is `leadhost bench mix`: webhooks at half of their full
// rate, first alone, then while processing check runs over a store's
// worth of leads commit back to back and the sender works through a
// backlog of sends — the p99 a network sees on a busy day (issue 16).
func runBenchMix(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("leadhost bench mix", flag.ContinueOnError)
	fs.SetOutput(stderr)
	duration := fs.Duration("duration", 10*time.Second, "how long each phase runs")
	conc := fs.Int("concurrency", 64, "webhook requests in flight at once")
	leads := fs.Int("leads", 10_000, "leads each check run asks about, and sends queued")
	noSync := fs.Bool("no-fsync", false, "the store without fsync")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the mixed phase to this file")
	rate := fs.Float64("rate", 0, "webhooks a second in the half-load and mixed phases (0: half the full load's rate); a fixed rate compares two builds at the same load")
	timelineCSV := fs.String("timeline", "", "write the mixed phase's latency per 100 ms window to this CSV file")
	if _, err := parseInterleaved(fs, args); err != nil {
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "leadhost bench mix: %v\n", err)
		return exitError
	}
	partner, stopPartner, err := startMixPartner()
	if err != nil {
		return fail(err)
	}
	defer stopPartner()
	dir, err := os.MkdirTemp("", "leadhost-bench-mix-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	writeOffer := func(offer string, files map[string]string) error {
		if err := os.MkdirAll(filepath.Join(dir, "scripts", offer), 0o755); err != nil {
			return err
		}
		for name, text := range files {
			if err := os.WriteFile(filepath.Join(dir, "scripts", offer, name), []byte(text), 0o644); err != nil {
				return err
			}
		}
		return nil
	}
	// The checking offer comes only for the mixed phase: its scheduled
	// first run (within a minute of loading) would otherwise land in the
	// phases that measure webhooks alone.
	for offer, files := range map[string]map[string]string{
		"bench":   {"offer.toml": benchOffer, "hook.lua": benchHook},
		"mixsend": {"offer.toml": fmt.Sprintf(mixSendOffer, partner.url), "send.lua": mixSendLua},
	} {
		if err := writeOffer(offer, files); err != nil {
			return fail(err)
		}
	}
	hctx, stop := context.WithCancel(ctx)
	defer stop()
	h, err := startHost(hctx, hostConfig{listen: "127.0.0.1:0", data: filepath.Join(dir, "data"), scripts: filepath.Join(dir, "scripts"),
		noSync: *noSync, sendPoll: 50 * time.Millisecond, log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fail(err)
	}
	defer func() { stop(); h.wait() }()
	base := "http://" + h.addr.String()

	fmt.Fprintf(stdout, "webhooks (fsync %v, %d in flight) beside check runs of %d leads and %d queued sends, %s a phase\n\n",
		!*noSync, *conc, *leads, *leads, *duration)
	if err := addMany(ctx, h.st, *leads, func(i int) store.NewLead {
		return store.NewLead{Offer: "mixcheck", Ext: strconv.Itoa(100000 + i), Status: store.StatusProcessing,
			Fields: map[string]string{"phone": fmt.Sprintf("7999%07d", i)}}
	}); err != nil {
		return fail(err)
	}
	load(ctx, base, "w", *conc, time.Second, 0) // warm up
	full := load(ctx, base, "f", *conc, *duration, 0)
	half := full.rate / 2
	if *rate > 0 {
		half = *rate
	}
	before := commitStats(h.st)
	alone := load(ctx, base, "a", *conc, *duration, half)
	aloneStats := commitStats(h.st).Sub(before)

	// The sends are queued just before the mixed phase; the sender starts
	// on them at once, as it would on a backlog after a partner's outage.
	sentBefore := partner.orders.Load()
	if err := addMany(ctx, h.st, *leads, func(i int) store.NewLead {
		return store.NewLead{Offer: "mixsend", Fields: map[string]string{"phone": fmt.Sprintf("7998%07d", i), "name": "Ivan"}}
	}); err != nil {
		return fail(err)
	}
	if err := writeOffer("mixcheck", map[string]string{"offer.toml": fmt.Sprintf(mixCheckOffer, partner.url), "check.lua": mixCheckLua}); err != nil {
		return fail(err)
	}
	for i := 0; ; i++ {
		if _, err := h.app.Offer("mixcheck"); err == nil {
			break
		} else if i == 500 {
			return fail(fmt.Errorf("the checking offer did not load: %w", err))
		}
		time.Sleep(10 * time.Millisecond)
	}
	var runs mixRuns
	rctx, endRuns := context.WithCancel(ctx)
	go runs.loop(rctx, h.app, partner)
	mixStart := time.Now()
	restsBefore := h.app.Pressure.Stats()
	before = commitStats(h.st)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer f.Close()
		}
	}
	mixed := load(ctx, base, "m", *conc, *duration, half)
	pprof.StopCPUProfile()
	mixStats := commitStats(h.st).Sub(before)
	endRuns()
	runs.wait()
	mixTook := time.Since(mixStart)
	rests := h.app.Pressure.Stats()
	sent := partner.orders.Load() - sentBefore

	fmt.Fprintf(stdout, "%-34s %10s %9s %9s %9s\n", "", "req/s", "p50", "p99", "errors")
	full.print(stdout, "webhooks at full load")
	alone.print(stdout, fmt.Sprintf("webhooks at half load (%.0f/s)", half))
	mixed.print(stdout, "the same, under the mix")
	fmt.Fprintf(stdout, "\nunder the mix: %d check runs, %.0f leads/s checked and committed (%d run errors); %d sends, %.0f/s\n",
		runs.done.Load(), float64(runs.leads.Load())/mixTook.Seconds(), runs.errors.Load(), sent, float64(sent)/mixTook.Seconds())
	// What the webhooks' priority costs the check runs: their rests while
	// webhooks were in flight (host.Pressure).
	fmt.Fprintf(stdout, "check runs gave way to webhooks: %d rests, %s (%.0f%% of the mix)\n", rests.Rests-restsBefore.Rests,
		(rests.Rested - restsBefore.Rested).Round(time.Millisecond), 100*(rests.Rested-restsBefore.Rested).Seconds()/mixTook.Seconds())
	if err := runs.firstErr(); err != nil {
		fmt.Fprintf(stdout, "first run error: %v\n", err)
	}
	fmt.Fprintln(stdout)
	printRound(stdout, "durable rounds at half load", aloneStats)
	printRound(stdout, "durable rounds under the mix", mixStats)
	ws := timeline(mixed.calls, 100*time.Millisecond)
	fmt.Fprintf(stdout, "\nwebhook latency under the mix, per 100 ms window:\n")
	printTimeline(stdout, ws, 20*time.Millisecond)
	if *timelineCSV != "" {
		if err := writeTimelineCSV(*timelineCSV, ws); err != nil {
			fmt.Fprintf(stderr, "leadhost bench mix: %v\n", err)
		}
	}
	fmt.Fprintf(stdout, "\np99 at half load %s (target < 10ms); under the mix %s (target < 20ms)\n",
		alone.p99.Round(10*time.Microsecond), mixed.p99.Round(10*time.Microsecond))
	return exitOK
}

// addMany adds n leads from 16 goroutines: durable adds one by one would
// take a minute.
func addMany(ctx context.Context, st store.Store, n int, lead func(i int) store.NewLead) error {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		err  error
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				if _, _, e := st.Add(ctx, lead(i)); e != nil {
					mu.Lock()
					err = errors.Join(err, e)
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return err
}

// mixRuns runs the processing check of mixcheck back to back.
type mixRuns struct {
	done, leads, errors atomic.Int64
	mu                  sync.Mutex
	first               error
	wg                  sync.WaitGroup
}

func (r *mixRuns) loop(ctx context.Context, a *app.App, p *mixPartner) {
	r.wg.Add(1)
	defer r.wg.Done()
	for ctx.Err() == nil {
		p.round.Add(1) // every lead's status moves each run: every answer is an edit
		rep, err := a.CheckNow(ctx, "mixcheck", app.CheckRequest{Mode: "processing"})
		if err == nil && rep.Err != nil {
			err = rep.Err
		}
		switch {
		case errors.Is(err, check.ErrBusy):
			time.Sleep(10 * time.Millisecond)
			continue
		case err != nil && ctx.Err() == nil:
			r.errors.Add(1)
			r.mu.Lock()
			if r.first == nil {
				r.first = err
			}
			r.mu.Unlock()
			continue
		case err != nil:
			return
		}
		r.done.Add(1)
		r.leads.Add(int64(rep.Leads))
	}
}

func (r *mixRuns) wait() { r.wg.Wait() }

func (r *mixRuns) firstErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first
}

// mixPartner is the partner of the mix on 127.0.0.1: a status API that
// answers every id it is asked about (hold and callback by turns), and an
// order API that takes every order.
type mixPartner struct {
	url    string
	round  atomic.Int64
	orders atomic.Int64
}

func startMixPartner() (*mixPartner, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	p := &mixPartner{url: "http://" + ln.Addr().String()}
	srv := &fasthttp.Server{Handler: func(c *fasthttp.RequestCtx) {
		c.SetContentType("application/json")
		if strings.HasSuffix(string(c.Path()), "/order") {
			fmt.Fprintf(c, `{"status":"ok","id":%d}`, 500000+p.orders.Add(1))
			return
		}
		row := `","status":4,"phase":"on hold"}`
		if p.round.Load()%2 == 0 {
			row = `","status":3,"phase":"call back"}`
		}
		out := append(make([]byte, 0, 64<<10), '[')
		for i, id := range bytes.Split(c.PostBody(), []byte("&")) {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, `{"id":"`...)
			id = bytes.TrimPrefix(bytes.TrimPrefix(id, []byte("ids[]=")), []byte("ids%5B%5D="))
			out = append(out, id...)
			out = append(out, row...)
		}
		c.SetBody(append(out, ']'))
	}}
	go srv.Serve(ln)
	return p, func() { srv.Shutdown() }, nil
}

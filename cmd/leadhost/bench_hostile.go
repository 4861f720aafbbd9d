package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"leadhost/host/partner"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// The hostile scripts of issue 12 (items 4 and 5), as webhooks of one
// offer beside the bench offer.
var hostileHooks = map[string]string{
	"concat":  `local s = "x" while true do s = s .. s end`,
	"format":  `local s = "xxxxxxxx" while true do s = string.format("%s%s", s, s) end`,
	"tail":    `local function f(n) return f(n + 1) end return f(1)`,
	"pattern": `return string.find(string.rep("a", 95), ".-.-.-.-b")`,
	"log":     `while true do core.log(string.rep("x", 100)) end`,
	"leads":   `local i = 0 while true do i = i + 1 core.lead.add{key = req.query.k .. "-" .. i, fields = {phone = "79990001122"}} end`,
}

// runBenchHostile is `leadhost bench hostile`: what one offer's hostile
// scripts cost the host and another offer. It prints, for each script,
// the answer, the time to it, the process's peak RSS while it ran, and
// the CPU the process burned in the two seconds after the answer; the
// bench offer's webhook p50/p99 alone and beside stuck patterns; the log
// one webhook wrote; the leads a failing hook left.
func runBenchHostile(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("leadhost bench hostile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	duration := fs.Duration("duration", 10*time.Second, "how long each latency phase runs")
	timeout := fs.String("timeout", "5s", "the hostile offer's timeout")
	rate := fs.Float64("rate", 200, "the bench offer's webhooks a second")
	stuck := fs.Int("stuck", 4, "hostile calls in flight at once")
	only := fs.String("scripts", "concat,format,tail,pattern", "the scripts whose memory and CPU are measured, comma-separated")
	if _, err := parseInterleaved(fs, args); err != nil {
		return exitUsage
	}
	dir, err := os.MkdirTemp("", "leadhost-bench-hostile-")
	if err != nil {
		fmt.Fprintf(stderr, "leadhost bench: %v\n", err)
		return exitError
	}
	defer os.RemoveAll(dir)
	files := map[string]string{
		"bench/offer.toml":   benchOffer,
		"bench/hook.lua":     benchHook,
		"hostile/offer.toml": "name = \"hostile\"\ntimeout = \"" + *timeout + "\"\n[hook]\ntoken = \"bench\"\n",
	}
	for name, src := range hostileHooks {
		files["hostile/hooks/"+name+".lua"] = src
	}
	for name, content := range files {
		path := filepath.Join(dir, "scripts", name)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			fmt.Fprintf(stderr, "leadhost bench: %v\n", err)
			return exitError
		}
	}
	var logged atomic.Int64
	hctx, stop := context.WithCancel(ctx)
	h, err := startHost(hctx, hostConfig{listen: "127.0.0.1:0", data: filepath.Join(dir, "data"), scripts: filepath.Join(dir, "scripts"),
		noSync: true, log: slog.New(slog.NewTextHandler(countingWriter{&logged}, nil))})
	if err != nil {
		stop()
		fmt.Fprintf(stderr, "leadhost bench: %v\n", err)
		return exitError
	}
	defer func() { stop(); h.wait() }()
	base := "http://" + h.addr.String()
	client := &fasthttp.Client{ReadTimeout: time.Minute}
	call := func(hook, key string) (int, string) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(base + "/hook/hostile/" + hook + "?token=bench&k=" + key)
		if err := client.Do(req, resp); err != nil {
			return 0, err.Error()
		}
		return resp.StatusCode(), string(resp.Body())
	}

	fmt.Fprintf(stdout, "hostile offer: timeout %s, %d calls in flight at once\n\n", *timeout, *stuck)
	fmt.Fprintf(stdout, "%-9s %6s %9s %10s %13s  %s\n", "script", "status", "answered", "peak RSS", "CPU after", "answer")
	for _, name := range strings.Split(*only, ",") {
		if hostileHooks[name] == "" {
			continue
		}
		debug.FreeOSMemory()
		rssBefore := rss()
		peak := watchRSS()
		start := time.Now()
		var wg sync.WaitGroup
		var status int
		var answer string
		for i := range *stuck {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, a := call(name, strconv.Itoa(i))
				if i == 0 {
					status, answer = s, a
				}
			}()
		}
		wg.Wait()
		took := time.Since(start)
		cpu0 := cpuTime()
		time.Sleep(2 * time.Second)
		after := cpuTime() - cpu0
		fmt.Fprintf(stdout, "%-9s %6d %9s %7d MB %11.2f s  %s\n", name, status, took.Round(10*time.Millisecond),
			(max(peak(), rssBefore)-rssBefore)>>20, after.Seconds(), partner.Excerpt([]byte(answer), 110))
	}

	fmt.Fprintf(stdout, "\nthe bench offer's webhooks at %.0f/s (p50, p99):\n", *rate)
	load(ctx, base, "w", 16, time.Second, 0)
	alone := load(ctx, base, "a", 16, *duration, *rate)
	fmt.Fprintf(stdout, "  %-40s %9s %9s %6d errors\n", "alone", alone.p50.Round(10*time.Microsecond), alone.p99.Round(10*time.Microsecond), alone.errors)
	var stopStuck atomic.Bool
	var wg sync.WaitGroup
	var calls atomic.Int64
	cpu0 := cpuTime()
	for i := range *stuck {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopStuck.Load() {
				call("pattern", strconv.Itoa(i))
				calls.Add(1)
			}
		}()
	}
	beside := load(ctx, base, "s", 16, *duration, *rate)
	stopStuck.Store(true)
	wg.Wait()
	fmt.Fprintf(stdout, "  %-40s %9s %9s %6d errors\n", fmt.Sprintf("beside %d stuck patterns (%d calls)", *stuck, calls.Load()),
		beside.p50.Round(10*time.Microsecond), beside.p99.Round(10*time.Microsecond), beside.errors)
	time.Sleep(2 * time.Second)
	fmt.Fprintf(stdout, "  CPU burned by the process over the phase and 2 s after: %.1f s\n", (cpuTime() - cpu0).Seconds())

	before := logged.Load()
	status, answer := call("log", "l")
	fmt.Fprintf(stdout, "\nlog: one webhook wrote %d bytes to the log (%d %s)\n", logged.Load()-before, status, partner.Excerpt([]byte(answer), 110))
	status, answer = call("leads", "failing")
	counts, err := h.st.CountLeads(ctx)
	left := 0
	if err == nil {
		for _, n := range counts["hostile"] {
			left += n
		}
	}
	fmt.Fprintf(stdout, "leads: a failing hook left %d leads (%d %s)\n", left, status, partner.Excerpt([]byte(answer), 110))
	return exitOK
}

// countingWriter counts what the host logs.
type countingWriter struct{ n *atomic.Int64 }

func (w countingWriter) Write(p []byte) (int, error) { w.n.Add(int64(len(p))); return len(p), nil }

// rss is the process's resident set, from /proc (0 elsewhere).
func rss() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:")); ok {
			kb, _ := strconv.ParseUint(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte("kB")))), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// watchRSS samples the RSS every 5 ms until the returned function is
// called, which gives the peak.
func watchRSS() func() uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if r := rss(); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); return peak.Load() }
}

// cpuTime is the CPU the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

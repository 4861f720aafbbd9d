package api

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"

	"leadhost/host"
)

// BenchmarkHookShadow is BenchmarkHook's webhook path with the offer's
// candidate (next/hook.lua, the live hook.lua again: no differences)
// compared in shadow, next to the same offer without one: the live
// path's cost of a candidate, and how many calls the shadow worker
// compared or dropped (its queue full) while they came.
func BenchmarkHookShadow(b *testing.B) {
	var seq atomic.Uint64
	for _, bc := range []struct {
		staged  bool
		callers int
	}{{false, 1}, {true, 1}, {false, 16}, {true, 16}} {
		name := fmt.Sprintf("no-candidate/callers=%d", bc.callers)
		if bc.staged {
			name = fmt.Sprintf("candidate/callers=%d", bc.callers)
		}
		staged := bc.staged
		b.Run(name, func(b *testing.B) {
			scripts := b.TempDir()
			for _, rel := range []string{"offer.toml", "hook.lua"} {
				src, err := os.ReadFile(filepath.Join("testdata/bench/gc", rel))
				if err != nil {
					b.Fatal(err)
				}
				os.MkdirAll(filepath.Join(scripts, "gc", host.NextDir), 0o755)
				os.WriteFile(filepath.Join(scripts, "gc", rel), src, 0o644)
				if staged && rel == "hook.lua" {
					os.WriteFile(filepath.Join(scripts, "gc", host.NextDir, rel), src, 0o644)
				}
			}
			if !staged {
				os.RemoveAll(filepath.Join(scripts, "gc", host.NextDir))
			}
			a := openApp(b, scripts)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); a.Shadows.Run(ctx) }()
			defer func() { cancel(); <-done }()
			srv := &Server{App: a, Log: slog.New(slog.DiscardHandler)}
			b.ReportAllocs()
			b.ResetTimer()
			call := func(c *fasthttp.RequestCtx) {
				i := seq.Add(1)
				c.Request.Reset()
				c.Response.Reset()
				c.Request.Header.SetMethod("GET")
				c.Request.SetRequestURI(fmt.Sprintf("/hook/gc?token=bench&order=S%d&phone=7999%07d&name=Ivan&email=ivan%%40example.com&cost=4990", i, i%10000000))
				srv.Handle(c)
				if c.Response.StatusCode() != 200 {
					b.Fatalf("%d %s", c.Response.StatusCode(), c.Response.Body())
				}
			}
			if bc.callers == 1 {
				// One caller at a time: the call's own latency, the shadow
				// run on the worker after it.
				var c fasthttp.RequestCtx
				for range b.N {
					call(&c)
				}
			} else {
				b.SetParallelism(bc.callers / runtime.GOMAXPROCS(0))
				b.RunParallel(func(pb *testing.PB) {
					var c fasthttp.RequestCtx
					for pb.Next() {
						call(&c)
					}
				})
			}
			b.StopTimer()
			a.Shadows.Idle(ctx)
			counts, _ := a.Shadows.Status("gc")
			b.ReportMetric(float64(counts.Compared)/float64(b.N), "compared/op")
			b.ReportMetric(float64(counts.Dropped)/float64(b.N), "dropped/op")
			if counts.Differing > 0 {
				b.Errorf("%d calls differ: the candidate is the live hook", counts.Differing)
			}
		})
	}
}

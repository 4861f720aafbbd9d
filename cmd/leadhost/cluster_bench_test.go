package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"leadhost/store/postgres/pgtest"
)

// BenchmarkClusterHooks: webhook → durable lead through one or two
// `leadhost serve` processes on one PostgreSQL database, 64 requests in
// flight spread over them round robin (a load balancer), b.N webhooks in
// all; it reports req/s, p50 and p99. The database is a new one on
// LEADHOST_BENCH_DATABASE_URL (a server as shipped, fsync on), else on the
// test server (fsync off). The figures of the README:
//
//	LEADHOST_BENCH_DATABASE_URL=postgres://…/postgres go test ./cmd/leadhost \
//		-run '^$' -bench ClusterHooks -benchtime 40000x
func BenchmarkClusterHooks(b *testing.B) {
	for _, nodes := range []int{1, 2} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			dbURL := pgtest.On(b, os.Getenv("LEADHOST_BENCH_DATABASE_URL"))
			scripts := filepath.Join(b.TempDir(), "scripts")
			os.MkdirAll(filepath.Join(scripts, "bench"), 0o755)
			os.WriteFile(filepath.Join(scripts, "bench", "offer.toml"), []byte(benchOffer), 0o644)
			os.WriteFile(filepath.Join(scripts, "bench", "hook.lua"), []byte(benchHook), 0o644)
			addrs := make([]string, nodes)
			for i := range addrs {
				addrs[i] = startClusterNode(b, dbURL, scripts, filepath.Join(b.TempDir(), "data")).addr
			}
			const inFlight = 64
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: inFlight}, Timeout: 10 * time.Second}
			var (
				next   atomic.Int64
				failed atomic.Int64
				mu     sync.Mutex
				lat    []time.Duration
				wg     sync.WaitGroup
			)
			b.ResetTimer()
			for c := range inFlight {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var mine []time.Duration
					for {
						n := next.Add(1)
						if n > int64(b.N) {
							break
						}
						start := time.Now()
						resp, err := client.Get(fmt.Sprintf("http://%s/hook/bench?token=bench&order=b%d&phone=7999%07d&name=N%d&email=e%d@example.com",
							addrs[int(n)%nodes], n, n, c, n))
						if err != nil {
							failed.Add(1)
							continue
						}
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							failed.Add(1)
						}
						mine = append(mine, time.Since(start))
					}
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
				}()
			}
			wg.Wait()
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d of %d webhooks failed", n, b.N)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

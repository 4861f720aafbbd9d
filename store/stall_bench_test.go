package store

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// BenchmarkAddStalls adds durable leads from 64 writers, enough for
// Badger to flush memtables and compact meanwhile, and reports the
// latency of an Add at p50, p99, p99.9 and its worst: a stall of the
// write path shows in the last two. Variants try Badger's options for a
// 2-core machine (issue 16): the memtable's size (a flush writes one
// table of it, whose blocks a log fdatasync may wait behind) and how
// many level-0 tables stall writes.
//
//	go test ./store -run XXX -bench AddStalls -benchtime 100000x
func BenchmarkAddStalls(b *testing.B) {
	for _, v := range []struct {
		name string
		tune func(badger.Options) badger.Options
	}{
		{"memtable8MB", nil}, // badgerOptions
		{"memtable16MB", func(o badger.Options) badger.Options { return o.WithMemTableSize(16 << 20).WithNumMemtables(3) }},
		{"memtable32MB", func(o badger.Options) badger.Options { return o.WithMemTableSize(32 << 20).WithNumMemtables(3) }},
	} {
		b.Run(v.name, func(b *testing.B) {
			s, err := Open(Options{Dir: b.TempDir(), GCInterval: -1, tuneBadger: v.tune})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			lat := make([]time.Duration, b.N)
			var wg sync.WaitGroup
			next := make(chan int, 64)
			b.ResetTimer()
			for w := 0; w < 64; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range next {
						t := time.Now()
						if _, _, err := s.Add(ctx, largeLead(i)); err != nil {
							b.Error(err)
						}
						lat[i] = time.Since(t)
					}
				}()
			}
			for i := 0; i < b.N; i++ {
				next <- i
			}
			close(next)
			wg.Wait()
			b.StopTimer()
			slices.Sort(lat)
			at := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond) }
			reportRate(b, b.N, "adds/s")
			b.ReportMetric(at(0.5), "p50-ms")
			b.ReportMetric(at(0.99), "p99-ms")
			b.ReportMetric(at(0.999), "p99.9-ms")
			b.ReportMetric(at(1), "max-ms")
		})
	}
}

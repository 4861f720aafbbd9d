package store

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkWALAppend appends records of a group's size with an fdatasync
// each, into a fresh (growing) segment and into a recycled one, and
// reports an append's p50, p99 and worst: the disk's own tail, under
// every durable webhook's (issue 16's half-load p99 < 10 ms).
//
//	go test ./store -run '^$' -bench WALAppend -benchtime 5s
func BenchmarkWALAppend(b *testing.B) {
	for _, size := range []int{4 << 10, 32 << 10} {
		for _, recycled := range []bool{false, true} {
			b.Run(fmt.Sprintf("%dKiB/recycled=%v", size>>10, recycled), func(b *testing.B) {
				w, err := openWAL(b.TempDir(), 0, false)
				if err != nil {
					b.Fatal(err)
				}
				if recycled {
					if err := w.prepareSpare(); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.start(); err != nil {
					b.Fatal(err)
				}
				defer w.close(false)
				rec := make([]byte, size)
				var took []time.Duration
				b.SetBytes(int64(size))
				b.ResetTimer()
				for b.Loop() {
					start := time.Now()
					if err := w.append(rec); err != nil {
						b.Fatal(err)
					}
					took = append(took, time.Since(start))
				}
				slices.Sort(took)
				b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
				b.ReportMetric(float64(took[len(took)-1].Microseconds()), "max-µs")
			})
		}
	}
}

package store

import (
	"fmt"
	"testing"
)

// BenchmarkWALAppend appends records of a group's size with an fdatasync
// each, into a fresh (growing) segment and into a recycled one.
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
				b.SetBytes(int64(size))
				b.ResetTimer()
				for b.Loop() {
					if err := w.append(rec); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

//go:build linux

package main

import (
	"os"
	"path/filepath"
	"syscall"
	"time"
	"unsafe"
)

// syncReference measures n times, in a file under dir, a 4 KiB write and
// its fdatasync (what a write-ahead log of our own would pay per group),
// and an msync of one dirty page in a 64 MiB map (what Badger pays per
// sync: it maps its WAL and value log).
func syncReference(dir string, n int) []syncFigures {
	return []syncFigures{fdatasyncRef(dir, n), msyncRef(dir, n)}
}

func fdatasyncRef(dir string, n int) syncFigures {
	out := syncFigures{name: "fdatasync after a 4 KiB append"}
	f, err := os.CreateTemp(dir, "syncref-")
	if err != nil {
		out.err = err
		return out
	}
	defer os.Remove(f.Name())
	defer f.Close()
	page := make([]byte, 4096)
	ds := make([]time.Duration, 0, n)
	for range n {
		if _, err := f.Write(page); err != nil {
			out.err = err
			return out
		}
		t := time.Now()
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			out.err = err
			return out
		}
		ds = append(ds, time.Since(t))
	}
	out.p50, out.p99 = spread(ds)
	return out
}

func msyncRef(dir string, n int) syncFigures {
	out := syncFigures{name: "msync of one dirty page in a 64 MiB map"}
	const size = 64 << 20
	path := filepath.Join(dir, "syncref.map")
	f, err := os.Create(path)
	if err != nil {
		out.err = err
		return out
	}
	defer os.Remove(path)
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		out.err = err
		return out
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		out.err = err
		return out
	}
	defer syscall.Munmap(m)
	ds := make([]time.Duration, 0, n)
	for i := range n {
		m[(i*4096)%size] = byte(i) | 1
		t := time.Now()
		if _, _, e := syscall.Syscall(syscall.SYS_MSYNC, uintptr(unsafe.Pointer(&m[0])), size, syscall.MS_SYNC); e != 0 {
			out.err = e
			return out
		}
		ds = append(ds, time.Since(t))
	}
	out.p50, out.p99 = spread(ds)
	return out
}

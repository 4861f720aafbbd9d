//go:build unix

package store

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// openSpool maps the journal's spool in dir (made, of zeros, if missing
// or not of its size). Its blocks are written when it is made, so that a
// page of the map never waits for a block the disk may not have (a
// SIGBUS, not an error).
func openSpool(dir string) (*spool, error) {
	path := filepath.Join(dir, "journal.spool")
	size := int64(spoolMeta + spoolDisk)
	if fi, err := os.Stat(path); err != nil || fi.Size() != size {
		if err := writeZeros(path, size); err != nil {
			return nil, fmt.Errorf("journal spool: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("journal spool: %w", err)
	}
	defer f.Close() // the map stays
	m, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("journal spool: map %s: %w", path, err)
	}
	return newSpool(m[spoolMeta:], m[:spoolMeta], func() error { return syscall.Munmap(m) })
}

// writeZeros makes the file at path, size bytes of zeros with their
// blocks allocated, whole or not at all.
func writeZeros(path string, size int64) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	// fallocate gives the blocks without writing them (8 MiB of zeros
	// took a fresh store's Open from 90 to 148 ms); where the file
	// system cannot, they are written.
	if allocate(f, size) != nil {
		zeros := make([]byte, 1<<20)
		for off := int64(0); off < size && err == nil; off += int64(len(zeros)) {
			_, err = f.WriteAt(zeros[:min(int64(len(zeros)), size-off)], off)
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

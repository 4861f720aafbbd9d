package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// The write-ahead log is what makes a group durable: the committer
// (commit.go) appends each group as one record and syncs it with one
// fdatasync, then writes the group to Badger, which never syncs (it is
// opened with SyncWrites off). Badger synced every commit itself with two
// msyncs (its memtable's log, then its value log), on the path its flushes
// and compactions also take; this log costs one fdatasync of the bytes
// just written and nothing else (the shape of Dgraph's Raft WAL under
// Badger).
//
// The log is a row of segments in <Dir>/wal, named by a number that only
// grows. A record is
//
//	length  uint32, little-endian, of the payload
//	crc     uint32, CRC-32C of the segment's number (8 bytes) and the payload
//	payload a group's writes (encodePart)
//
// A record is appended at the end of the current segment; one that does
// not fit in what is left starts a new segment (sized to hold it, if it is
// bigger than a segment).
//
// A segment's end is the first record whose length runs past the file or
// whose CRC does not match: a record torn by a crash, the zeros of a fresh
// file, or what an earlier life of a recycled file left (its CRC was made
// with another segment number). Nothing after a segment's end is read.
// A torn record was never acknowledged: its caller is woken only after the
// fdatasync that wrote it whole.
//
// Segments are recycled: one that a checkpoint (checkpoint.go) has put
// behind it is renamed to a spare, and a new segment takes a spare if
// there is one. A recycled file has its blocks, so the fdatasync after a
// record writes data only; appending to a file that grows makes every
// fdatasync also write the file's new size to the file system's journal
// (measured on this machine's ext4, 6 KB records: p50 168–212 µs into a
// written file against 287–294 µs appending, fallocate'd 257–277 µs).

// defaultWALSegment is a segment's size.
const defaultWALSegment = 64 << 20

// walSpares is how many recycled segments are kept for later.
const walSpares = 2

// walHeader is a record's length and CRC.
const walHeader = 8

// maxWALRecord bounds a record's length, so that a corrupt length is not
// taken for a record to allocate.
const maxWALRecord = 1 << 30

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// wal is the write-ahead log. append is called by one goroutine at a
// time (the committer's flight); sealed, recycle and close may run
// beside it.
type wal struct {
	dir     string
	segSize int64
	noSync  bool

	mu     sync.Mutex // guards what follows against the checkpoint
	f      *os.File   // the current segment
	num    uint64     // its number
	off    int64      // where its next record goes
	size   int64      // its file's size
	sealed []uint64   // segments before the current one, not yet recycled
	spares []string   // recycled files, to become segments
	broken error      // a failed sync: the log takes nothing more

	fresh bool // the current segment grows as it is written (not a spare)
	asked bool // wantSpare was signalled for it

	// room says whether n more bytes on the disk are fine to spend on a
	// spare (nil: always); the store asks its disk guard (disk.go).
	room func(n int64) bool

	buf       []byte
	rotated   chan struct{} // signalled when a segment is sealed
	wantSpare chan struct{} // signalled when a fresh segment has taken a MiB
}

// spareAfter is how much a fresh segment takes before a spare is
// prepared to replace it: a store that writes less never pays for one.
const spareAfter = 1 << 20

// openWAL opens the log in dir, creating it if needed. The segments found
// are kept for replay; nothing is appended until start.
func openWAL(dir string, segSize int64, noSync bool) (*wal, error) {
	if segSize <= 0 {
		segSize = defaultWALSegment
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("write-ahead log: %w", err)
	}
	w := &wal{dir: dir, segSize: segSize, noSync: noSync,
		rotated: make(chan struct{}, 1), wantSpare: make(chan struct{}, 1)}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("write-ahead log: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".seg"):
			n, err := strconv.ParseUint(strings.TrimSuffix(name, ".seg"), 16, 64)
			if err != nil {
				return nil, fmt.Errorf("write-ahead log: %s is not a segment's name", filepath.Join(dir, name))
			}
			w.sealed = append(w.sealed, n)
		case strings.HasSuffix(name, ".spare"):
			w.spares = append(w.spares, filepath.Join(dir, name))
		case strings.HasSuffix(name, ".tmp"):
			os.Remove(filepath.Join(dir, name)) // a spare a crash cut short
		}
	}
	slices.Sort(w.sealed)
	if n := len(w.sealed); n > 0 {
		w.num = w.sealed[n-1]
	}
	return w, nil
}

func (w *wal) segPath(n uint64) string {
	return filepath.Join(w.dir, fmt.Sprintf("%016x.seg", n))
}

// replay calls fn with each record of every segment, in order, up to each
// segment's end. It returns how many records it read and how many bytes
// it left behind the ends (a torn tail, or the rest of a segment).
func (w *wal) replay(fn func(payload []byte) error) (records int, err error) {
	for _, n := range w.sealed {
		data, err := os.ReadFile(w.segPath(n))
		if err != nil {
			return records, fmt.Errorf("write-ahead log: %w", err)
		}
		for _, p := range walRecords(data, n) {
			if err := fn(p); err != nil {
				return records, fmt.Errorf("write-ahead log: segment %d, record %d: %w", n, records+1, err)
			}
			records++
		}
	}
	return records, nil
}

// walRecords cuts a segment's bytes into its records' payloads, up to
// the segment's end.
func walRecords(data []byte, num uint64) [][]byte {
	var out [][]byte
	for off := 0; len(data)-off >= walHeader; {
		n := binary.LittleEndian.Uint32(data[off:])
		sum := binary.LittleEndian.Uint32(data[off+4:])
		end := off + walHeader + int(n)
		if n == 0 || n > maxWALRecord || end > len(data) {
			break
		}
		p := data[off+walHeader : end]
		if walCRC(num, p) != sum {
			break
		}
		out = append(out, p)
		off = end
	}
	return out
}

func walCRC(num uint64, payload []byte) uint32 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], num)
	return crc32.Update(crc32.Checksum(b[:], castagnoli), castagnoli, payload)
}

// start begins a new segment after every replayed one. The replayed ones
// stay sealed: the checkpoint that follows the replay recycles them.
func (w *wal) start() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.next(0)
}

// next makes segment num+1 current, big enough for a record of need
// bytes. Called with mu held.
func (w *wal) next(need int64) error {
	size := max(w.segSize, need)
	num := w.num + 1
	path := w.segPath(num)
	var (
		f   *os.File
		err error
	)
	fresh := true
	if n := len(w.spares); n > 0 && size == w.segSize {
		fresh = false
		spare := w.spares[n-1]
		if err = os.Rename(spare, path); err == nil {
			w.spares = w.spares[:n-1]
			f, err = os.OpenFile(path, os.O_RDWR, 0)
		}
	} else {
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	}
	if err != nil {
		return fmt.Errorf("write-ahead log: new segment: %w", err)
	}
	// The segment's name must be on disk before a record in it is
	// acknowledged.
	if err := w.syncDir(); err != nil {
		f.Close()
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("write-ahead log: %w", err)
	}
	if w.f != nil {
		w.f.Close()
		w.sealed = append(w.sealed, w.num)
		select {
		case w.rotated <- struct{}{}:
		default:
		}
	}
	w.f, w.num, w.off, w.size = f, num, 0, fi.Size()
	w.fresh, w.asked = fresh, false
	return nil
}

func (w *wal) syncDir() error {
	if w.noSync {
		return nil
	}
	d, err := os.Open(w.dir)
	if err != nil {
		return fmt.Errorf("write-ahead log: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("write-ahead log: sync %s: %w", w.dir, err)
	}
	return nil
}

// append writes payload as one record and syncs it (unless noSync). When
// it returns nil, the record is on disk; otherwise nothing of it counts:
// the next record is written over it.
func (w *wal) append(payload []byte) error {
	if len(payload) == 0 || len(payload) > maxWALRecord {
		return fmt.Errorf("write-ahead log: a record of %d bytes: %w", len(payload), ErrInvalid)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.broken != nil {
		return w.broken
	}
	need := int64(walHeader + len(payload))
	// A fresh segment gives way to a spare as soon as there is one.
	full := w.off+need > max(w.size, w.segSize)
	if (full || w.fresh && len(w.spares) > 0) && w.off > 0 {
		if err := w.next(need); err != nil {
			return err
		}
	}
	b := binary.LittleEndian.AppendUint32(w.buf[:0], uint32(len(payload)))
	b = binary.LittleEndian.AppendUint32(b, walCRC(w.num, payload))
	b = append(b, payload...)
	w.buf = b
	if _, err := w.f.WriteAt(b, w.off); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			// The disk guard (disk.go) keeps a reserve, so this is rare;
			// callers see it as the guard's error (503), nothing written.
			return fmt.Errorf("write-ahead log: %w: %w", ErrDiskFull, err)
		}
		return fmt.Errorf("write-ahead log: %w", err)
	}
	if !w.noSync {
		if err := fdatasync(w.f); err != nil {
			// What reached the disk is unknown (the kernel may have
			// dropped the pages): cover the record's header so that no
			// replay takes it, and take no more.
			w.f.WriteAt(make([]byte, walHeader), w.off)
			w.broken = fmt.Errorf("write-ahead log: sync failed, no writes until leadhost restarts: %w", err)
			return w.broken
		}
	}
	w.off += need
	w.size = max(w.size, w.off)
	if w.fresh && !w.asked && w.off > spareAfter {
		w.asked = true
		select {
		case w.wantSpare <- struct{}{}:
		default:
		}
	}
	return nil
}

// sealedUpTo is the newest sealed segment (0: none). Every group in it
// and before it is in Badger: a segment is sealed by the append of the
// group after its last, and the committer sends a group only once the one
// before it landed.
func (w *wal) sealedUpTo() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := len(w.sealed); n > 0 {
		return w.sealed[n-1]
	}
	return 0
}

// recycle turns the sealed segments up to num into spares (past walSpares,
// it deletes them). Badger must hold what they hold on disk.
func (w *wal) recycle(num uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []error
	keep := w.sealed[:0]
	for _, n := range w.sealed {
		if n > num {
			keep = append(keep, n)
			continue
		}
		errs = append(errs, w.retire(w.segPath(n), n))
	}
	w.sealed = keep
	return errors.Join(errs...)
}

// retire makes segment n at path a spare or removes it. A segment
// sealed before it filled its size (the next record did not fit) is
// padded with zeros to it. Called with mu held.
func (w *wal) retire(path string, n uint64) error {
	if len(w.spares) < walSpares {
		if err := w.padTo(path, w.segSize); err == nil {
			spare := path + ".spare"
			if err := os.Rename(path, spare); err != nil {
				return fmt.Errorf("write-ahead log: %w", err)
			}
			w.spares = append(w.spares, spare)
			return nil
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("write-ahead log: %w", err)
	}
	return nil
}

// padTo writes zeros at the end of the file at path up to size. A file
// too big, or too small to be worth it, or one the disk has no room to
// pad, is no spare (errNotSpare).
func (w *wal) padTo(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() > size || fi.Size() < size/2 || w.room != nil && !w.room(size-fi.Size()) {
		return errNotSpare
	}
	if fi.Size() < size {
		_, err = f.WriteAt(make([]byte, size-fi.Size()), fi.Size())
	}
	return err
}

var errNotSpare = errors.New("not a segment's size")

// prepareSpare writes a spare segment of zeros if there is none, so that
// the next segment's fdatasyncs write data only. The checkpoint's
// goroutine calls it, off the committer's path, once a fresh segment has
// taken spareAfter bytes (the current one then gives way to it) and after
// each checkpoint.
func (w *wal) prepareSpare() error {
	w.mu.Lock()
	have := len(w.spares)
	w.mu.Unlock()
	if have > 0 || w.room != nil && !w.room(w.segSize) {
		return nil
	}
	f, err := os.CreateTemp(w.dir, "zeros-*.tmp")
	if err != nil {
		return fmt.Errorf("write-ahead log: %w", err)
	}
	tmp := f.Name()
	path := strings.TrimSuffix(tmp, ".tmp") + ".spare"
	// A MiB at a time, each synced: a journal commit that the log's own
	// fdatasync starts meanwhile then waits for a MiB of it at most, not
	// for the whole segment (ext4 writes a file's new blocks before the
	// commit that allocates them).
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < w.segSize && err == nil; off += int64(len(zeros)) {
		if _, err = f.Write(zeros[:min(int64(len(zeros)), w.segSize-off)]); err == nil {
			err = fdatasync(f)
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
		return fmt.Errorf("write-ahead log: prepare a segment: %w", err)
	}
	w.mu.Lock()
	w.spares = append(w.spares, path)
	w.mu.Unlock()
	return nil
}

// close closes the current segment. With clean (Badger holds everything
// on disk), every segment is recycled: the next open replays nothing.
func (w *wal) close(clean bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var err error
	if w.f != nil {
		err = w.f.Close()
		w.sealed = append(w.sealed, w.num)
		w.f = nil
	}
	if !clean {
		return err
	}
	errs := []error{err}
	for _, n := range w.sealed {
		errs = append(errs, w.retire(w.segPath(n), n))
	}
	w.sealed = nil
	return errors.Join(errs...)
}

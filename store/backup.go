package store

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/dgraph-io/badger/v4"
)

// A backup file is a header line, then the leads' database and the
// journal's, each Badger's own backup stream (DB.Backup: a snapshot read,
// so a live store's copy is consistent as of the moment each part
// begins), cut into checksummed frames, then an end frame. Frames make a
// truncated or damaged file an error at restore, not a store that is
// silently missing its tail:
//
//	frame = part byte ('L' leads, 'J' journal, 'E' end) | uint32 length | uint32 CRC-32C | bytes
//
// A part ends with a frame of its letter and length 0.
const backupHeader = "leadhost backup 1\n"

const (
	partLeads   = 'L'
	partJournal = 'J'
	partEnd     = 'E'

	maxFrame = 4 << 20 // a frame is at most this; a longer one is damage
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// restoringMark is the file a restore keeps in the folder while it runs:
// a restore cut short (kill -9, power) leaves it, and Open refuses a
// folder that has it rather than serve half a store.
const restoringMark = "RESTORING"

// ErrNotEmpty means a restore was asked to write into a folder that
// already holds something.
var ErrNotEmpty = errors.New("not empty")

// InMemory says whether the store keeps nothing on disk (tests, dry
// runs): such a store has no backup.
func (s *Badger) InMemory() bool { return s.opts.InMemory }

// Backup writes a consistent copy of the store to w: every lead, its
// history and keys, the outboxes and feeds, the journal. It runs beside
// the store's writers; what they commit after a part's snapshot was taken
// is not in it. written, if set, is told the bytes written so far.
func (s *Badger) Backup(ctx context.Context, w io.Writer, written func(int64)) error {
	if s.opts.InMemory {
		return fmt.Errorf("store: backup: an in-memory store has nothing on disk to copy: %w", ErrInvalid)
	}
	s.backups.RLock() // Close waits for it before closing Badger
	defer s.backups.RUnlock()
	select {
	case <-s.closed:
		return fmt.Errorf("store: backup: %w", ErrClosed)
	default:
	}
	bw := &frameWriter{w: bufio.NewWriterSize(w, 64<<10), ctx: ctx, closed: s.closed, written: written}
	if err := bw.writeAll(s.db, s.jdb); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	return nil
}

// writeAll writes the header, the leads' part, the journal's and the end.
func (f *frameWriter) writeAll(leads, journal *badger.DB) error {
	if _, err := f.w.WriteString(backupHeader); err != nil {
		return err
	}
	f.n += int64(len(backupHeader))
	for _, part := range []struct {
		letter byte
		db     *badger.DB
	}{{partLeads, leads}, {partJournal, journal}} {
		f.part = part.letter
		if _, err := part.db.Backup(f, 0); err != nil {
			return err
		}
		if err := f.frame(nil); err != nil { // the part's end
			return err
		}
	}
	f.part = partEnd
	if err := f.frame(nil); err != nil {
		return err
	}
	return f.w.Flush()
}

// frameWriter cuts what Badger writes into frames of the current part.
type frameWriter struct {
	w       *bufio.Writer
	ctx     context.Context
	closed  <-chan struct{} // the store's: closing it ends the backup
	part    byte
	n       int64
	written func(int64)
}

func (f *frameWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		if err := f.ctx.Err(); err != nil {
			return 0, err // Badger's stream has no context of its own
		}
		select {
		case <-f.closed:
			return 0, ErrClosed
		default:
		}
		chunk := p[:min(len(p), maxFrame)]
		if len(chunk) == 0 {
			break
		}
		if err := f.frame(chunk); err != nil {
			return 0, err
		}
		p = p[len(chunk):]
	}
	return total, nil
}

func (f *frameWriter) frame(b []byte) error {
	var head [9]byte
	head[0] = f.part
	binary.LittleEndian.PutUint32(head[1:], uint32(len(b)))
	binary.LittleEndian.PutUint32(head[5:], crc32.Checksum(b, crcTable))
	if _, err := f.w.Write(head[:]); err != nil {
		return err
	}
	if _, err := f.w.Write(b); err != nil {
		return err
	}
	f.n += int64(len(head) + len(b))
	if f.written != nil {
		f.written(f.n)
	}
	return nil
}

// Restore fills the empty (or absent) folder dir from a backup Backup
// wrote. A folder that holds anything is refused (ErrNotEmpty); a backup
// that is truncated or damaged is an error and leaves dir as empty as it
// was found.
func Restore(ctx context.Context, dir string, r io.Reader) (err error) {
	if dir == "" {
		return fmt.Errorf("store: restore: no data directory: %w", ErrInvalid)
	}
	switch names, rerr := readDirNames(dir); {
	case rerr == nil && len(names) > 0:
		return fmt.Errorf("store: restore into %s: it holds %d entries (%s…); restore fills an empty folder only: %w", dir, len(names), names[0], ErrNotEmpty)
	case rerr != nil && !errors.Is(rerr, os.ErrNotExist):
		return fmt.Errorf("store: restore: %w", rerr)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head := make([]byte, len(backupHeader))
	if _, err := io.ReadFull(br, head); err != nil || string(head) != backupHeader {
		return fmt.Errorf("store: restore: not a leadhost backup (it does not begin %q): %w", backupHeader[:len(backupHeader)-1], ErrInvalid)
	}
	defer func() {
		if err != nil { // leave the folder as it was: empty
			if entries, _ := readDirNames(dir); len(entries) > 0 {
				for _, name := range entries {
					os.RemoveAll(filepath.Join(dir, name))
				}
			}
		}
	}()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, restoringMark), []byte("a restore is filling this folder\n"), 0o644); err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	opts, quiet := Options{Dir: dir}, slog.New(slog.DiscardHandler)
	fr := &frameReader{r: br, ctx: ctx}
	for _, part := range []struct {
		letter byte
		opts   badger.Options
	}{{partLeads, badgerOptions(opts, quiet)}, {partJournal, journalOptions(opts, quiet)}} {
		if err := restorePart(part.opts, fr, part.letter); err != nil {
			return err
		}
	}
	fr.part, fr.ended = partEnd, false
	if _, err := fr.Read(make([]byte, 1)); err != io.EOF {
		return fmt.Errorf("store: restore: the backup has no end mark (cut short?): %w", ErrInvalid)
	}
	if _, err := br.Peek(1); err != io.EOF {
		return fmt.Errorf("store: restore: the backup goes on after its end mark (two files joined?): %w", ErrInvalid)
	}
	if err := os.Remove(filepath.Join(dir, restoringMark)); err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	return nil
}

func restorePart(o badger.Options, fr *frameReader, letter byte) error {
	db, err := badger.Open(o)
	if err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	fr.part, fr.ended, fr.rec = letter, false, recordGuard{}
	if err := db.Load(fr, 16); err != nil {
		db.Close()
		return fmt.Errorf("store: restore: %w", asDamage(err))
	}
	if !fr.ended {
		db.Close()
		return fmt.Errorf("store: restore: the backup's %c part does not end where it should: %w", letter, ErrInvalid)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	return nil
}

// asDamage words a read error of a backup (cut short, bad checksum) so
// the user knows it is the file, not the folder.
func asDamage(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("the backup is cut short: %w", ErrInvalid)
	}
	return err
}

// frameReader gives back what one part's frames hold, checking each.
type frameReader struct {
	r     *bufio.Reader
	ctx   context.Context
	part  byte
	buf   []byte // what is left of the current frame
	room  []byte // the frames' buffer, reused
	ended bool
	rec   recordGuard
}

// maxRecord bounds one record of Badger's backup stream (a size, then a
// list of entries that long). Badger's stream batches are about 100 MB
// at most; DB.Load allocates the size it reads before reading, so a
// larger one — a damaged or forged file — is refused before it can.
const maxRecord = 512 << 20

// recordGuard follows the records of Badger's backup stream as they
// pass, and refuses a size over maxRecord.
type recordGuard struct {
	left  uint64 // bytes of the current record's list still to pass
	head  [8]byte
	headN int
}

func (g *recordGuard) pass(b []byte) error {
	for len(b) > 0 {
		if g.left > 0 {
			k := min(g.left, uint64(len(b)))
			g.left -= k
			b = b[k:]
			continue
		}
		k := copy(g.head[g.headN:], b)
		g.headN += k
		b = b[k:]
		if g.headN == len(g.head) {
			g.headN = 0
			if g.left = binary.LittleEndian.Uint64(g.head[:]); g.left > maxRecord {
				return fmt.Errorf("the backup is damaged: a record claims %d bytes: %w", g.left, ErrInvalid)
			}
		}
	}
	return nil
}

func (f *frameReader) Read(p []byte) (int, error) {
	for len(f.buf) == 0 {
		if f.ended {
			return 0, io.EOF
		}
		if err := f.ctx.Err(); err != nil {
			return 0, err
		}
		var head [9]byte
		if _, err := io.ReadFull(f.r, head[:]); err != nil {
			return 0, io.ErrUnexpectedEOF
		}
		n := binary.LittleEndian.Uint32(head[1:])
		if head[0] != f.part || n > maxFrame {
			return 0, fmt.Errorf("the backup is damaged: a frame of part %q (%d bytes) where part %q was due: %w", head[0], n, f.part, ErrInvalid)
		}
		if cap(f.room) < int(n) {
			f.room = make([]byte, n) // at most maxFrame, checked above
		}
		f.buf = f.room[:n]
		if _, err := io.ReadFull(f.r, f.buf); err != nil {
			return 0, io.ErrUnexpectedEOF
		}
		if crc32.Checksum(f.buf, crcTable) != binary.LittleEndian.Uint32(head[5:]) {
			return 0, fmt.Errorf("the backup is damaged: a checksum does not match in part %q: %w", f.part, ErrInvalid)
		}
		if n == 0 {
			f.ended = true
		}
	}
	n := copy(p, f.buf)
	f.buf = f.buf[n:]
	if err := f.rec.pass(p[:n]); err != nil {
		return 0, err
	}
	return n, nil
}

func readDirNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// A checkpoint puts the write-ahead log (wal.go) behind Badger: once
// Badger's own files hold a group on disk, the log need not. Badger runs
// without syncs, so the checkpoint syncs its files itself: every memtable
// log (*.mem, the active one and those waiting to be flushed, which
// Badger does not sync when it moves on to a new one) and every value log
// (*.vlog). Its tables and manifest Badger syncs as it writes them. Then
// the sealed segments are recycled: every group in them was in Badger
// before the sync (sealedUpTo).
//
// It runs after each sealed segment, beside the committer, and on Open
// after the replay. Close needs none: Badger's Close writes its memtable
// out, and the log is recycled after it.

// checkpoint syncs Badger's logs and recycles the log's sealed segments.
func (s *Badger) checkpoint() error {
	upTo := s.wal.sealedUpTo()
	if upTo == 0 {
		return nil
	}
	if err := syncBadgerLogs(s.opts.Dir); err != nil {
		return fmt.Errorf("store: checkpoint: %w", err)
	}
	return s.wal.recycle(upTo)
}

// checkpoints runs a checkpoint each time the log seals a segment, and
// prepares spare segments when the log asks, until the store closes.
func (s *Badger) checkpoints() {
	for {
		select {
		case <-s.closed:
			return
		case <-s.wal.rotated:
			if err := s.checkpoint(); err != nil {
				s.log.Warn("checkpoint", "err", err)
			}
			s.prepareSpare()
		case <-s.wal.wantSpare:
			s.prepareSpare()
		}
	}
}

// syncBadgerLogs fdatasyncs Badger's memtable and value logs in dir, then
// dir itself. A file gone meanwhile was flushed into a table (synced) or
// collected.
func syncBadgerLogs(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".mem") && !strings.HasSuffix(name, ".vlog") {
			continue
		}
		f, err := os.Open(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := fdatasync(f); err != nil {
			errs = append(errs, fmt.Errorf("sync %s: %w", name, err))
		}
		f.Close()
	}
	// A log file Badger created since the last sync of the folder may not
	// be in it after a machine crash, synced or not.
	if d, err := os.Open(dir); err != nil {
		errs = append(errs, err)
	} else {
		if err := d.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("sync %s: %w", dir, err))
		}
		d.Close()
	}
	return errors.Join(errs...)
}

// prepareSpare has the log prepare a spare segment (if roomForSpare).
func (s *Badger) prepareSpare() {
	if err := s.wal.prepareSpare(); err != nil {
		s.log.Warn("write-ahead log", "err", err)
	}
}

// roomForSpare says whether n bytes of zeros for a spare segment leave
// the disk guard (disk.go) twice its reserve: a spare only saves time,
// and the room is the leads' and the journal's first.
func (s *Badger) roomForSpare(n int64) bool {
	if s.disk.journalStop.Load() {
		return false
	}
	free, err := s.freeSpace()
	return err == nil && free > 2*s.minFree()+uint64(n)
}

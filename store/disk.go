package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// A full disk must not kill the host: Badger writes its logs through
// memory maps, and a page it cannot get on a full disk is a SIGBUS, not an
// error. So the store watches the free space of its disk and stops
// writing before the disk is full, with room to spare for what is in
// flight, and starts again by itself when space returns:
//
//   - under 2×MinFreeDisk free, the journal yields first: its entries are
//     dropped (counted, logged once), leads are still written;
//   - under MinFreeDisk free, the store is read-only: every write is
//     ErrDiskFull (503 to callers), reads go on;
//   - over the journal's budget (JournalBudget), entries are kept as one
//     line, without their bodies, until expiry brings it under again.

// Defaults of the disk guard.
const (
	DefaultMinFreeDisk   = 256 << 20
	DefaultJournalBudget = 4 << 30
	diskCheckEvery       = time.Second
	journalValueLogFile  = 64 << 20 // what one rewrite of the journal's value log writes at most
)

// ErrDiskFull: the store's disk is full or under the reserve kept free;
// nothing was written. Writes are taken again once space is freed. Its
// words hold for both: a reserve set above the space free is no full disk.
var ErrDiskFull = errors.New("no writes until disk space is freed")

// diskState is what the guard last saw.
type diskState struct {
	readOnly    atomic.Pointer[string] // why the store takes no writes; nil: it does
	journalStop atomic.Bool            // the journal drops entries (the disk is nearly full)
	journalLean atomic.Bool            // the journal is over its budget: entries are one line
	dropped     atomic.Uint64          // journal entries dropped for space
	measured    atomic.Int64           // when the journal's size was last measured (unix ns)
	// written counts the bytes written since the last look, headroom
	// what was free above the reserve then: a look is taken at once when
	// a quarter of the headroom was written (noteWritten), not only each
	// second — a fast writer could fill the rest before the next tick.
	written  atomic.Int64
	headroom atomic.Int64
	looking  sync.Mutex // one look at a time
}

// journalSizeEvery is how often the journal's size is measured (a walk
// of its folder): its budget is gigabytes, reached in minutes at the
// least, so every ten seconds is soon enough.
const journalSizeEvery = 10 * time.Second

// ReadOnly says why the store takes no writes now ("" when it does).
func (s *Badger) ReadOnly() string {
	if why := s.disk.readOnly.Load(); why != nil {
		return *why
	}
	return ""
}

// writable is nil, or ErrDiskFull with why.
func (s *Badger) writable() error {
	if why := s.disk.readOnly.Load(); why != nil {
		return fmt.Errorf("%s: %w", *why, ErrDiskFull)
	}
	return nil
}

func (s *Badger) minFree() uint64 {
	if s.opts.MinFreeDisk > 0 {
		return uint64(s.opts.MinFreeDisk)
	}
	return DefaultMinFreeDisk
}

func (s *Badger) journalBudget() int64 {
	if s.opts.JournalBudget > 0 {
		return s.opts.JournalBudget
	}
	return DefaultJournalBudget
}

// noteWritten counts n bytes on their way to the disk (twice a group's
// size: the log, then Badger) and looks at the disk now when a quarter of
// what was free above the reserve has been written since the last look.
// A look already under way makes this one needless.
func (s *Badger) noteWritten(n int64) {
	if s.opts.InMemory {
		return
	}
	if s.disk.written.Add(n) < s.disk.headroom.Load()/4 {
		return
	}
	if s.disk.looking.TryLock() {
		s.disk.looking.Unlock()
		s.checkDisk()
	}
}

// checkDisk looks at the disk's free space and the journal's size once,
// and sets the store's state by them.
func (s *Badger) checkDisk() {
	s.disk.looking.Lock()
	defer s.disk.looking.Unlock()
	s.disk.written.Store(0)
	free, err := s.freeSpace()
	if err != nil {
		s.log.Warn("disk guard: cannot read the free space", "dir", s.opts.Dir, "err", err)
		return
	}
	reserve := s.minFree()
	s.disk.headroom.Store(int64(free) - int64(reserve))
	switch {
	case free < reserve:
		if s.disk.readOnly.Load() == nil {
			// Not the folder's path: /healthz shows this to anyone.
			// The reserve is the person's setting and may be above
			// gigabytes free: say it, not "the disk is full".
			why := fmt.Sprintf("under the --min-free-mb reserve: %d MiB free, %d MiB kept", free>>20, reserve>>20)
			s.disk.readOnly.Store(&why)
			s.log.Error("store read-only: "+why, "dir", s.opts.Dir, "free_mib", free>>20, "min_free_mib", reserve>>20)
		}
	case free >= reserve+reserve/4 && s.disk.readOnly.Load() != nil: // a margin, not to flap
		s.disk.readOnly.Store(nil)
		s.log.Info("store writable again: space was freed", "dir", s.opts.Dir, "free_mib", free>>20)
	}
	stop := free < 2*reserve || (s.disk.journalStop.Load() && free < 2*reserve+reserve/4) // a margin, not to flap
	if was := s.disk.journalStop.Swap(stop); was != stop {
		switch {
		case stop && s.disk.readOnly.Load() != nil:
			// The store's own line said why; leads are not stored either.
			s.log.Warn("journal paused with the store", "free_mib", free>>20, "min_free_mib", reserve>>20)
		case stop:
			s.log.Warn("journal paused: under twice the --min-free-mb reserve; leads are still stored", "free_mib", free>>20, "min_free_mib", reserve>>20)
		default:
			s.log.Info("journal resumed", "dropped_entries", s.disk.dropped.Load())
		}
	}
	now := time.Now().UnixNano()
	if now-s.disk.measured.Load() < int64(journalSizeEvery) {
		return
	}
	s.disk.measured.Store(now)
	size, err := diskUsage(filepath.Join(s.opts.Dir, "journal"))
	if err != nil {
		s.log.Warn("disk guard: cannot measure the journal", "err", err)
		return
	}
	lean := size > s.journalBudget()
	if was := s.disk.journalLean.Swap(lean); was != lean && lean {
		s.log.Warn("journal over its budget: entries kept as one line until old ones expire", "size_mib", size>>20, "budget_mib", s.journalBudget()>>20)
	}
}

func (s *Badger) freeSpace() (uint64, error) {
	if s.opts.FreeSpace != nil {
		return s.opts.FreeSpace()
	}
	return diskFree(s.opts.Dir)
}

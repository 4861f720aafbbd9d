// Package store keeps leads: the lead model, statuses and reasons, the
// edit rules every caller shares (Lua handlers, the API, the scheduler),
// the Store interface every backend implements (backend.go), and the
// default backend, an embedded Badger database (Badger) with the indexes
// the status checks read, the history of every change and durable change
// feeds. It knows nothing of Lua or HTTP.
//
// All writes go through one committer goroutine that gathers the Add and
// Edit calls in flight into one group, made durable by one record and one
// fdatasync in the store's write-ahead log, then written to Badger (group
// commit): a call returns only after its change is on disk, yet concurrent
// callers share the cost of the sync.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// SuggestedMemoryLimit is the soft memory limit (runtime/debug.SetMemoryLimit)
// for a process holding a store; the leadhost binary sets it unless
// GOMEMLIMIT is given. Badger's flushes and compactions allocate large
// buffers in bursts that become garbage at once; without a limit Go lets the
// heap double before collecting them, and a 1M-lead store peaked at 300-430
// MB RSS. With it, 190-260 MB, and writes measured no slower. Badger's live
// memory is bounded by its options (badgerOptions), not by the data size.
const SuggestedMemoryLimit = 256 << 20

// SuggestedGCPercent is the garbage collector's target
// (runtime/debug.SetGCPercent) under SuggestedMemoryLimit; the leadhost
// binary sets it unless GOGC is given. With Go's default (100) a webhook
// host holds 40-80 MB live and collects every second or so, each cycle
// marking for 15-200 ms beside the webhooks on two cores; of the 100 ms
// windows of `leadhost bench hook`'s half load that held a cycle, 22 of
// 24 had a p99 over 10 ms (of all windows 80%, on a loaded machine). At
// 400 the heap may grow to five times what is live before a collection:
// the same bench (-duration 4s, alternating, seven runs each) collected
// 14-22 times against 5-10, twice against once in the half-load phase,
// and (four of them measured) peaked at 186-213 MiB RSS against 252-257.
// The memory limit still caps the heap: past 51 MB live it is the limit
// that starts a cycle, as before.
const SuggestedGCPercent = 400

// SuggestedProcsPerCPU is how many Go processors (runtime.GOMAXPROCS) a
// process holding a store runs per CPU; the leadhost binary sets it unless
// GOMAXPROCS is given. Go's scheduler has no priorities: a Badger
// compaction runs up to five subcompactions, each with four compressing
// goroutines, and with one processor per CPU they hold every processor in
// 10 ms turns while a webhook's few microseconds of work wait in the run
// queue behind them. `leadhost bench mix` (-rate 5000, -duration 5s) then
// saw every webhook wait 100-300 ms for up to a second and a half; a
// trace put Badger's table builders at 70-130 ms of each 100 ms window on
// two cores. With more processors than CPUs, the kernel's scheduler, which
// runs a thread that wakes before one that has run for long, shares the
// CPUs instead: the mix's p99 went from 202-368 ms (eight runs) to
// 33-131 ms (twenty runs, most 35-60), the check runs and sends doing
// about a fifth less beside the webhooks, and `wrk -t2 -c64` against
// serve measured no slower.
const SuggestedProcsPerCPU = 4

// Options configure a Store. The zero value (with Dir set) is a durable
// store with the standard reasons and default offer policy.
type Options struct {
	// Dir holds the database; ignored with InMemory.
	Dir string
	// InMemory keeps everything in memory, for tests and dry runs.
	InMemory bool
	// NoSync acknowledges writes before they are fsync'd: the write-ahead
	// log is written, not synced. A crash of the process loses nothing
	// (the log is in the page cache), a crash of the machine may lose the
	// last writes.
	NoSync bool
	// Reasons is the list of rejection reasons; nil means StandardReasons.
	Reasons *ReasonTable
	// Policies gives per-offer edit settings; nil means DefaultPolicy for all.
	Policies Policies
	// Feeds names the durable change feeds to keep (see Feed).
	Feeds []string
	// FeedFilter, if set, says whether feed wants ev (nil: every change
	// goes to every feed). It runs inside the commit: it must be quick and
	// must not call the store.
	FeedFilter func(feed string, ev Event) bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives Badger's warnings and the store's own; nil discards.
	Logger *slog.Logger
	// GCInterval is how often the value log is garbage collected; 0 means
	// 10 minutes, negative disables it.
	GCInterval time.Duration
	// JournalTTL says how long an offer's journal entries are kept; nil
	// or 0: DefaultJournalTTL.
	JournalTTL func(offer string) time.Duration
	// MinFreeDisk is the free space kept on the data folder's disk: under
	// it the store takes no writes (ErrDiskFull), under twice it the
	// journal drops entries (0: DefaultMinFreeDisk). See disk.go.
	MinFreeDisk int64
	// JournalBudget is the journal's size over which its entries are
	// kept as one line (0: DefaultJournalBudget).
	JournalBudget int64
	// FreeSpace, when set, reports the disk's free bytes instead of
	// asking the file system (tests).
	FreeSpace func() (uint64, error)

	// Node names this process among those sharing a PostgreSQL database
	// (cluster mode) until it joins (Cluster.Join): the outbox items it
	// begins are claimed under the name it joined as, else under this
	// (Feed.Begin). "" means host name/pid. Badger, one process's
	// database, has no use for it.
	Node string
	// DeadAfter is how long a node that joined the cluster may go
	// without a heartbeat before it is taken for dead (PostgreSQL): the
	// outbox items it has in flight stay its own, however long its
	// partner takes, while it heartbeats, and are in doubt once it is
	// dead or has left (0: DefaultDeadAfter).
	DeadAfter time.Duration
	// ClaimExpiry is how long an outbox item stays claimed by a process
	// that never joined the cluster (no heartbeat to read): past it, the
	// item is in doubt, as after a crash (0: DefaultClaimExpiry).
	ClaimExpiry time.Duration

	// tuneBadger, set by benchmarks, changes the leads' Badger options.
	tuneBadger func(badger.Options) badger.Options

	// walSegment, set by tests, is the write-ahead log's segment size
	// (0: defaultWALSegment).
	walSegment int64

	// spoolSize, set by tests, is the size of an in-memory store's
	// journal spool (0: spoolMemory).
	spoolSize int
	// journalGate, set by tests, holds the journal's writer until it is
	// closed: entries stay in the spool (journalspool.go).
	journalGate chan struct{}
	// backfillGate, set by tests, holds the journal's backfill of its
	// index by status until it is closed (journalstatus.go).
	backfillGate <-chan struct{}
}

// Badger is the Store kept in an embedded Badger database: the default
// backend, no setup. It is safe for concurrent use.
type Badger struct {
	db       *badger.DB
	jdb      *badger.DB // the journal's (journal.go)
	opts     Options
	reasons  *ReasonTable
	policies atomic.Pointer[policiesBox]
	now      func() time.Time
	log      *slog.Logger

	leadSeq *durableSeq
	goalSeq *durableSeq
	seqMu   sync.Mutex

	wal *wal // nil in memory (wal.go)

	commit *committer
	subs   subscribers
	jr     *journal
	disk   diskState

	closeOnce sync.Once
	closed    chan struct{}
	bg        sync.WaitGroup
	// backups are held (read) by each Backup running: Close waits for
	// them, once closed has told them to stop, before closing Badger.
	backups sync.RWMutex

	// failPart, set by tests, fails the transaction of part n of a batch
	// landing through its recovery record, as a full disk would (redo.go).
	failPart func(n int) error
}

type policiesBox struct{ p Policies }

// Open opens (or creates) a Badger store.
func Open(opts Options) (*Badger, error) {
	if !opts.InMemory && opts.Dir == "" {
		return nil, fmt.Errorf("store: no data directory: %w", ErrInvalid)
	}
	for _, f := range opts.Feeds {
		if err := checkName("feed", f); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	s := &Badger{
		opts:    opts,
		reasons: opts.Reasons,
		now:     opts.Now,
		log:     opts.Logger,
		closed:  make(chan struct{}),
	}
	if s.reasons == nil {
		s.reasons = StandardReasons()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.SetPolicies(opts.Policies)

	bo := badgerOptions(opts, s.log)
	if opts.tuneBadger != nil {
		bo = opts.tuneBadger(bo)
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", opts.Dir, err)
	}
	s.db = db
	if _, err := os.Stat(filepath.Join(opts.Dir, restoringMark)); err == nil && !opts.InMemory {
		db.Close()
		return nil, fmt.Errorf("store: %s: a restore into it did not finish (%s is there): empty the folder and restore again: %w", opts.Dir, restoringMark, ErrInvalid)
	}
	// A batch a crash cut short lands whole before anything else is
	// written: from a recovery record of an earlier leadhost (redo.go),
	// then from the write-ahead log.
	if n, err := s.finishRecord(); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %s: finish a batch a crash cut short: %w", opts.Dir, err)
	} else if n > 0 {
		s.log.Info("store: finished a batch a crash had cut short", "writes", n)
	}
	if err := s.openWAL(); err != nil {
		db.Close()
		return nil, err
	}
	if s.jdb, err = badger.Open(journalOptions(opts, s.log)); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open the journal in %s: %w", opts.Dir, err)
	}
	// Sequences lease ids in blocks; ids of a lease that a crash cuts
	// short are skipped, never reused. A new lease is a Badger update,
	// synced, taken ahead behind the callers (sequence.go): 10,000 ids a
	// lease makes that rare.
	var syncLogs func() error
	if s.wal != nil {
		syncLogs = func() error { return syncBadgerLogs(opts.Dir) }
	}
	if s.leadSeq, err = openSeq(db, seqLeadKey, 10000, syncLogs); err == nil {
		s.goalSeq, err = openSeq(db, seqGoalKey, 16, syncLogs)
	}
	if err == nil && s.wal != nil {
		// The leases just taken, and what the replay wrote, go to disk;
		// then the replayed segments are behind Badger.
		if err = s.checkpoint(); err == nil {
			err = syncLogs()
		}
		if err == nil {
			err = s.wal.start()
		}
	}
	if err != nil {
		db.Close()
		s.jdb.Close()
		return nil, fmt.Errorf("store: %s: sequences and the write-ahead log: %w", opts.Dir, err)
	}
	if err := s.openJournal(); err != nil {
		db.Close()
		s.jdb.Close()
		return nil, err
	}
	if n, err := s.indexContacts(); err != nil {
		s.stopJournal()
		s.jr.sp.close()
		db.Close()
		s.jdb.Close()
		return nil, fmt.Errorf("store: index leads by phone and e-mail: %w", err)
	} else if n > 0 {
		s.log.Info("store: indexed leads by phone and e-mail", "entries", n)
	}
	s.commit = newCommitter(s)
	if !opts.InMemory {
		s.checkDisk() // opened on a full disk: read-only from the first write
		Every(&s.bg, s.closed, diskCheckEvery, s.checkDisk)
	}
	s.bg.Add(1)
	go func() { defer s.bg.Done(); s.commit.loop() }()
	if s.wal != nil {
		s.bg.Add(1)
		go func() { defer s.bg.Done(); s.checkpoints() }()
	}
	if gc := opts.GCInterval; gc >= 0 && !opts.InMemory {
		if gc == 0 {
			gc = 10 * time.Minute
		}
		Every(&s.bg, s.closed, gc, s.collectGarbage)
	}
	return s, nil
}

// badgerOptions sizes Badger for a 2-core machine holding a few million
// leads: records are small (a few hundred bytes), so they live in the LSM
// tree, not the value log. Badger does not sync (the write-ahead log
// does, wal.go). Memtables are 8 MB, four of them: a flush writes a
// small table, whose blocks a log fdatasync may wait behind, and with
// the log there is no sync per memtable to save. BenchmarkAddStalls
// (64 writers of 2.5 KB leads, fsync on, a loaded machine, five runs
// each, alternating in the last four): worst Add 65–145 ms against
// 160–472 ms with 32 MB ×3, median rate 9.0k against 5.4k adds/s.
// Memory: the mutable memtable's arena and the block cache are most of
// the live heap; with a 48 MB block cache a reopened 1M-lead store peaked
// at 240-350 MB RSS, with 24 MB at 190-215 MB, writes no slower. Flushes
// and compactions after heavy writes allocate far more (see
// BenchmarkReopen1M); a process-wide soft memory limit bounds that.
func badgerOptions(opts Options, log *slog.Logger) badger.Options {
	o := badger.DefaultOptions(opts.Dir).
		WithInMemory(opts.InMemory).
		// The write-ahead log (wal.go) syncs, Badger never does.
		WithSyncWrites(false).
		WithLogger(badgerLogger{log}).
		WithMemTableSize(8 << 20).
		WithNumMemtables(4).
		WithNumLevelZeroTables(4).
		WithNumLevelZeroTablesStall(12).
		WithNumCompactors(2).
		WithBlockCacheSize(24 << 20).
		WithIndexCacheSize(16 << 20).
		WithValueThreshold(valueThreshold).
		WithValueLogFileSize(256 << 20).
		WithCompression(options.Snappy).
		WithMetricsEnabled(false).
		WithNumGoroutines(4).
		// The committer is the only writer (commit.go): conflicts cannot
		// happen, so tracking read keys for them would be wasted work.
		WithDetectConflicts(false)
	if opts.InMemory {
		o.Dir, o.ValueDir = "", ""
	}
	return o
}

// valueThreshold: values this long go to the leads' value log.
const valueThreshold = 4 << 10

// journalOptions are the journal's own Badger, in <Dir>/journal: small
// and never fsync'd, so that journaling neither waits for the disk nor
// competes with the leads' commits and compactions. A machine crash may
// lose the last journal entries; leads are not affected.
func journalOptions(opts Options, log *slog.Logger) badger.Options {
	o := badger.DefaultOptions(filepath.Join(opts.Dir, "journal")).
		WithInMemory(opts.InMemory).
		WithSyncWrites(false).
		WithLogger(badgerLogger{log}).
		// Small: the host runs under a 256 MiB memory limit
		// (SuggestedMemoryLimit), most of it the leads' Badger.
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(4).
		WithNumLevelZeroTablesStall(16).
		WithNumCompactors(2).
		WithBlockCacheSize(4 << 20).
		WithIndexCacheSize(2 << 20).
		// Entries (a raw request, an answer) go to the value log; the
		// tree keeps keys and pointers, so compactions stay cheap.
		WithValueThreshold(128).
		WithValueLogFileSize(journalValueLogFile).
		WithCompression(options.Snappy).
		WithMetricsEnabled(false).
		WithNumGoroutines(2).
		WithDetectConflicts(false)
	if opts.InMemory {
		// No value log in memory: every value stays in the tree.
		o.Dir, o.ValueDir = "", ""
		o = o.WithValueThreshold(maxJournalEntry)
	}
	return o
}

// SetPolicies replaces the per-offer policies, e.g. after a reload of the
// offers' settings. Edits already running finish with the old ones.
func (s *Badger) SetPolicies(p Policies) { s.policies.Store(&policiesBox{p}) }

func (s *Badger) policy(offer string) OfferPolicy {
	if box := s.policies.Load(); box != nil && box.p != nil {
		return box.p.Policy(offer)
	}
	return DefaultPolicy()
}

// Reasons returns the reason table the store validates against.
func (s *Badger) Reasons() *ReasonTable { return s.reasons }

// Close stops the committer after the writes in flight, then closes Badger.
func (s *Badger) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.commit.stop()
		s.stopJournal()
		s.jr.sp.close()
		close(s.closed)
		s.bg.Wait()
		s.backups.Lock()
		defer s.backups.Unlock()
		err = errors.Join(s.leadSeq.Release(), s.goalSeq.Release())
		if s.wal == nil {
			err = errors.Join(err, s.db.Close(), s.jdb.Close())
			return
		}
		// Badger's Close writes its memtable into a table, synced; its
		// value log it leaves as it is. Once both are on disk, the log
		// holds nothing Badger does not, unless a batch is unfinished.
		synced := syncBadgerLogs(s.opts.Dir)
		closed := s.db.Close()
		clean := synced == nil && closed == nil && s.commit.unfinished == nil
		err = errors.Join(err, synced, closed, s.wal.close(clean), s.jdb.Close())
	})
	return err
}

// collectGarbage rewrites the value logs' files that are half garbage or
// more: one RunValueLogGC call rewrites at most one file, so it repeats
// until there is nothing worth rewriting. A rewrite writes before it
// frees: the leads' (256 MiB files) only while the journal runs, the
// journal's (64 MiB files) while that much is free beyond the reserve —
// it is how expired entries give their space back on a full disk.
func (s *Badger) collectGarbage() {
	dbs := []*badger.DB{s.db, s.jdb}
	if s.disk.journalStop.Load() {
		dbs = nil
		if free, err := s.freeSpace(); err == nil && free > s.minFree()/2+journalValueLogFile {
			dbs = []*badger.DB{s.jdb}
		}
	}
	for _, db := range dbs {
		for i := 0; i < 16; i++ {
			if err := db.RunValueLogGC(0.5); err != nil {
				if !errors.Is(err, badger.ErrNoRewrite) {
					s.log.Warn("value log GC", "err", err)
				}
				break
			}
		}
	}
}

// nextID returns a fresh lead id.
func (s *Badger) nextID() (uint64, error) {
	s.seqMu.Lock()
	defer s.seqMu.Unlock()
	for {
		id, err := s.leadSeq.Next()
		if err != nil {
			return 0, fmt.Errorf("store: lead id: %w", err)
		}
		if id != 0 { // 0 is never a lead id, so that nil and 0 mean "no lead"
			return id, nil
		}
	}
}

func (s *Badger) view(ctx context.Context, fn func(txn *badger.Txn) error) error {
	return s.viewOn(ctx, s.db, fn)
}

// viewOn reads db (the leads' or the journal's) unless ctx is done or the
// store closed.
func (s *Badger) viewOn(ctx context.Context, db *badger.DB, fn func(txn *badger.Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-s.closed:
		return ErrClosed
	default:
	}
	return db.View(fn)
}

// badgerLogger passes Badger's errors and warnings to slog and drops its
// chatter.
type badgerLogger struct{ log *slog.Logger }

// Errorf logs a Badger error.
func (l badgerLogger) Errorf(f string, a ...any) { l.log.Error(fmt.Sprintf(f, a...), "from", "badger") }

// Warningf logs a Badger warning.
func (l badgerLogger) Warningf(f string, a ...any) {
	l.log.Warn(fmt.Sprintf(f, a...), "from", "badger")
}

// Infof drops Badger's progress messages.
func (l badgerLogger) Infof(string, ...any) {}

// Debugf drops Badger's debug messages.
func (l badgerLogger) Debugf(string, ...any) {}

// openWAL opens the write-ahead log in <Dir>/wal and replays it into
// Badger (wal.go): the groups since the last checkpoint, which Badger
// may have lost with the machine. Open then checkpoints and starts it.
func (s *Badger) openWAL() error {
	if s.opts.InMemory {
		return nil
	}
	w, err := openWAL(filepath.Join(s.opts.Dir, "wal"), s.opts.walSegment, s.opts.NoSync)
	if err != nil {
		return fmt.Errorf("store: %s: %w", s.opts.Dir, err)
	}
	n, err := w.replay(s.applyReplayed)
	if err != nil {
		return fmt.Errorf("store: %s: replay: %w", s.opts.Dir, err)
	}
	if n > 0 {
		s.log.Info("store: replayed the write-ahead log", "groups", n)
	}
	w.room = s.roomForSpare
	s.wal = w
	return nil
}

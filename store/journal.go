package store

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// The operation journal (SPEC §5): every call that came in, every request
// that went out, every check run — what it was, how it ended, and the raw
// request so that a webhook can be replayed. Entries expire by Badger TTL
// (Options.JournalTTL). They are written by a background writer in
// batches, off the path of the call they record, to a Badger of their own
// (journalOptions), through a spool that a kill -9 does not lose
// (journalspool.go); Close writes what is spooled.
//
//	j inv                   → entry (inv = ^id: newest first)
//	J offer 0 inv           → (empty) or a run   by offer (journalruns.go)
//	K kind 0 inv            → (empty) or a run   by kind
//	S status 0 inv          → (empty)   by status, all but "ok" (journalstatus.go)
//	T status 0 offer 0 inv  → (empty)   by status and offer, all but "ok"

// JournalEntry is one journaled operation.
//
// In JSON its ID is text: ids pass 2^53, past which JavaScript (and jq)
// read another number.
type JournalEntry struct {
	ID       uint64          `json:"id,string"` // time-ordered; set by Record
	At       time.Time       `json:"at"`
	Offer    string          `json:"offer,omitempty"`
	Kind     JournalKind     `json:"kind"`
	Status   JournalStatus   `json:"status"`
	Duration Duration        `json:"duration"`
	Version  uint64          `json:"version,omitempty"` // of the offer's scripts
	Node     string          `json:"node,omitempty"`    // the node that wrote it, on a store shared by several (store.Cluster)
	Summary  string          `json:"summary"`
	Request  string          `json:"request,omitempty"`  // raw: a webhook as it came, for replay
	Response string          `json:"response,omitempty"` // what was answered or came back (truncated)
	Logs     []string        `json:"logs,omitempty"`     // what the run's script said (core.log, print, refused edits), capped
	Detail   json.RawMessage `json:"detail,omitempty"`   // the kind's own report (a check run's edits …)
}

// UnmarshalJSON reads an entry, also as entries were written before the
// admin API's v1 (the id a number, the duration in duration_ns).
func (e *JournalEntry) UnmarshalJSON(b []byte) error {
	type plain JournalEntry
	var v struct {
		*plain
		ID         json.RawMessage `json:"id"`
		DurationNS int64           `json:"duration_ns"`
	}
	v.plain = (*plain)(e)
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	id, err := strconv.ParseUint(strings.Trim(string(v.ID), `"`), 10, 64)
	if err != nil && len(v.ID) > 0 {
		return fmt.Errorf("journal entry id %s: %w", v.ID, ErrInvalid)
	}
	e.ID = id
	if e.Duration == 0 && v.DurationNS > 0 {
		e.Duration = Duration(v.DurationNS)
	}
	return nil
}

// JournalQuery selects entries, newest first.
type JournalQuery struct {
	Offer  string
	Kind   JournalKind
	Status JournalStatus
	Since  time.Time // not older than this
	Cursor string    // from the previous page
	Limit  int       // default 50, at most 1000
}

// DefaultJournalTTL is how long entries are kept unless Options.JournalTTL
// says otherwise for an offer.
const DefaultJournalTTL = 30 * 24 * time.Hour

const (
	kindJournal              = 'j'
	kindJournalByOffer       = 'J'
	kindJournalByKind        = 'K'
	kindJournalByStatus      = 'S'
	kindJournalByStatusOffer = 'T'
	maxJournalBody           = 64 << 10
	maxJournalDetail         = 256 << 10
	maxJournalEntry          = 1 << 20 // Badger's largest value threshold: an entry fits it
)

// journal is the background writer.
type journal struct {
	sending sync.RWMutex // record holds it to add; stop takes it to take no more
	stopped bool
	closing atomic.Bool // the writer ends once the spool is empty
	sp      *spool
	done    chan struct{}
	watch   atomic.Pointer[func(JournalEntry)]
	// byStatus: every entry is in the index by status, so lists by
	// status read it (journalstatus.go).
	byStatus atomic.Bool
	// bodies are buffers for entries' JSON on their way into the spool.
	bodies sync.Pool
	// entries, keys, expires and runs are the writer's, reused from batch
	// to batch.
	entries   []badger.Entry
	keys      []byte
	expires   []uint64
	offerRuns []journalRun
	kindRuns  []journalRun
}

// WatchJournal has fn hear each entry Record keeps, as kept (its ID and
// time set, bodies cut), on Record's goroutine: metrics and error mails
// count what the journal holds. A later call replaces fn.
func (s *Badger) WatchJournal(fn func(JournalEntry)) { s.jr.watch.Store(&fn) }

// openJournal opens the journal's spool (journalspool.go) and writes to
// the journal's Badger the entries a killed process left in it; then its
// writer starts.
func (s *Badger) openJournal() error {
	var (
		sp  *spool
		err error
	)
	if s.opts.InMemory {
		sp = memorySpool(cmp.Or(s.opts.spoolSize, spoolMemory))
	} else if sp, err = openSpool(s.opts.Dir); err != nil {
		return err
	}
	s.jr = &journal{sp: sp, done: make(chan struct{})}
	entries, values, err := sp.left()
	if err == nil && len(entries) > 0 {
		batch := make([]spooled, len(entries))
		for i, e := range entries {
			batch[i] = spooled{id: e.ID, offer: e.Offer, kind: e.Kind, status: e.Status}
		}
		// A journal that cannot take them (a full disk) loses them, not
		// the store its start.
		if werr := s.writeJournal(batch, func(i int) []byte { return values[i] }); werr != nil {
			s.log.Error("journal: entries a stop left on their way lost", "entries", len(entries), "err", werr)
		} else {
			s.log.Info("journal: entries a stop left on their way written", "entries", len(entries))
		}
	}
	if err == nil {
		sp.advance(sp.head)
		sp.lastID, err = newestJournalID(s.jdb)
	}
	if err != nil {
		sp.close()
		return fmt.Errorf("store: the journal in %s: %w", s.opts.Dir, err)
	}
	go s.journalLoop()
	s.startStatusIndex()
	return nil
}

// newestJournalID is the id of the newest entry kept (0: none). Ids go
// on from it, so that an entry dated as one before a restart (a minute's
// summary of refused calls) takes a new id rather than the old entry's
// place.
func newestJournalID(jdb *badger.DB) (uint64, error) {
	var id uint64
	err := jdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kindJournal}})
		defer it.Close()
		if it.Rewind(); it.Valid() {
			id = ^tailU64(it.Item().Key())
		}
		return nil
	})
	return id, err
}

// Record keeps entries in the journal and returns at once: they are in
// the journal's spool, where a kill -9 of the process does not lose them,
// and a background writer moves them to the journal's database. A full
// spool makes it wait (the journal keeps up or slows its writers, it does
// not drop). It sets each entry's ID and, when zero, its time.
func (s *Badger) Record(entries ...JournalEntry) {
	for _, e := range entries {
		s.record(e)
	}
}

// RecordWritten keeps e in the journal as Record does and says whether it
// did: an inbound call's entry is kept so before the call is answered, and
// a caller told "done" finds its call in the journal (JournalList and
// JournalGet read every entry kept before they were called). The journal
// is not fsync'd: a crash of the machine may lose the last entries. On a
// nearly full disk the journal yields to the leads (disk.go): the entry
// is dropped and the error is ErrDiskFull, though watchers (metrics,
// mails) have heard of it.
func (s *Badger) RecordWritten(e JournalEntry) error { return s.record(e) }

// record keeps e: its bodies cut, its JSON made, into the spool.
func (s *Badger) record(e JournalEntry) error {
	s.jr.sending.RLock()
	defer s.jr.sending.RUnlock()
	if s.jr.stopped {
		return fmt.Errorf("journal: %w", ErrClosed)
	}
	if e.At.IsZero() {
		e.At = s.now().UTC()
	}
	e.Summary = capBody(e.Summary)
	e.Request = capBody(e.Request)
	e.Response = capBody(e.Response)
	e.Logs = capLogs(e.Logs)
	if len(e.Detail) > maxJournalDetail {
		e.Detail, e.Summary = nil, e.Summary+" (detail over 256 KiB left out)"
	}
	if s.disk.journalLean.Load() {
		leanEntry(&e, " (the journal is over its budget: only this line kept)")
	}
	var err error
	if s.disk.journalStop.Load() || s.disk.readOnly.Load() != nil {
		// The disk is nearly full: leads come first. The guard logged
		// it once; here entries are only counted.
		s.disk.dropped.Add(1)
		e.ID = s.jr.sp.nextID(e.At)
		err = fmt.Errorf("journal paused for disk space: %w", ErrDiskFull)
	} else {
		buf, _ := s.jr.bodies.Get().(*[]byte)
		if buf == nil {
			buf = new([]byte)
		}
		body := appendJournalBody((*buf)[:0], &e)
		if !s.jr.sp.fits(len(body) + 32) {
			// Only a body of control characters, each six bytes in
			// JSON, comes near: what is kept of one is bounded.
			leanEntry(&e, " (entry too big for the journal: only this line kept)")
			body = appendJournalBody(body[:0], &e)
		}
		e.ID = s.jr.sp.add(&e, body)
		if cap(body) <= maxJournalBody {
			*buf = body
			s.jr.bodies.Put(buf)
		}
	}
	if fn := s.jr.watch.Load(); fn != nil {
		(*fn)(e)
	}
	return err
}

// leanEntry keeps e as its line, saying why.
func leanEntry(e *JournalEntry, why string) {
	if e.Request != "" || e.Response != "" || len(e.Logs) > 0 || len(e.Detail) > 0 {
		e.Request, e.Response, e.Logs, e.Detail = "", "", nil, nil
		e.Summary += why
	}
}

func capBody(b string) string {
	if len(b) > maxJournalBody {
		return b[:maxJournalBody] + "… (cut)"
	}
	return b
}

// Bounds of what the journal keeps of a script's words in one entry: a
// script that logs in a loop must not fill the journal.
const (
	maxJournalLogs    = 50
	maxJournalLogLine = 1 << 10
)

// RunLog collects what a run's script says for its journal entry, as the
// journal keeps it: the first lines, each cut, and how many more there
// were — a script that logs in a loop holds no more memory than that.
type RunLog struct {
	lines []string
	more  int
	last  string
}

// Add takes one line.
func (l *RunLog) Add(line string) {
	if len(line) > maxJournalLogLine {
		line = line[:maxJournalLogLine] + "… (cut)"
	}
	l.last = line
	if len(l.lines) < maxJournalLogs {
		l.lines = append(l.lines, line)
		return
	}
	l.more++
}

// Lines are the lines kept, and a last one saying how many were not.
func (l *RunLog) Lines() []string {
	if l.more > 0 {
		return append(l.lines[:len(l.lines):len(l.lines)], fmt.Sprintf("… %d more lines not kept", l.more))
	}
	return l.lines
}

// Last is the last line said, kept or not ("" when none).
func (l *RunLog) Last() string { return l.last }

// capLogs keeps the first lines of a run's log, each cut, and says how
// many more there were. Lines a RunLog gave are within bounds already and
// kept as they are: cut again, its own "… N more" would count as one.
func capLogs(lines []string) []string {
	if len(lines) == 0 {
		return nil
	}
	if withinLogBounds(lines) {
		return lines
	}
	n := min(len(lines), maxJournalLogs)
	out := make([]string, n, n+1)
	for i, l := range lines[:n] {
		if len(l) > maxJournalLogLine {
			l = l[:maxJournalLogLine] + "… (cut)"
		}
		out[i] = l
	}
	if more := len(lines) - n; more > 0 {
		out = append(out, fmt.Sprintf("… %d more lines not kept", more))
	}
	return out
}

// withinLogBounds says whether lines are as a RunLog gives them: at most
// maxJournalLogs, and the count of those left out, each line cut.
func withinLogBounds(lines []string) bool {
	if len(lines) > maxJournalLogs+1 {
		return false
	}
	for _, l := range lines {
		if len(l) > maxJournalLogLine+len("… (cut)") {
			return false
		}
	}
	return true
}

// journalBatch bounds how many entries one write to the journal's Badger
// takes: the spool's room comes back as each batch is written.
const journalBatch = 1024

// journalLoop moves spooled entries to the journal's Badger, in batches
// of what was spooled meanwhile, until stopJournal and the spool is
// empty.
func (s *Badger) journalLoop() {
	defer close(s.jr.done)
	sp := s.jr.sp
	if gate := s.opts.journalGate; gate != nil {
		<-gate
	}
	var batch []spooled
	for {
		closing := s.jr.closing.Load() // before take: nothing is added after
		batch = sp.take(batch)
		if len(batch) == 0 {
			if closing {
				return
			}
			<-sp.wake
			continue
		}
		for from := 0; from < len(batch); from += journalBatch {
			part := batch[from:min(from+journalBatch, len(batch))]
			if s.disk.journalStop.Load() || s.disk.readOnly.Load() != nil {
				// The disk is nearly full: leads come first. The guard
				// logged it once; here they are only counted.
				s.disk.dropped.Add(uint64(len(part)))
			} else if err := s.writeJournal(part, func(i int) []byte { return sp.value(part[i]) }); err != nil {
				s.log.Error("writing the journal", "entries", len(part), "err", err)
			}
			sp.advance(part[len(part)-1].end())
		}
		clear(batch) // its offers are not held until overwritten
	}
}

// writeJournal writes a batch of entries, value(i) the JSON of batch[i],
// to the journal's Badger with their index keys: the offer's and the
// kind's one a run (journalruns.go), the status's one an entry. The
// entries' keys are cut from one buffer and the Badger entries from one
// slice, both the writer's from batch to batch (Badger holds them until
// Flush returns).
func (s *Badger) writeJournal(batch []spooled, value func(i int) []byte) error {
	size, count := 0, 0
	for i := range batch {
		e := &batch[i]
		size += 3*10 + len(e.offer) + len(e.kind) // itself, at most a run in each index
		count += 3
		if statusIndexed(e.status) {
			size += 2*10 + 2*len(e.status) + len(e.offer) + 1
			count += 2
		}
	}
	keys := s.jr.keys[:0]
	if cap(keys) < size {
		keys = make([]byte, 0, size)
	}
	entries := s.jr.entries[:0]
	if cap(entries) < count {
		entries = make([]badger.Entry, 0, count)
	}
	// key cuts the key made by appending to keys: keys never grows past
	// its capacity, so the bytes stay where Badger was told they are.
	key := func(from int) []byte { return keys[from:len(keys):len(keys)] }
	expires := s.jr.expires[:0]
	for i := range batch {
		e := &batch[i]
		ttl := DefaultJournalTTL
		if s.opts.JournalTTL != nil {
			if d := s.opts.JournalTTL(e.offer); d > 0 {
				ttl = d
			}
		}
		expires = append(expires, uint64(time.Now().Add(ttl).Unix()))
		inv := ^e.id
		at := len(keys)
		keys = appendU64(append(keys, kindJournal), inv)
		entries = append(entries, badger.Entry{Key: key(at), Value: value(i), ExpiresAt: expires[i]})
		if statusIndexed(e.status) {
			at = len(keys)
			keys = appendU64(append(append(append(keys, kindJournalByStatus), e.status...), 0), inv)
			entries = append(entries, badger.Entry{Key: key(at), ExpiresAt: expires[i]})
			at = len(keys)
			keys = appendU64(append(append(append(append(append(keys, kindJournalByStatusOffer), e.status...), 0), e.offer...), 0), inv)
			entries = append(entries, badger.Entry{Key: key(at), ExpiresAt: expires[i]})
		}
	}
	s.jr.offerRuns = journalRuns(s.jr.offerRuns, batch, expires, func(e *spooled) string { return e.offer })
	s.jr.kindRuns = journalRuns(s.jr.kindRuns, batch, expires, func(e *spooled) string { return string(e.kind) })
	for _, runs := range []struct {
		kind byte
		runs []journalRun
	}{{kindJournalByOffer, s.jr.offerRuns}, {kindJournalByKind, s.jr.kindRuns}} {
		for i := range runs.runs {
			r := &runs.runs[i]
			at := len(keys)
			keys = appendRunKey(keys, runs.kind, r)
			entries = append(entries, badger.Entry{Key: key(at), Value: r.invs, ExpiresAt: r.expires})
		}
	}
	var written int64
	wb := s.jdb.NewWriteBatch()
	defer wb.Cancel()
	for j := range entries {
		if err := wb.SetEntry(&entries[j]); err != nil {
			return err
		}
		written += int64(len(entries[j].Key) + len(entries[j].Value))
	}
	defer s.noteWritten(written)
	err := wb.Flush()
	clear(entries) // no value of the ring held
	s.jr.keys, s.jr.entries, s.jr.expires = keys, entries, expires
	return err
}

// stopJournal writes what is spooled; called by Close.
func (s *Badger) stopJournal() {
	s.jr.sending.Lock()
	s.jr.stopped = true
	s.jr.sending.Unlock()
	s.jr.closing.Store(true)
	select {
	case s.jr.sp.wake <- struct{}{}:
	default:
	}
	<-s.jr.done
}

// JournalGet returns one entry.
func (s *Badger) JournalGet(ctx context.Context, id uint64) (*JournalEntry, error) {
	s.jr.sp.settled()
	var e *JournalEntry
	err := s.viewOn(ctx, s.jdb, func(txn *badger.Txn) error {
		v, ok, err := getValue(txn, appendU64([]byte{kindJournal}, ^id))
		if err != nil || !ok {
			if err == nil {
				err = fmt.Errorf("journal entry %d: %w", id, ErrNotFound)
			}
			return err
		}
		e = &JournalEntry{}
		return json.Unmarshal(v, e)
	})
	return e, err
}

// JournalList returns entries newest first, read from the index by
// status (and offer) when the query names one other than "ok", else the
// offer's or the kind's index when it names one (the other filters are
// applied as it reads), and the cursor of the next page ("" at the end).
// Until older entries are indexed by status (journalstatus.go) a status
// is filtered as it reads too.
func (s *Badger) JournalList(ctx context.Context, q JournalQuery) ([]JournalEntry, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultPageSize
	}
	limit = min(limit, maxPageSize)
	var prefix []byte
	switch {
	case statusIndexed(q.Status) && q.Status != "" && s.jr.byStatus.Load() && q.Offer != "":
		prefix = journalStatusOfferPrefix(q.Status, q.Offer)
	case statusIndexed(q.Status) && q.Status != "" && s.jr.byStatus.Load():
		prefix = journalStatusPrefix(q.Status)
	case q.Offer != "":
		prefix = offerPrefix(kindJournalByOffer, q.Offer)
	case q.Kind != "":
		prefix = offerPrefix(kindJournalByKind, string(q.Kind))
	default:
		prefix = []byte{kindJournal}
	}
	start := prefix
	// seen is the newest entry's inv the list has passed (the cursor's:
	// the list goes on past it). Entries come in order of their invs, so
	// one at or below it was passed already: on an earlier page, or in a
	// run that a replay of the spool after a kill wrote again, cut
	// another way (journalruns.go).
	var seen uint64
	passed := q.Cursor != "" // seen holds one
	if q.Cursor != "" {
		b, err := cursorEncoding.DecodeString(q.Cursor)
		if err != nil || len(b) != 8 {
			return nil, "", fmt.Errorf("journal cursor %q: %w", q.Cursor, ErrInvalid)
		}
		start = append(append([]byte(nil), prefix...), b...)
		seen = binary.BigEndian.Uint64(b)
	}
	s.jr.sp.settled()
	var out []JournalEntry
	next := ""
	err := s.viewOn(ctx, s.jdb, func(txn *badger.Txn) error {
		byIndex := prefix[0] != kindJournal
		if byIndex && q.Cursor != "" {
			start = runFrom(txn, prefix, start) // the cursor's entry may be inside a run
		}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: !byIndex, PrefetchSize: 64})
		defer it.Close()
	keys:
		for it.Seek(start); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			key := it.Item().Key()
			invs := key[len(key)-8:]
			if byIndex {
				var err error
				if invs, err = runInvs(it.Item()); err != nil {
					return err
				}
			}
			for i := range len(invs) / 8 {
				inv := invAt(invs, i)
				if passed && inv <= seen {
					continue
				}
				seen, passed = inv, true
				var raw []byte
				var err error
				if !byIndex {
					raw, err = it.Item().ValueCopy(nil)
				} else {
					var ok bool
					raw, ok, err = getValue(txn, appendU64([]byte{kindJournal}, inv))
					if !ok && err == nil {
						continue // expired between the index and the entry
					}
				}
				if err != nil {
					return err
				}
				var e JournalEntry
				if err := json.Unmarshal(raw, &e); err != nil {
					return fmt.Errorf("journal entry: %w", errCorrupt)
				}
				if !q.Since.IsZero() && e.At.Before(q.Since) {
					// Ids are in the order entries were kept, and never below
					// their time (nextID); an entry kept late with an early
					// time (a check run, dated when it began) is passed over,
					// and only an id below since ends the list.
					if e.ID < uint64(q.Since.UnixNano()) {
						break keys
					}
					continue
				}
				if (q.Kind != "" && e.Kind != q.Kind) || (q.Status != "" && e.Status != q.Status) || (q.Offer != "" && e.Offer != q.Offer) {
					continue
				}
				if len(out) == limit {
					next = cursorEncoding.EncodeToString(appendU64(nil, ^out[len(out)-1].ID))
					break keys
				}
				out = append(out, e)
			}
		}
		return nil
	})
	return out, next, err
}

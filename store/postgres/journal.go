package postgres

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"leadhost/store"
)

// The operation journal in table journal. Entries are written by a
// background writer in batches (one COPY each), off the path of the call
// they record; RecordWritten waits for its entry's batch. Expired entries
// are hidden from reads; every journalSweepEvery, whole days of them are
// dropped and the rest deleted (journaldays.go).

const (
	journalQueue      = 4096
	journalBatch      = 1024
	journalSweepEvery = time.Minute
	// journalRetry is how often entries held while the database was
	// away are tried again; journalWriteLimit bounds one try.
	journalRetry      = time.Second
	journalWriteLimit = 10 * time.Second
)

// journal is the background writer.
type journal struct {
	mu      sync.Mutex
	lastID  uint64
	slot    uint64       // < 1000: the last three digits of this process's ids
	sending sync.RWMutex // Record holds it to send; stop takes it to close the queue
	stopped bool
	queue   chan queuedEntry
	done    chan struct{}
	watch   atomic.Pointer[func(store.JournalEntry)]
}

// queuedEntry is an entry on its way to the database, and who waits for
// it to be there (nil: nobody).
type queuedEntry struct {
	store.JournalEntry
	written chan<- error
}

// startJournal starts the writer; entry ids go on after lastID, each
// ending in slot.
func (s *Store) startJournal(lastID, slot uint64) {
	s.jr = &journal{lastID: lastID, slot: slot, queue: make(chan queuedEntry, journalQueue), done: make(chan struct{})}
	go s.journalLoop()
	s.every(journalSweepEvery, func() {
		if err := s.sweepJournal(context.Background()); err != nil {
			s.log.Warn("sweeping the journal", "err", err)
		}
	})
}

// WatchJournal has fn hear each entry Record keeps, as kept, on Record's
// goroutine. A later call replaces fn.
func (s *Store) WatchJournal(fn func(store.JournalEntry)) { s.jr.watch.Store(&fn) }

// Record queues entries for the journal and returns at once; a full queue
// makes it wait. It sets each entry's ID and, when zero, its time.
func (s *Store) Record(entries ...store.JournalEntry) { s.record(nil, entries...) }

// RecordWritten keeps e in the journal and returns once it is committed.
func (s *Store) RecordWritten(e store.JournalEntry) error {
	written := make(chan error, 1)
	if !s.record(written, e) {
		return fmt.Errorf("journal: %w", store.ErrClosed)
	}
	return <-written
}

func (s *Store) record(written chan<- error, entries ...store.JournalEntry) bool {
	s.jr.sending.RLock()
	defer s.jr.sending.RUnlock()
	if s.jr.stopped {
		return false
	}
	for _, e := range entries {
		if e.At.IsZero() {
			e.At = s.now()
		}
		e.At = e.At.UTC().Truncate(time.Microsecond)
		if e.Node == "" {
			e.Node = s.nodeName() // Join's name; "" before
		}
		e.ID = s.jr.nextID(e.At)
		e = store.CapJournalEntry(e)
		if fn := s.jr.watch.Load(); fn != nil {
			(*fn)(e)
		}
		s.jr.queue <- queuedEntry{e, written}
	}
	return true
}

// nextID is the entry's time in nanoseconds, made unique: in this
// process by going on after the last, across the processes sharing the
// database by ending in this one's slot. Times are whole microseconds,
// so the last three digits are free; a slot is the database's sequence
// journal_slots at Open, so processes that run together have different
// ones (until a thousand more have opened), and no entry of one takes
// another's id.
func (j *journal) nextID(at time.Time) uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	id := uint64(at.UnixNano()) - uint64(at.Nanosecond()%1000) + j.slot
	if id <= j.lastID {
		id = j.lastID - j.lastID%1000 + j.slot
		if id <= j.lastID {
			id += 1000
		}
	}
	j.lastID = id
	return id
}

func (s *Store) journalLoop() {
	defer close(s.jr.done)
	var held heldEntries
	batch := make([]queuedEntry, 0, journalBatch)
	open, wasAway := true, false
	for {
		if wasAway && open {
			// The database did not answer: what is recorded meanwhile is
			// held, not written, until the next try.
			open = s.jr.holdFor(&held, journalRetry, s.log)
		}
		// Half a batch of held entries at most: room for the queue, so
		// that it never fills behind them and its close is seen.
		batch = held.take(batch[:0], journalBatch/2)
		if open {
			open = s.jr.gather(&batch, len(batch) == 0)
		}
		if len(batch) == 0 {
			if !open {
				return
			}
			continue
		}
		errs := s.writeJournal(batch)
		wasAway = false
		for i := range batch {
			var err error
			if errs != nil && errs[i] != nil {
				err = errs[i]
				if away(err) {
					held.keep(batch[i], s.log)
					wasAway = true
				} else {
					s.log.Error("writing the journal", "err", err)
				}
			}
			if batch[i].written != nil {
				batch[i].written <- err
			}
			batch[i] = queuedEntry{}
		}
		if !open && (held.len() == 0 || wasAway) {
			if n := held.len(); n > 0 {
				s.log.Error("the journal loses entries: its database did not answer before the store closed", "entries", n)
			}
			return
		}
	}
}

// gather adds queued entries to batch, up to its capacity, waiting for
// the first when wait. It says false once the queue is closed (the store
// closing).
func (j *journal) gather(batch *[]queuedEntry, wait bool) (open bool) {
	if wait {
		e, ok := <-j.queue
		if !ok {
			return false
		}
		*batch = append(*batch, e)
	}
	for len(*batch) < cap(*batch) {
		select {
		case e, ok := <-j.queue:
			if !ok {
				return false
			}
			*batch = append(*batch, e)
		default:
			return true
		}
	}
	return true
}

// errHeld is what RecordWritten says of an entry recorded while the
// database does not answer.
var errHeld = errors.New("journal: the database does not answer; the entry is held to be written when it does")

// holdFor moves what is queued into held for d, telling each waiter its
// entry is not written yet. It says false once the queue is closed.
func (j *journal) holdFor(held *heldEntries, d time.Duration, log *slog.Logger) (open bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case e, ok := <-j.queue:
			if !ok {
				return false
			}
			if e.written != nil {
				e.written <- errHeld
			}
			held.keep(e, log)
		case <-t.C:
			return true
		}
	}
}

var journalColumns = []string{"id", "at", "offer", "kind", "status", "duration", "version", "summary", "request", "response", "logs", "detail", "expires", "node"}

// writeJournal writes a batch of entries; when some failed, it gives
// each entry's error (nil: written).
func (s *Store) writeJournal(batch []queuedEntry) []error {
	rows := make([][]any, len(batch))
	for i := range batch {
		e := &batch[i].JournalEntry
		ttl := store.DefaultJournalTTL
		if s.opts.JournalTTL != nil {
			if d := s.opts.JournalTTL(e.Offer); d > 0 {
				ttl = d
			}
		}
		var logs, detail any
		if len(e.Logs) > 0 {
			b, _ := json.Marshal(e.Logs)
			logs = string(b)
		}
		if len(e.Detail) > 0 {
			detail = string(e.Detail)
		}
		rows[i] = []any{int64(e.ID), e.At, text(e.Offer), string(e.Kind), string(e.Status), int64(e.Duration), int64(e.Version),
			text(e.Summary), bytesOrNil(e.Request), bytesOrNil(e.Response), logs, detail, e.At.Add(ttl), text(e.Node)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), journalWriteLimit)
	defer cancel()
	_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"journal"}, journalColumns, pgx.CopyFromRows(rows))
	if err == nil {
		return nil
	}
	if away(err) {
		errs := make([]error, len(rows))
		for i := range errs {
			errs[i] = fmt.Errorf("journal: %w", err)
		}
		return errs
	}
	// One entry the server refused fails the whole COPY: the entries
	// are written again one by one, so that only it is lost.
	errs := make([]error, len(rows))
	for i, r := range rows {
		if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{"journal"}, journalColumns, pgx.CopyFromRows([][]any{r})); err != nil {
			errs[i] = fmt.Errorf("journal entry %d: %w", r[0], dbError(err))
		}
	}
	return errs
}

// text is s as PostgreSQL's text keeps it: valid UTF-8 without NUL.
func text(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func bytesOrNil(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// stopJournal writes what is queued; called by Close.
func (s *Store) stopJournal() {
	s.jr.sending.Lock()
	s.jr.stopped = true
	close(s.jr.queue)
	s.jr.sending.Unlock()
	<-s.jr.done
}

const entryColumns = `id, at, offer, kind, status, duration, version, summary, request, response, logs, detail, node`

func scanEntry(r pgx.Row) (store.JournalEntry, error) {
	var (
		e                store.JournalEntry
		id, dur, version int64
		kind, status     string
		req, resp        []byte
		logs, detail     []byte
	)
	if err := r.Scan(&id, &e.At, &e.Offer, &kind, &status, &dur, &version, &e.Summary, &req, &resp, &logs, &detail, &e.Node); err != nil {
		return e, err
	}
	e.ID, e.At, e.Kind, e.Status, e.Duration, e.Version = uint64(id), e.At.UTC(), store.JournalKind(kind), store.JournalStatus(status), store.Duration(dur), uint64(version)
	e.Request, e.Response = string(req), string(resp)
	if len(logs) > 0 {
		if err := json.Unmarshal(logs, &e.Logs); err != nil {
			return e, fmt.Errorf("journal entry %d: logs: %w", id, err)
		}
	}
	if len(detail) > 0 {
		e.Detail = json.RawMessage(detail)
	}
	return e, nil
}

// JournalGet returns one entry.
func (s *Store) JournalGet(ctx context.Context, id uint64) (*store.JournalEntry, error) {
	if err := s.alive(ctx); err != nil {
		return nil, err
	}
	e, err := scanEntry(s.pool.QueryRow(ctx, `SELECT `+entryColumns+` FROM journal WHERE id = $1 AND expires > $2`, int64(id), s.now()))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("journal entry %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, dbError(err)
	}
	return &e, nil
}

// JournalList returns entries newest first and the cursor of the next
// page ("" at the end).
func (s *Store) JournalList(ctx context.Context, q store.JournalQuery) ([]store.JournalEntry, string, error) {
	if err := s.alive(ctx); err != nil {
		return nil, "", err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultPageSize
	}
	limit = min(limit, store.MaxPageSize)
	before := int64(-1) // no cursor: from the newest
	if q.Cursor != "" {
		b, err := cursorEncoding.DecodeString(q.Cursor)
		if err != nil || len(b) != 8 {
			return nil, "", fmt.Errorf("journal cursor %q: %w", q.Cursor, store.ErrInvalid)
		}
		before = int64(^binary.BigEndian.Uint64(b))
	}
	// The filters given, and only those, so that the planner picks the
	// index that fits (by offer, kind or failure status).
	where := []string{"expires > $1"}
	args := []any{s.now()}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if q.Offer != "" {
		add("offer = $%d", q.Offer)
	}
	if q.Kind != "" {
		add("kind = $%d", string(q.Kind))
	}
	if q.Status != "" {
		add("status = $%d", string(q.Status))
	}
	if !q.Since.IsZero() {
		add("at >= $%d", q.Since)
	}
	if before >= 0 {
		add("id < $%d", before)
	}
	args = append(args, limit+1)
	rows, err := s.pool.Query(ctx, `SELECT `+entryColumns+` FROM journal WHERE `+strings.Join(where, " AND ")+
		fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, "", dbError(err)
	}
	defer rows.Close()
	var out []store.JournalEntry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", dbError(err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = cursorEncoding.EncodeToString(binary.BigEndian.AppendUint64(nil, ^out[limit-1].ID))
	}
	return out, next, nil
}

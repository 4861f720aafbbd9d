package store

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/dgraph-io/badger/v4"
)

// The committer is the store's only writer. Callers hand it a writeOp and
// wait; it gathers every op queued meanwhile into one group, appends the
// group as one record to the write-ahead log with one fdatasync (wal.go),
// writes it to Badger, which does not sync, then wakes the callers. A
// checkpoint (checkpoint.go) later syncs Badger's files and recycles the
// log behind them; Open replays what is after the last one.
//
// It is pipelined: while one group (the flight) is synced and written, the
// committer computes the next one and encodes its log record. It reads
// through a snapshot taken before the flight was sent plus the flight's
// writes kept in memory, so what it computes is what it would compute
// after the flight landed. A group is sent only once the flight is done;
// if the flight failed, the group built on it fails too.
//
// Two lanes: a small op (a webhook's lead, an edit, an outbox change) is
// taken into the open group as soon as it arrives; a bulk op (a check
// answer's batch: more than bulkSteps steps) waits in a lane of its own
// and is taken only when the committer has nothing else to do, or when
// its pace allows (bulkPace) into a group that has no op yet: at most one
// bulk op a group, and after a group with bulk in it lands, the next bulk
// op waits bulkPace times what that one cost (its build and its group's
// write) while small ops keep coming. Small writes thus never queue
// behind a bulk build, ride with a bulk group's longer write at most
// about a quarter of the time, and bulk keeps moving under any load of
// small writes: its wait is bounded by its own cost, not by theirs. A
// bulk op is still one op: one group, one log record, all or nothing.
//
// Being the only writer, it never meets a transaction conflict, so
// conflict detection is off (badgerOptions) and no retry loop is needed.
//
// An op is a list of steps; a step changes one lead (or creates one). An op
// never spans two groups, and a group lands whole: it is one log record,
// replayed whole after a crash; one that outgrows Badger's transaction
// size limit (a big batch) is written to Badger in parts (redo.go) cut
// between steps — a step never spans two. An op whose step fails writes
// none of its steps.

// maxGroupOps bounds how many queued ops one gathering takes.
const maxGroupOps = 4096

// bulkSteps is the most steps a small op has: a webhook's few leads, a
// hook's batch. A check answer's batch (check.batch leads, 50 by
// default) has more.
const bulkSteps = 16

// bulkPace is how many times its own cost a bulk op waits after the
// last bulk group landed while small ops keep the committer busy: bulk
// takes at most about 1/(bulkPace+1) of the committer's time from them.
const bulkPace = 3

// step computes one lead's change against the state the committer sees and
// records its writes in w. It may run twice (an op's first step, when the
// group it was computed in is full), so it must only record results, not
// act. Returning an error
// stops the op; rule violations are results, not errors.
type step func(w *stepWriter) error

type writeOp struct {
	steps   []step
	next    int       // first step not yet in a group
	events  [][]Event // events of each step, published after commit
	err     error
	pending int // groups holding this op that have not landed
	done    chan struct{}
	closed  bool // done is closed
	bulk    bool // waits in the bulk lane (more than bulkSteps steps)
	// handed is when the caller handed it over, took when the committer
	// took it; sent and called when the group that finished it went to
	// Badger and Badger called back (CommitStats).
	handed, took, sent, called time.Time
	// one and oneEvents hold the step and events of an op of one step
	// (newStepOp), the most common kind: no slices of their own.
	one       [1]step
	oneEvents [1][]Event
}

func newOp(steps ...step) *writeOp {
	return &writeOp{steps: steps, events: make([][]Event, len(steps)), done: make(chan struct{}), bulk: len(steps) > bulkSteps}
}

// newStepOp is an op of one step, in one allocation (and its channel).
func newStepOp(st step) *writeOp {
	op := &writeOp{done: make(chan struct{})}
	op.one[0] = st
	op.steps, op.events = op.one[:], op.oneEvents[:]
	return op
}

type committer struct {
	s        *Badger
	mu       sync.RWMutex // held by senders; Close takes it to stop new ops
	stopped  bool
	ch       chan *writeOp
	maxBytes int64
	maxCount int64
	vlogFrom int // values this long go to the value log (0: none do)

	snap   *badger.Txn // state before flight was sent
	flight *group      // sent to Badger, not yet done
	open   *group      // taking ops, to be sent when flight lands
	seq    uint64      // sequence number of the last group begun

	// committed is the sequence number of the last group written. A batch
	// notes it before it opens its snapshot; any lead written by a later
	// group may be newer than the batch's copy.
	committed atomic.Uint64
	// lastWrite maps a lead id to the group that last wrote it. Only the
	// committer goroutine touches it. It forgets everything when it grows
	// too big: leads it does not know count as written at forgotAt.
	lastWrite map[uint64]uint64
	forgotAt  uint64
	// unfinished holds the parts of a group that is in the log but not
	// all in Badger (redo.go): until they are written, nothing else is.
	unfinished *partsLeft

	// bulk is the bulk lane: ops taken by the committer but not yet into
	// a group, oldest first. nextBulk is when the next may go in while
	// small ops keep coming.
	bulk     []*writeOp
	nextBulk time.Time

	stats commitStats

	sw    stepWriter // reused for each step (stepWriter)
	spare *group     // a landed group, to be the next one (newGroup)
}

// maxTracked bounds lastWrite (about 40 bytes an entry).
const maxTracked = 1 << 18

func newCommitter(s *Badger) *committer {
	c := &committer{
		s:         s,
		ch:        make(chan *writeOp, maxGroupOps),
		lastWrite: make(map[uint64]uint64),
		// Stay well under Badger's limits: our size estimate is rough.
		maxBytes: s.db.MaxBatchSize() * 4 / 10,
		maxCount: s.db.MaxBatchCount() * 4 / 10,
		vlogFrom: valueThreshold,
	}
	if s.opts.InMemory {
		c.vlogFrom = 0 // every value stays in the tree
	}
	return c
}

// writtenSince reports whether lead id may have been written after group
// seq, i.e. whether a batch that read it at seq must read it again. Called
// from steps only.
func (c *committer) writtenSince(id, seq uint64) bool {
	if w, ok := c.lastWrite[id]; ok {
		return w > seq
	}
	return c.forgotAt > seq
}

func (c *committer) noteWrite(id uint64) {
	if len(c.lastWrite) >= maxTracked {
		clear(c.lastWrite)
		c.forgotAt = c.seq
	}
	c.lastWrite[id] = c.seq
}

// do runs op and waits until it is committed (or failed).
func (c *committer) do(op *writeOp) error {
	if err := c.s.writable(); err != nil {
		return err
	}
	c.mu.RLock()
	if c.stopped {
		c.mu.RUnlock()
		return ErrClosed
	}
	op.handed = time.Now()
	c.ch <- op
	c.mu.RUnlock()
	<-op.done
	c.noteRound(op)
	return op.err
}

// noteRound counts op's round in the stats, once its caller runs again.
func (c *committer) noteRound(op *writeOp) {
	now := time.Now()
	c.stats.ops.Add(1)
	c.stats.round.Add(int64(now.Sub(op.handed)))
	if !op.called.IsZero() {
		c.stats.wake.Add(int64(now.Sub(op.called)))
		c.stats.waited.Add(int64(op.sent.Sub(op.took)))
		c.stats.inBadger.Add(int64(op.called.Sub(op.sent)))
	}
}

// stop lets the ops already queued finish and ends the loop.
func (c *committer) stop() {
	c.mu.Lock()
	if !c.stopped {
		c.stopped = true
		close(c.ch)
	}
	c.mu.Unlock()
}

func (c *committer) loop() {
	c.snap = c.s.db.NewTransaction(false)
	defer func() {
		c.land()
		c.snap.Discard()
	}()
	in := c.ch
	for in != nil || c.open != nil || len(c.bulk) > 0 {
		c.admitBulk()
		// Nothing in the air: what is gathered goes now. Otherwise the
		// open group keeps taking ops until the flight lands, so that one
		// fsync carries every op that arrived meanwhile.
		if c.flight == nil && c.open != nil {
			c.send(c.open)
			c.open = nil
			continue
		}
		var landed <-chan struct{}
		if c.flight != nil {
			landed = c.flight.done
		}
		select {
		case op, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			c.arrive(op)
		drain:
			for i := 0; i < maxGroupOps; i++ {
				select {
				case op, ok := <-in:
					if !ok {
						in = nil
						break drain
					}
					c.arrive(op)
				default:
					break drain
				}
			}
		case <-landed:
			if err := c.land(); err != nil && c.open != nil {
				// The open group was computed on top of writes that did
				// not land.
				c.open.poison = err
			}
		}
	}
}

// arrive takes a small op into the open group now and puts a bulk op in
// the bulk lane.
func (c *committer) arrive(op *writeOp) {
	if op.bulk {
		op.took = time.Now() // the lane's wait counts as queued
		c.bulk = append(c.bulk, op)
		return
	}
	c.take(op)
}

// admitBulk takes the bulk lane's oldest op into a group of its own when
// the committer is idle (nothing in the air, gathered or queued), or into
// a fresh open group, just after the one before went, when the pace
// allows it: small ops gathered before it never wait for its build or its
// longer write; those that come while it is built or in the air ride
// with it rather than wait for it to land.
func (c *committer) admitBulk() {
	if len(c.bulk) == 0 {
		return
	}
	idle := c.flight == nil && c.open == nil && len(c.ch) == 0
	if !idle && (c.open != nil || time.Now().Before(c.nextBulk)) {
		return
	}
	op := c.bulk[0]
	c.bulk[0] = nil
	c.bulk = c.bulk[1:]
	queued := op.took
	c.take(op)
	c.stats.bulk.Add(1)
	c.stats.bulkWaited.Add(int64(op.took.Sub(queued)))
	if g := c.open; g != nil && g.members[len(g.members)-1] == op {
		g.bulk = true
		g.bulkBuild = time.Since(op.took)
	}
}

// paceBulk sets when the next bulk op may go in, g (with bulk in it)
// having just landed: bulkPace times what it cost.
func (c *committer) paceBulk(g *group) {
	cost := g.bulkBuild
	if !g.called.IsZero() {
		cost += g.called.Sub(g.sent)
	}
	c.nextBulk = time.Now().Add(bulkPace * cost)
}

// stepWriter collects one step's writes and events.
type stepWriter struct {
	g      *group
	writes []write
	events []Event
	bytes  int64
}

type write struct {
	key, val []byte
	del      bool
}

// get reads a key as it will be once every earlier step has landed: the
// group's own writes, then the flight's, then the snapshot.
func (w *stepWriter) get(key []byte) ([]byte, bool, error) {
	for _, g := range []*group{w.g, w.g.c.flight} {
		if g == nil {
			continue
		}
		if wr, ok := g.overlay[string(key)]; ok { // no copy: a map lookup
			return wr.val, !wr.del, nil
		}
	}
	return getValue(w.g.c.snap, key)
}

func (w *stepWriter) set(key, val []byte) {
	w.writes = append(w.writes, write{key: key, val: val})
	w.bytes += w.g.c.writeSize(key, val)
}

func (w *stepWriter) del(key []byte) {
	w.writes = append(w.writes, write{key: key, del: true})
	w.bytes += w.g.c.writeSize(key, nil)
}

// writeSize is our rough estimate of what a write counts toward Badger's
// transaction size limit: a value that goes to the value log counts as
// its pointer (Badger's estimate too), so that a big lead is not refused
// for a transaction limit it does not reach.
func (c *committer) writeSize(key, val []byte) int64 {
	if c.vlogFrom > 0 && len(val) >= c.vlogFrom {
		val = nil
	}
	return int64(len(key)+len(val)) + 64
}

func (w *stepWriter) emit(ev Event) { w.events = append(w.events, ev) }

// group is one transaction's worth of writes and the ops with steps in it,
// or more than that when one op alone outgrows a transaction (redo.go).
type group struct {
	c       *committer
	seq     uint64
	writes  []write
	ends    []int            // where each step's writes end in writes
	overlay map[string]write // last write of each key
	members []*writeOp
	bytes   int64
	done    chan struct{} // closed by Badger's commit callback
	err     error
	poison  error  // set when a flight it was computed on failed
	rec     []byte // its log record: its writes, encoded as they are added
	recEnds []int  // where each step's writes end in rec
	// rest: the parts it failed to write to Badger after its record was
	// logged (redo.go).
	rest *partsLeft
	// opened, sent, called: when it took its first op, went to Badger,
	// and Badger called back (CommitStats).
	opened, sent, called time.Time
	// bulk: it holds a bulk op, which took bulkBuild to compute.
	bulk      bool
	bulkBuild time.Duration
}

// join makes op a member of g: op finishes only when all its groups landed.
func (g *group) join(op *writeOp) {
	if n := len(g.members); n == 0 || g.members[n-1] != op {
		g.members = append(g.members, op)
		op.pending++
	}
}

func (c *committer) newGroup() *group {
	if c.unfinished != nil && c.flight == nil {
		c.finish() // if it cannot, send fails the group
	}
	c.seq++
	if g := c.spare; g != nil {
		c.spare = nil
		g.seq, g.opened = c.seq, time.Now()
		return g
	}
	return &group{c: c, seq: c.seq, overlay: make(map[string]write), opened: time.Now()}
}

// recycle keeps g, landed, as the next group: its slices, map and record
// buffer keep their room. Not one with parts left (redo.go), which
// still holds its writes.
func (c *committer) recycle(g *group) {
	if g.rest != nil || cap(g.rec) > 1<<20 || len(g.overlay) > 4096 {
		return // a big batch's group: let it go
	}
	clear(g.writes)
	clear(g.members)
	clear(g.overlay)
	*g = group{c: c, writes: g.writes[:0], ends: g.ends[:0], overlay: g.overlay, members: g.members[:0],
		rec: g.rec[:0], recEnds: g.recEnds[:0]}
	c.spare = g
}

// finish writes the rest of the group that is logged but not all in
// Badger (redo.go), if the store can write again, and moves the snapshot
// past it.
func (c *committer) finish() error {
	if rest, err := c.s.writeParts(c.unfinished); err != nil {
		c.unfinished = rest
		return fmt.Errorf("a batch is still to be finished: %w", err)
	}
	c.unfinished = nil
	c.snap.Discard()
	c.snap = c.s.db.NewTransaction(false)
	return nil
}

// take computes op's steps into the open group, sending groups on as they
// fill up.
func (c *committer) take(op *writeOp) {
	op.took = time.Now()
	c.stats.queued.Add(int64(op.took.Sub(op.handed)))
	defer func() { c.stats.build.Add(int64(time.Since(op.took))) }()
	if c.open == nil {
		c.open = c.newGroup()
	}
	start := len(c.open.ends) // op's first step in the open group
	for op.err == nil && op.next < len(op.steps) {
		g := c.open
		w := c.stepWriter(g)
		if err := op.steps[op.next](w); err != nil {
			op.err = err
			break
		}
		if w.bytes > c.maxBytes || int64(len(w.writes)) > c.maxCount {
			op.err = fmt.Errorf("one change of %d bytes exceeds a transaction: %w", w.bytes, ErrInvalid)
			break
		}
		// An op that has not begun waits for a fresh group when this one
		// is full; one that has stays, even past a transaction's size.
		if op.next == 0 && len(g.writes) > 0 &&
			(g.bytes+w.bytes > c.maxBytes || int64(len(g.writes)+len(w.writes)) > c.maxCount) {
			c.send(g)
			c.open = c.newGroup()
			start = 0
			continue // compute the step again on top of the group just sent
		}
		g.add(w)
		op.events[op.next] = w.events
		op.next++
		g.join(op)
	}
	if op.err != nil && op.next > 0 {
		c.open.truncate(start) // all of it or none
	}
	if op.err != nil || op.next == 0 {
		// It failed, or had no steps: it waits for nothing of its own, but
		// what it saw may rest on the flight, so it finishes with this group.
		c.open.join(op)
	}
}

// stepWriter is the committer's one stepWriter, emptied for a step of g:
// its writes are copied into the group, its events kept by the op.
func (c *committer) stepWriter(g *group) *stepWriter {
	w := &c.sw
	*w = stepWriter{g: g, writes: w.writes[:0]}
	return w
}

// keyString is a key as the overlay's map key, without a copy: a key,
// once written, is never changed (each is made for its write).
func keyString(key []byte) string { return unsafe.String(unsafe.SliceData(key), len(key)) }

func (g *group) add(w *stepWriter) {
	for _, wr := range w.writes {
		g.writes = append(g.writes, wr)
		g.overlay[keyString(wr.key)] = wr
		if g.c.s.wal != nil {
			g.rec = appendWrite(g.rec, wr)
		}
	}
	g.ends = append(g.ends, len(g.writes))
	g.recEnds = append(g.recEnds, len(g.rec))
	g.bytes += w.bytes
}

// truncate drops the writes of step n and after: those of an op that
// failed midway.
func (g *group) truncate(n int) {
	g.writes, g.ends = g.writes[:g.stepStart(n)], g.ends[:n]
	g.recEnds = g.recEnds[:n]
	g.rec = g.rec[:0]
	if n > 0 {
		g.rec = g.rec[:g.recEnds[n-1]]
	}
	clear(g.overlay)
	g.bytes = 0
	for _, wr := range g.writes {
		g.overlay[keyString(wr.key)] = wr
		g.bytes += g.c.writeSize(wr.key, wr.val)
	}
}

// stepStart is where step i's writes begin in g.writes.
func (g *group) stepStart(i int) int {
	if i == 0 {
		return 0
	}
	return g.ends[i-1]
}

// fits says whether g is one transaction's worth.
func (g *group) fits() bool {
	return g.bytes <= g.c.maxBytes && int64(len(g.writes)) <= g.c.maxCount
}

// parts cuts g's writes between steps into transactions' worth.
func (g *group) parts() [][]write {
	var (
		parts       [][]write
		from, first int // the current part's first write and first step
		bytes       int64
	)
	for i, end := range g.ends {
		start := g.stepStart(i)
		var size int64
		for _, wr := range g.writes[start:end] {
			size += g.c.writeSize(wr.key, wr.val)
		}
		if i > first && (bytes+size > g.c.maxBytes || int64(end-from) > g.c.maxCount) {
			parts = append(parts, g.writes[from:start])
			from, first, bytes = start, i, 0
		}
		bytes += size
	}
	return append(parts, g.writes[from:])
}

// send waits for the flight to land, then hands g to Badger as the new
// flight. A g computed on a flight that failed fails with it.
func (c *committer) send(g *group) {
	if failed := c.land(); failed != nil && g.poison == nil {
		g.poison = failed
	}
	if c.unfinished != nil && g.poison == nil {
		// g was computed on a store holding part of a group: it cannot
		// land, whether or not that group can be finished now.
		if err := c.finish(); err != nil {
			g.poison = err
		} else {
			g.poison = errors.New("an unfinished batch was finished meanwhile: try again")
		}
	}
	g.done = make(chan struct{})
	c.flight = g
	if g.poison != nil {
		g.err = fmt.Errorf("an earlier write failed: %w", g.poison)
		close(g.done)
		c.land() // its overlay must not be read
		return
	}
	if len(g.writes) == 0 {
		close(g.done)
		return
	}
	c.noteSent(g)
	go c.fly(g)
}

// fly makes g durable and writes it to Badger: its record to the log and
// one fdatasync, then its writes, in one transaction or, too big for one,
// in parts (redo.go). Badger does not sync: the log is the durable copy
// until a checkpoint.
func (c *committer) fly(g *group) {
	defer close(g.done)
	// Twice the record: the log, then Badger (g.bytes counts a big value
	// as the pointer Badger keeps in its tree, not the value).
	defer c.s.noteWritten(2 * int64(max(len(g.rec), int(g.bytes))))
	if w := c.s.wal; w != nil {
		err := w.append(g.rec)
		c.noteLogged(g)
		if err != nil {
			g.err = err // nothing of g is anywhere
			return
		}
	}
	if g.fits() {
		// In the log but not in Badger: it lands before anything else,
		// as a batch's parts do (redo.go); the log would replay it anyway.
		if err := c.s.applyTxn(g.writes); err != nil {
			g.rest, g.err = &partsLeft{parts: [][]write{g.writes}}, err
		}
	} else {
		g.rest, g.err = c.s.landWhole(g.parts())
	}
	c.noteCalled(g)
}

// noteSent counts g, sent to Badger now, in the stats.
func (c *committer) noteSent(g *group) {
	g.sent = time.Now()
	c.stats.groups.Add(1)
	c.stats.held.Add(int64(g.sent.Sub(g.opened)))
}

// noteLogged counts the log's time on g, just appended (and synced).
func (c *committer) noteLogged(g *group) {
	c.stats.log.Add(int64(time.Since(g.sent)))
	c.stats.logBytes.Add(int64(len(g.rec)))
}

// noteCalled counts Badger's time on g, which it has just written.
func (c *committer) noteCalled(g *group) {
	g.called = time.Now()
	c.stats.noteWrite(g.called.Sub(g.sent))
}

// land waits for the flight, publishes its events and finishes the ops it
// completes. The snapshot moves past it, since its overlay goes. It returns
// the flight's error, if it failed.
func (c *committer) land() error {
	g := c.flight
	if g == nil {
		return nil
	}
	<-g.done
	if !g.called.IsZero() {
		c.stats.landing.Add(int64(time.Since(g.called)))
	}
	if g.rest != nil {
		// Finish it now, if the store can write again.
		if rest, err := c.s.writeParts(g.rest); err == nil {
			g.err = nil
		} else {
			c.unfinished = rest
		}
	}
	c.flight = nil
	if g.bulk {
		c.paceBulk(g)
	}
	c.snap.Discard()
	c.snap = c.s.db.NewTransaction(false)
	c.committed.Store(g.seq)
	for _, op := range g.members {
		op.pending--
		if op.closed {
			continue
		}
		if g.err != nil && op.err == nil {
			op.err = fmt.Errorf("store: commit: %w", g.err)
		}
		if op.pending > 0 || (op.err == nil && op.next < len(op.steps)) {
			continue // a later group holds more of it
		}
		if op.err == nil {
			for _, evs := range op.events {
				for _, ev := range evs {
					c.s.subs.publish(ev)
				}
			}
		}
		op.closed = true
		op.sent, op.called = g.sent, g.called
		close(op.done)
	}
	err := g.err
	c.recycle(g)
	return err
}

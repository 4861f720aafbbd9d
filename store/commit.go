package store

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// The committer is the store's only writer. Callers hand it a writeOp and
// wait; it gathers every op queued meanwhile into one group, writes the
// group as one Badger transaction with one fsync, then wakes the callers.
//
// It is pipelined: while Badger writes and syncs one group (the flight),
// the committer computes the next one. It reads through a snapshot taken
// before the flight was sent plus the flight's writes kept in memory, so
// what it computes is what it would compute after the flight landed. A
// group is sent only once the flight is done; if the flight failed, the
// group built on it fails too.
//
// Being the only writer, it never meets a transaction conflict, so
// conflict detection is off (badgerOptions) and no retry loop is needed.
//
// An op is a list of steps; a step changes one lead (or creates one) and is
// all-or-nothing. Steps are what gets split when a batch outgrows Badger's
// transaction size limit: a step never spans two transactions.

// maxGroupOps bounds how many queued ops one gathering takes.
const maxGroupOps = 4096

// step computes one lead's change against the state the committer sees and
// records its writes in w. It may run twice (when the group it was computed
// in fills up), so it must only record results, not act. Returning an error
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
}

func newOp(steps ...step) *writeOp {
	return &writeOp{steps: steps, events: make([][]Event, len(steps)), done: make(chan struct{})}
}

type committer struct {
	s        *Store
	mu       sync.RWMutex // held by senders; Close takes it to stop new ops
	stopped  bool
	ch       chan *writeOp
	maxBytes int64
	maxCount int64

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
}

// maxTracked bounds lastWrite (about 40 bytes an entry).
const maxTracked = 1 << 18

func newCommitter(s *Store) *committer {
	return &committer{
		s:         s,
		ch:        make(chan *writeOp, maxGroupOps),
		lastWrite: make(map[uint64]uint64),
		// Stay well under Badger's limits: our size estimate is rough.
		maxBytes: s.db.MaxBatchSize() * 4 / 10,
		maxCount: s.db.MaxBatchCount() * 4 / 10,
	}
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
	c.ch <- op
	c.mu.RUnlock()
	<-op.done
	return op.err
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
	for in != nil || c.open != nil {
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
			c.take(op)
		drain:
			for i := 0; i < maxGroupOps; i++ {
				select {
				case op, ok := <-in:
					if !ok {
						in = nil
						break drain
					}
					c.take(op)
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
		if wr, ok := g.overlay[string(key)]; ok {
			return wr.val, !wr.del, nil
		}
	}
	return getValue(w.g.c.snap, key)
}

func (w *stepWriter) set(key, val []byte) {
	w.writes = append(w.writes, write{key: key, val: val})
	w.bytes += int64(len(key)+len(val)) + 64
}

func (w *stepWriter) del(key []byte) {
	w.writes = append(w.writes, write{key: key, del: true})
	w.bytes += int64(len(key)) + 64
}

func (w *stepWriter) emit(ev Event) { w.events = append(w.events, ev) }

// group is one transaction's worth of writes and the ops with steps in it.
type group struct {
	c       *committer
	seq     uint64
	writes  []write
	overlay map[string]write // last write of each key
	members []*writeOp
	bytes   int64
	done    chan struct{} // closed by Badger's commit callback
	err     error
	poison  error // set when a flight it was computed on failed
}

// join makes op a member of g: op finishes only when all its groups landed.
func (g *group) join(op *writeOp) {
	if n := len(g.members); n == 0 || g.members[n-1] != op {
		g.members = append(g.members, op)
		op.pending++
	}
}

func (c *committer) newGroup() *group {
	c.seq++
	return &group{c: c, seq: c.seq, overlay: make(map[string]write)}
}

// take computes op's steps into the open group, sending groups on as they
// fill up.
func (c *committer) take(op *writeOp) {
	if c.open == nil {
		c.open = c.newGroup()
	}
	for op.err == nil && op.next < len(op.steps) {
		g := c.open
		w := &stepWriter{g: g}
		if err := op.steps[op.next](w); err != nil {
			op.err = err
			break
		}
		if g.bytes+w.bytes > c.maxBytes || int64(len(g.writes)+len(w.writes)) > c.maxCount {
			if len(g.writes) == 0 {
				op.err = fmt.Errorf("one change of %d bytes exceeds a transaction: %w", w.bytes, ErrInvalid)
				break
			}
			c.send(g)
			c.open = c.newGroup()
			continue // compute the step again on top of the group just sent
		}
		g.add(w)
		op.events[op.next] = w.events
		op.next++
		g.join(op)
	}
	if op.err != nil || op.next == 0 {
		// It failed, or had no steps: it waits for nothing of its own, but
		// what it saw may rest on the flight, so it finishes with this group.
		c.open.join(op)
	}
}

func (g *group) add(w *stepWriter) {
	for _, wr := range w.writes {
		g.writes = append(g.writes, wr)
		g.overlay[string(wr.key)] = wr
	}
	g.bytes += w.bytes
}

// send waits for the flight to land, then hands g to Badger as the new
// flight. A g computed on a flight that failed fails with it.
func (c *committer) send(g *group) {
	if failed := c.land(); failed != nil && g.poison == nil {
		g.poison = failed
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
	txn := c.s.db.NewTransaction(true)
	for _, wr := range g.writes {
		var err error
		if wr.del {
			err = txn.Delete(wr.key)
		} else {
			err = txn.Set(wr.key, wr.val)
		}
		if err != nil {
			// Our estimate keeps us below Badger's limits, so this is a
			// bug or a broken database.
			txn.Discard()
			g.err = fmt.Errorf("store: write: %w", err)
			close(g.done)
			c.land()
			return
		}
	}
	txn.CommitWith(func(err error) {
		g.err = err
		close(g.done)
	})
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
	c.flight = nil
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
		close(op.done)
	}
	return g.err
}

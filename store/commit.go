package store

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// The committer is the store's only writer. Calls hand it a writeOp and wait;
// it gathers every op queued meanwhile into one Badger transaction, commits
// it with one fsync, then wakes the callers. Being the only writer, it never
// meets a transaction conflict, so conflict detection is off (badgerOptions)
// and no retry loop is needed.
//
// An op is a list of steps; a step changes one lead (or creates one) and is
// all-or-nothing. Steps are what gets split when a batch outgrows Badger's
// transaction size limit: a step never spans two transactions.

// maxGroupOps bounds how many queued ops one transaction gathers.
const maxGroupOps = 4096

// step computes one lead's change against the transaction's current state
// and records its writes in w. It may run twice (when the transaction it
// was computed in fills up), so it must only record results, not act.
// Returning an error stops the op; rule violations are results, not errors.
type step func(w *stepWriter) error

type writeOp struct {
	steps  []step
	next   int       // first step not yet in a transaction
	events [][]Event // events of each step, published after commit
	err    error
	done   chan struct{}
	closed bool // done is closed
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

	// committed counts the transactions committed so far. A batch notes it
	// before it opens its snapshot; any lead written in a later
	// transaction may be newer than the batch's copy.
	committed atomic.Uint64
	// lastWrite maps a lead id to the transaction that last wrote it
	// (committed+1 while it is being filled). Only the committer goroutine
	// touches it. It forgets everything when it grows too big: leads it
	// does not know count as written at forgotAt.
	lastWrite map[uint64]uint64
	forgotAt  uint64
}

// maxTracked bounds lastWrite (about 40 bytes an entry).
const maxTracked = 1 << 18

// writtenSince reports whether lead id may have been written after
// transaction seq, i.e. whether a batch that read it at seq must read it
// again. Called from steps only.
func (c *committer) writtenSince(id, seq uint64) bool {
	if w, ok := c.lastWrite[id]; ok {
		return w > seq
	}
	return c.forgotAt > seq
}

func (c *committer) noteWrite(id uint64) {
	if len(c.lastWrite) >= maxTracked {
		clear(c.lastWrite)
		c.forgotAt = c.committed.Load() + 1
	}
	c.lastWrite[id] = c.committed.Load() + 1
}

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

// do runs op and waits until it is committed (or failed).
func (c *committer) do(op *writeOp) error {
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
	group := make([]*writeOp, 0, 64)
	for op := range c.ch {
		group = append(group[:0], op)
	gather:
		for len(group) < maxGroupOps {
			select {
			case op, ok := <-c.ch:
				if !ok {
					break gather
				}
				group = append(group, op)
			default:
				break gather
			}
		}
		c.run(group)
	}
}

// stepWriter collects one step's writes and events.
type stepWriter struct {
	txn    *badger.Txn
	writes []write
	events []Event
	bytes  int64
}

type write struct {
	key, val []byte
	del      bool
}

// get reads a key as the transaction sees it: committed data plus the
// writes of earlier steps in the same transaction.
func (w *stepWriter) get(key []byte) ([]byte, bool, error) {
	item, err := w.txn.Get(key)
	if err == badger.ErrKeyNotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	v, err := item.ValueCopy(nil)
	return v, err == nil, err
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

// group is the transaction being filled and the ops that have steps in it.
type group struct {
	c       *committer
	txn     *badger.Txn
	members []*writeOp
	bytes   int64
	count   int64
}

func (c *committer) run(ops []*writeOp) {
	g := &group{c: c, txn: c.s.db.NewTransaction(true)}
	for _, op := range ops {
		for op.err == nil && op.next < len(op.steps) {
			w := &stepWriter{txn: g.txn}
			if err := op.steps[op.next](w); err != nil {
				op.err = err
				break
			}
			if g.bytes+w.bytes > c.maxBytes || g.count+int64(len(w.writes)) > c.maxCount {
				if g.count == 0 {
					op.err = fmt.Errorf("one change of %d bytes exceeds a transaction: %w", w.bytes, ErrInvalid)
					break
				}
				g.commit()
				g = &group{c: c, txn: c.s.db.NewTransaction(true)}
				continue // compute the step again against the new transaction
			}
			if err := g.apply(w); err != nil {
				op.err = err
				break
			}
			op.events[op.next] = w.events
			op.next++
			if len(g.members) == 0 || g.members[len(g.members)-1] != op {
				g.members = append(g.members, op)
			}
		}
		if len(g.members) == 0 || g.members[len(g.members)-1] != op {
			// The op never reached this transaction (it failed first, or
			// had no steps): nothing of it waits for the commit.
			if op.next == 0 || op.err != nil {
				g.members = append(g.members, op)
			}
		}
	}
	g.commit()
}

func (g *group) apply(w *stepWriter) error {
	for _, wr := range w.writes {
		var err error
		if wr.del {
			err = g.txn.Delete(wr.key)
		} else {
			err = g.txn.Set(wr.key, wr.val)
		}
		if err != nil {
			// Our estimate keeps us below Badger's limits, so this is a
			// bug or a broken database; the transaction is unusable.
			return fmt.Errorf("store: write: %w", err)
		}
	}
	g.bytes += w.bytes
	g.count += int64(len(w.writes))
	return nil
}

// commit writes the transaction and finishes the ops that are complete.
// An op split over several transactions finishes with its last one.
func (g *group) commit() {
	var err error
	if g.count > 0 {
		err = g.txn.Commit()
		g.c.committed.Add(1)
	} else {
		g.txn.Discard()
	}
	for _, op := range g.members {
		if err != nil && op.err == nil {
			op.err = fmt.Errorf("store: commit: %w", err)
		}
		if op.closed || (op.err == nil && op.next < len(op.steps)) {
			continue // finished already, or more steps follow in the next transaction
		}
		if op.err == nil {
			for _, evs := range op.events {
				for _, ev := range evs {
					g.c.s.subs.publish(ev)
				}
			}
		}
		op.closed = true
		close(op.done)
	}
	g.members = nil
}

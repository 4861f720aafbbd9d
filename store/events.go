package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Event reports a lead's status change: its creation (From 0), an edit that
// moved it, or an approval (Approved; SPEC §1: approval is the only way into
// 6/10 that fires the approve event).
type Event struct {
	LeadID   uint64    `json:"lead_id"`
	Offer    string    `json:"offer"`
	Rev      uint32    `json:"rev"` // the lead's history entry of this change
	From     Status    `json:"from"`
	To       Status    `json:"to"`
	Reason   Reason    `json:"reason,omitempty"`
	Approved bool      `json:"approved,omitempty"`
	At       time.Time `json:"at"`
	By       string    `json:"by"`
}

// Subscribe calls fn after every committed status change, in commit order,
// from the committer's goroutine: fn must return quickly and must not call
// the store's writing methods (hand the event to a channel instead). For
// consumers that must see every change even across a crash, use a Feed.
func (s *Store) Subscribe(fn func(Event)) (cancel func()) { return s.subs.add(fn) }

type subscribers struct {
	mu   sync.RWMutex
	next int
	fns  map[int]func(Event)
}

func (b *subscribers) add(fn func(Event)) func() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fns == nil {
		b.fns = make(map[int]func(Event))
	}
	id := b.next
	b.next++
	b.fns[id] = fn
	return func() {
		b.mu.Lock()
		delete(b.fns, id)
		b.mu.Unlock()
	}
}

func (b *subscribers) publish(ev Event) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, fn := range b.fns {
		fn(ev)
	}
}

func encodeEvent(ev *Event) []byte {
	e := encoder{b: make([]byte, 0, 48+len(ev.Offer)+len(ev.By))}
	e.b = append(e.b, recordV1)
	e.uvarint(ev.LeadID)
	e.str(ev.Offer)
	e.uvarint(uint64(ev.Rev))
	e.b = append(e.b, byte(ev.From), byte(ev.To))
	e.uvarint(uint64(ev.Reason))
	if ev.Approved {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
	e.time(ev.At)
	e.str(ev.By)
	return e.b
}

func decodeEvent(b []byte) (Event, error) {
	d := decoder{b: b}
	if d.byte() != recordV1 {
		return Event{}, fmt.Errorf("event record: unknown format: %w", errCorrupt)
	}
	var ev Event
	ev.LeadID = d.uvarint()
	ev.Offer = d.str()
	ev.Rev = uint32(d.uvarint())
	ev.From = Status(d.byte())
	ev.To = Status(d.byte())
	ev.Reason = Reason(d.uvarint())
	ev.Approved = d.byte() == 1
	ev.At = d.time()
	ev.By = d.str()
	if d.err != nil {
		return Event{}, fmt.Errorf("event record: %w", d.err)
	}
	return ev, nil
}

// Feed is a durable queue of status changes for one consumer (outgoing
// postbacks, say). Each change is written to the feed in the same
// transaction as the change itself, so none is lost to a crash; the
// consumer reads, handles and then acknowledges them.
type Feed struct {
	s    *Store
	name string
}

// Feed returns the named feed; the name must be in Options.Feeds.
func (s *Store) Feed(name string) (*Feed, error) {
	for _, f := range s.opts.Feeds {
		if f == name {
			return &Feed{s: s, name: name}, nil
		}
	}
	return nil, fmt.Errorf("store: no feed %q (Options.Feeds): %w", name, ErrNotFound)
}

// Pending returns up to limit unacknowledged events, oldest lead first.
func (f *Feed) Pending(ctx context.Context, limit int) ([]Event, error) {
	var out []Event
	err := f.s.view(ctx, func(txn *badger.Txn) error {
		prefix := feedPrefix(f.name)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		for it.Rewind(); it.Valid() && len(out) < limit; it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			ev, err := decodeEvent(v)
			if err != nil {
				return err
			}
			out = append(out, ev)
		}
		return nil
	})
	return out, err
}

// Ack removes handled events from the feed; it is durable when it returns.
func (f *Feed) Ack(ctx context.Context, events ...Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return f.s.commit.do(newOp(func(w *stepWriter) error {
		for _, ev := range events {
			w.del(feedKey(f.name, ev.LeadID, ev.Rev))
		}
		return nil
	}))
}

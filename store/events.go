package store

import (
	"bytes"
	"context"
	"encoding/binary"
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
func (s *Badger) Subscribe(fn func(Event)) (cancel func()) { return s.subs.add(fn) }

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

// encodeFeedItem is the event followed by its delivery state.
func encodeFeedItem(it *FeedItem) []byte {
	e := encoder{b: encodeEvent(&it.Event)}
	e.uvarint(uint64(it.Attempts))
	e.time(it.NotBefore)
	if it.InFlight {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
	e.str(it.LastError)
	return e.b
}

// decodeFeedItem reads an event and, when present, its delivery state.
func decodeFeedItem(b []byte) (FeedItem, error) {
	d := decoder{b: b}
	ev, err := readEvent(&d)
	if err != nil {
		return FeedItem{}, err
	}
	it := FeedItem{Event: ev}
	if len(d.b) > 0 {
		it.Attempts = int(d.uvarint())
		it.NotBefore = d.time()
		it.InFlight = d.byte() == 1
		it.LastError = d.str()
		if d.err != nil {
			return FeedItem{}, fmt.Errorf("feed item: %w", d.err)
		}
	}
	return it, nil
}

func readEvent(d *decoder) (Event, error) {
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

// badgerFeed is Badger's Feed: its items are keys written in the
// transaction of the change they carry.
type badgerFeed struct {
	s    *Badger
	name string
}

// Name is the feed's name ("send", "postback").
func (f *badgerFeed) Name() string { return f.name }

// FeedItem is a pending change and the state of its delivery.
type FeedItem struct {
	Event
	Attempts  int       `json:"attempts"`             // Begin calls so far
	NotBefore time.Time `json:"not_before,omitzero"`  // set by Retry: no attempt before this
	InFlight  bool      `json:"in_flight,omitempty"`  // Begun, with neither Ack nor Retry since
	LastError string    `json:"last_error,omitempty"` // from Retry
}

// Feed returns the named feed; the name must be in Options.Feeds.
func (s *Badger) Feed(name string) (Feed, error) {
	for _, f := range s.opts.Feeds {
		if f == name {
			return &badgerFeed{s: s, name: name}, nil
		}
	}
	return nil, fmt.Errorf("store: no feed %q (Options.Feeds): %w", name, ErrNotFound)
}

// Pending returns up to limit unacknowledged items, oldest lead first
// (items held for a person are not among them: Held).
func (f *badgerFeed) Pending(ctx context.Context, limit int) ([]FeedItem, error) {
	return f.PendingAfter(ctx, nil, limit)
}

// PendingAfter is Pending from just after the item after (nil: from the
// start), to page through a long feed.
func (f *badgerFeed) PendingAfter(ctx context.Context, after *FeedItem, limit int) ([]FeedItem, error) {
	return f.list(ctx, feedPrefix(f.name), after, limit)
}

// Held lists the items held for a person (Hold), oldest lead first.
func (f *badgerFeed) Held(ctx context.Context, limit int) ([]FeedItem, error) {
	return f.list(ctx, offerPrefix(kindHeld, f.name), nil, limit)
}

func (f *badgerFeed) list(ctx context.Context, prefix []byte, after *FeedItem, limit int) ([]FeedItem, error) {
	var out []FeedItem
	err := f.s.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		start := prefix
		if after != nil {
			start = binary.BigEndian.AppendUint32(appendU64(append([]byte(nil), prefix...), after.LeadID), after.Rev+1)
		}
		for it.Seek(start); it.Valid() && len(out) < limit; it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			it, err := decodeFeedItem(v)
			if err != nil {
				return err
			}
			out = append(out, it)
		}
		return nil
	})
	return out, err
}

// Ack removes handled items from the feed; it is durable when it returns.
func (f *badgerFeed) Ack(ctx context.Context, events ...FeedItem) error {
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

// Begin records, durably, that a delivery of it is about to be attempted:
// InFlight until Ack or Retry. An item acknowledged meanwhile is left
// alone and Begin reports ErrNotFound; one begun since it was read,
// ErrClaimed.
func (f *badgerFeed) Begin(ctx context.Context, it FeedItem) (FeedItem, error) {
	read := it
	it.Attempts++
	it.InFlight = true
	key := feedKey(f.name, it.LeadID, it.Rev)
	return it, f.move(ctx, key, key, fmt.Sprintf("lead %d rev %d", it.LeadID, it.Rev), func(stored []byte) (FeedItem, error) {
		now, err := decodeFeedItem(stored)
		if err != nil {
			return FeedItem{}, err
		}
		// One process sends from a Badger store, but a stale copy of an
		// item (read before another attempt began) must not begin again.
		if now.Attempts != read.Attempts || now.InFlight != read.InFlight {
			return FeedItem{}, fmt.Errorf("feed %s: lead %d rev %d: begun since it was read: %w", f.name, it.LeadID, it.Rev, ErrClaimed)
		}
		return it, nil
	})
}

// Retry records a failed attempt: not before notBefore, and why.
func (f *badgerFeed) Retry(ctx context.Context, it FeedItem, notBefore time.Time, why string) (FeedItem, error) {
	it.InFlight = false
	return f.Defer(ctx, it, notBefore, why)
}

// Defer puts it off until notBefore, saying why, with no attempt made:
// its attempts and InFlight stay as they are (an item in doubt stays in
// doubt while it waits).
func (f *badgerFeed) Defer(ctx context.Context, it FeedItem, notBefore time.Time, why string) (FeedItem, error) {
	it.NotBefore = notBefore.UTC()
	if len(why) > 1024 {
		why = why[:1024]
	}
	it.LastError = why
	return it, f.update(ctx, it)
}

func (f *badgerFeed) update(ctx context.Context, it FeedItem) error {
	key := feedKey(f.name, it.LeadID, it.Rev)
	return f.move(ctx, key, key, fmt.Sprintf("lead %d rev %d", it.LeadID, it.Rev),
		func([]byte) (FeedItem, error) { return it, nil })
}

// Hold takes an item out of the feed and keeps it for a person (a send
// in doubt): Pending no longer returns it, Held does, Release puts it
// back. why says what the person should check.
func (f *badgerFeed) Hold(ctx context.Context, it FeedItem, why string) error {
	it.InFlight, it.NotBefore, it.LastError = false, time.Time{}, why
	return f.move(ctx, feedKey(f.name, it.LeadID, it.Rev), heldKey(f.name, it.LeadID, it.Rev),
		fmt.Sprintf("lead %d rev %d", it.LeadID, it.Rev), func([]byte) (FeedItem, error) { return it, nil })
}

// Release puts a held item back into the feed, to be delivered again,
// and gives it as it was held (what a person saw: its tries, its last
// error), for the journal.
func (f *badgerFeed) Release(ctx context.Context, leadID uint64, rev uint32) (FeedItem, error) {
	var held FeedItem
	err := f.move(ctx, heldKey(f.name, leadID, rev), feedKey(f.name, leadID, rev),
		fmt.Sprintf("no held item for lead %d rev %d", leadID, rev), func(stored []byte) (FeedItem, error) {
			it, err := decodeFeedItem(stored)
			held = it
			it.InFlight, it.NotBefore = false, time.Time{}
			return it, err
		})
	return held, err
}

// Drop removes a held item for good: the lead was settled otherwise (an
// edit gave it its partner's id, or a status past new), or a person
// decided it is not to be delivered. It gives the item dropped, for the
// journal.
func (f *badgerFeed) Drop(ctx context.Context, leadID uint64, rev uint32) (FeedItem, error) {
	if err := ctx.Err(); err != nil {
		return FeedItem{}, err
	}
	key := heldKey(f.name, leadID, rev)
	var held FeedItem
	err := f.s.commit.do(newOp(func(w *stepWriter) error {
		v, ok, err := w.get(key)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("feed %s: no held item for lead %d rev %d: %w", f.name, leadID, rev, ErrNotFound)
		}
		if held, err = decodeFeedItem(v); err != nil {
			return err
		}
		w.del(key)
		return nil
	}))
	return held, err
}

// move writes the item next makes of the one stored at from to to (the
// same key for an update), in one commit; ErrNotFound, named by what,
// when from holds nothing.
func (f *badgerFeed) move(ctx context.Context, from, to []byte, what string, next func(stored []byte) (FeedItem, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return f.s.commit.do(newOp(func(w *stepWriter) error {
		v, ok, err := w.get(from)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("feed %s: %s: %w", f.name, what, ErrNotFound)
		}
		it, err := next(v)
		if err != nil {
			return err
		}
		if !bytes.Equal(from, to) {
			w.del(from)
		}
		w.set(to, encodeFeedItem(&it))
		return nil
	}))
}

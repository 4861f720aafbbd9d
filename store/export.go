package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Export reads a Badger store part by part, in key order, a page at a
// time, for `leadhost migrate` to copy into another backend. A page ends
// with the key it read last (Cursor): the next page starts after it, so
// a copy cut short goes on from the cursor its destination kept, with
// nothing read twice. It is meant for a store no serve writes to (the
// folder's lock sees to that): pages are read from separate snapshots.

// ExportPart names one part of the store as Export pages through it.
type ExportPart string

// The parts, in the order a copy takes them: goals before the leads that
// name them, keys after the leads they point at.
const (
	ExportGoals   ExportPart = "goals"
	ExportLeads   ExportPart = "leads" // with their history
	ExportKeys    ExportPart = "keys"  // idempotency keys
	ExportOutbox  ExportPart = "outbox"
	ExportJournal ExportPart = "journal"

	// ExportLeadRecords is ExportLeads without the history: what a
	// verify compares.
	ExportLeadRecords ExportPart = "lead records"
)

// ExportParts are the parts in copy order.
var ExportParts = []ExportPart{ExportGoals, ExportLeads, ExportKeys, ExportOutbox, ExportJournal}

// ExportedLead is a lead with what a copy needs beyond Lead: who added
// it and when (history entry 1 is derived from them), and its stored
// history entries (2..Rev), oldest first.
type ExportedLead struct {
	Lead    *Lead
	AddedBy string
	AddedAt time.Time
	History []Change
}

// ExportedKey is an idempotency key of Add and the lead it made.
type ExportedKey struct {
	Offer, Key string
	LeadID     uint64
}

// ExportedGoal is an offer's goal code and its id.
type ExportedGoal struct {
	Offer, Code string
	ID          uint32
}

// ExportedItem is an outbox (feed) item: pending, in flight, or held
// for a person.
type ExportedItem struct {
	Feed string
	Held bool
	FeedItem
}

// ExportedEntry is a journal entry and when it expires.
type ExportedEntry struct {
	JournalEntry
	Expires time.Time
}

// ExportPage is one page of a part: the slice of its part filled, and
// the cursor of the next page (nil: the part has no more).
type ExportPage struct {
	Goals   []ExportedGoal
	Leads   []ExportedLead
	Keys    []ExportedKey
	Items   []ExportedItem
	Journal []ExportedEntry
	Cursor  []byte
}

// Len is the number of records in the page.
func (p *ExportPage) Len() int {
	return len(p.Goals) + len(p.Leads) + len(p.Keys) + len(p.Items) + len(p.Journal)
}

// Export reads up to limit records of part after the key cursor (nil:
// from the start).
func (s *Badger) Export(ctx context.Context, part ExportPart, cursor []byte, limit int) (ExportPage, error) {
	var page ExportPage
	db, prefixes := s.db, [][]byte{{kindGoal}}
	switch part {
	case ExportGoals:
	case ExportLeads, ExportLeadRecords:
		prefixes = [][]byte{{kindLead}}
	case ExportKeys:
		prefixes = [][]byte{{kindIdem}}
	case ExportOutbox:
		prefixes = [][]byte{{kindHeld}, {kindFeed}} // 'F' < 'f': key order
	case ExportJournal:
		db, prefixes = s.jdb, [][]byte{{kindJournal}}
	default:
		return page, fmt.Errorf("store: export: no part %q: %w", part, ErrInvalid)
	}
	err := s.viewOn(ctx, db, func(txn *badger.Txn) error {
		var hist *historyWalk
		if part == ExportLeads {
			hist = &historyWalk{it: txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kindHistory}, PrefetchValues: false})}
			defer hist.it.Close()
		}
		n := 0
		for _, prefix := range prefixes {
			if cursor != nil && bytes.Compare(cursor, prefix) > 0 && !bytes.HasPrefix(cursor, prefix) {
				continue // a prefix the cursor is past
			}
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
			start := prefix
			if bytes.HasPrefix(cursor, prefix) {
				start = cursor
			}
			for it.Seek(start); it.Valid() && n < limit; it.Next() {
				item := it.Item()
				key := item.KeyCopy(nil)
				if bytes.Equal(key, cursor) {
					continue
				}
				if err := ctx.Err(); err != nil {
					it.Close()
					return err
				}
				v, err := item.ValueCopy(nil)
				if err == nil {
					err = page.add(part, key, v, item.ExpiresAt(), hist)
				}
				if err != nil {
					it.Close()
					return fmt.Errorf("key %q: %w", key, err)
				}
				page.Cursor, n = key, n+1
			}
			it.Close()
			if n == limit {
				break
			}
		}
		if n < limit {
			page.Cursor = nil // every prefix read to its end
		}
		return nil
	})
	if err != nil {
		return ExportPage{}, fmt.Errorf("store: export %s: %w", part, err)
	}
	return page, nil
}

// add decodes one record of part into the page.
func (p *ExportPage) add(part ExportPart, key, v []byte, expires uint64, hist *historyWalk) error {
	switch part {
	case ExportGoals:
		offer, code, ok := bytes.Cut(key[1:], []byte{0})
		if !ok || len(v) != 4 {
			return errCorrupt
		}
		p.Goals = append(p.Goals, ExportedGoal{Offer: string(offer), Code: string(code), ID: binary.BigEndian.Uint32(v)})
	case ExportLeads, ExportLeadRecords:
		l, err := decodeLead(v)
		if err != nil {
			return err
		}
		var h []Change
		if hist != nil {
			if h, err = hist.of(l.ID); err != nil {
				return err
			}
		}
		p.Leads = append(p.Leads, ExportedLead{Lead: l, AddedBy: l.addedBy, AddedAt: l.addedAt, History: h})
	case ExportKeys:
		offer, k, ok := bytes.Cut(key[1:], []byte{0})
		id, err := readID(v)
		if !ok || err != nil {
			return errCorrupt
		}
		p.Keys = append(p.Keys, ExportedKey{Offer: string(offer), Key: string(k), LeadID: id})
	case ExportOutbox:
		if len(key) < 1+1+12 {
			return errCorrupt
		}
		it, err := decodeFeedItem(v)
		if err != nil {
			return err
		}
		p.Items = append(p.Items, ExportedItem{Feed: string(key[1 : len(key)-13]), Held: key[0] == kindHeld, FeedItem: it})
	case ExportJournal:
		var e JournalEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return errCorrupt
		}
		at := e.At.Add(DefaultJournalTTL)
		if expires > 0 {
			at = time.Unix(int64(expires), 0).UTC()
		}
		p.Journal = append(p.Journal, ExportedEntry{JournalEntry: e, Expires: at})
	}
	return nil
}

// historyWalk reads the stored history entries (2..rev) of leads in
// the order of their ids, in one pass over the history keys: a seek per
// lead made Badger prefetch afresh each time, half of a migrate's time.
type historyWalk struct {
	it      *badger.Iterator
	started bool
}

// of returns lead id's entries, oldest first; id is past the last one's.
func (w *historyWalk) of(id uint64) ([]Change, error) {
	if !w.started {
		w.it.Seek(historyPrefix(id))
		w.started = true
	}
	var out []Change
	for ; w.it.Valid(); w.it.Next() {
		key := w.it.Item().Key()
		if len(key) != 1+8+4 {
			return nil, fmt.Errorf("history key %q: %w", key, errCorrupt)
		}
		if lead := binary.BigEndian.Uint64(key[1:9]); lead > id {
			break
		} else if lead < id {
			continue // the entry of a lead that is not there
		}
		v, err := w.it.Item().ValueCopy(nil)
		if err != nil {
			return nil, err
		}
		c, err := decodeChange(v)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// ExportCounts are how many records each part of a store holds.
type ExportCounts struct {
	Leads, History, Keys, Goals, Pending, Held, Journal int64
}

// ExportCounts counts the store's records part by part, reading keys
// only (the journal's unexpired entries).
func (s *Badger) ExportCounts(ctx context.Context) (ExportCounts, error) {
	var c ExportCounts
	for _, p := range []struct {
		db     *badger.DB
		prefix byte
		n      *int64
	}{{s.db, kindLead, &c.Leads}, {s.db, kindHistory, &c.History}, {s.db, kindIdem, &c.Keys}, {s.db, kindGoal, &c.Goals},
		{s.db, kindFeed, &c.Pending}, {s.db, kindHeld, &c.Held}, {s.jdb, kindJournal, &c.Journal}} {
		err := s.viewOn(ctx, p.db, func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{p.prefix}})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				*p.n++
			}
			return ctx.Err()
		})
		if err != nil {
			return c, fmt.Errorf("store: count %c records: %w", p.prefix, err)
		}
	}
	return c, nil
}

// LeadDigest is a hash of everything a lead holds but its history and
// who added it, with times to the microsecond (what every backend
// keeps): two backends hold the same lead when their digests agree.
func LeadDigest(l *Lead) uint64 {
	c := *l
	c.addedBy, c.addedAt, c.History = "", time.Time{}, nil
	for _, t := range []*time.Time{&c.HoldUntil, &c.Created, &c.Updated, &c.AcceptedAt} {
		*t = t.Truncate(time.Microsecond)
	}
	h := fnv.New64a()
	h.Write(encodeLead(nil, &c))
	return h.Sum64()
}

// Units gives the amount as an integer and its decimal scale (12.10:
// 1210 and 2), as a backend's exact decimal type takes it.
func (m Money) Units() (units int64, scale int) { return m.units, int(m.scale) }

package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// getValue reads a key; a missing key is (nil, false, nil), not an error.
func getValue(txn *badger.Txn, key []byte) ([]byte, bool, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	v, err := item.ValueCopy(nil)
	return v, err == nil, err
}

func getLead(txn *badger.Txn, id uint64) (*Lead, error) {
	item, err := txn.Get(leadKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("lead %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	var l *Lead
	err = item.Value(func(v []byte) error {
		var err error
		l, err = decodeLead(v)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lead %d: %w", id, err)
	}
	return l, nil
}

// Get returns a lead without its history.
func (s *Badger) Get(ctx context.Context, id uint64) (*Lead, error) {
	var l *Lead
	err := s.view(ctx, func(txn *badger.Txn) error {
		var err error
		l, err = getLead(txn, id)
		return err
	})
	return l, err
}

// History returns every change of a lead, oldest first, its creation
// included.
func (s *Badger) History(ctx context.Context, id uint64) ([]Change, error) {
	var out []Change
	err := s.view(ctx, func(txn *badger.Txn) error {
		l, err := getLead(txn, id)
		if err != nil {
			return err
		}
		out = make([]Change, 1, l.Rev)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: historyPrefix(id), PrefetchValues: true, PrefetchSize: 32})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			err := it.Item().Value(func(v []byte) error {
				c, err := decodeChange(v)
				out = append(out, c)
				return err
			})
			if err != nil {
				return fmt.Errorf("lead %d history: %w", id, err)
			}
		}
		out[0] = creationChange(l, out[1:])
		return nil
	})
	return out, err
}

// ByExt returns the offer's lead with the partner's id ext.
func (s *Badger) ByExt(ctx context.Context, offer, ext string) (*Lead, error) {
	return s.byIndex(ctx, extKey(offer, ext), func() error { return fmt.Errorf("offer %q ext %q: %w", offer, ext, ErrNotFound) })
}

// ByKey returns the offer's lead Add made for the idempotency key.
func (s *Badger) ByKey(ctx context.Context, offer, key string) (*Lead, error) {
	return s.byIndex(ctx, idemKey(offer, key), func() error { return fmt.Errorf("offer %q key %q: %w", offer, key, ErrNotFound) })
}

// byIndex reads the lead whose id an index key holds; notFound words
// its absence.
func (s *Badger) byIndex(ctx context.Context, key []byte, notFound func() error) (*Lead, error) {
	var l *Lead
	err := s.view(ctx, func(txn *badger.Txn) error {
		v, ok, err := getValue(txn, key)
		if err != nil {
			return err
		}
		if !ok {
			return notFound()
		}
		id, err := readID(v)
		if err != nil {
			return err
		}
		l, err = getLead(txn, id)
		return err
	})
	return l, err
}

// Query selects leads for List. With Offer set, leads come from the
// offer+status index, ordered by status then id; without it, all leads by
// id (Statuses then filters records, a scan meant for the admin API only).
type Query struct {
	Offer    string    // "" with Contact: every offer
	Contact  string    // a phone or an e-mail (ContactKey): only leads with it
	Statuses StatusSet // empty means every status
	Cursor   string    // from the previous Page's Next
	Limit    int       // default 50, at most 1000
}

// Page is one page of leads; Next is "" on the last page.
type Page struct {
	Leads []*Lead `json:"leads"`
	Next  string  `json:"next,omitempty"`
}

const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

var cursorEncoding = base64.RawURLEncoding

// List returns a page of leads. Pages stay consistent while leads are
// added: a cursor names the last key read, so nothing repeats or is skipped
// among leads that keep their status.
func (s *Badger) List(ctx context.Context, q Query) (Page, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultPageSize
	}
	if limit > maxPageSize {
		return Page{}, fmt.Errorf("limit %d: at most %d: %w", limit, maxPageSize, ErrInvalid)
	}
	after, err := cursorEncoding.DecodeString(q.Cursor)
	if err != nil {
		return Page{}, fmt.Errorf("cursor %q: %w", q.Cursor, ErrInvalid)
	}
	statuses := q.Statuses & AllStatuses
	if statuses == 0 {
		statuses = AllStatuses
	}
	var contact string
	if q.Contact != "" {
		if contact, err = ContactKey(q.Contact); err != nil {
			return Page{}, err
		}
	}
	var page Page
	err = s.view(ctx, func(txn *badger.Txn) error {
		if contact != "" {
			return listContact(txn, contact, q.Offer, statuses, after, limit, &page)
		}
		if q.Offer == "" {
			return s.listAll(txn, statuses, after, limit, &page)
		}
		return listOffer(txn, q.Offer, statuses, after, limit, &page)
	})
	return page, err
}

// listOffer walks the offer+status index bucket by bucket, oldest lead
// first; records whose exact status is not wanted are skipped. A cursor is
// the rest of the last key read: bucket, creation time, id.
func listOffer(txn *badger.Txn, offer string, statuses StatusSet, after []byte, limit int, page *Page) error {
	if len(after) != 0 && len(after) != 17 {
		return fmt.Errorf("cursor: not one this list gave (pass back its next as it came): %w", ErrInvalid)
	}
	buckets, exact := statuses.buckets()
	it := txn.NewIterator(badger.IteratorOptions{Prefix: offerPrefix(kindStatus, offer)})
	defer it.Close()
	for _, bk := range buckets {
		prefix := statusPrefix(offer, bk)
		seek := prefix
		if len(after) == 17 {
			if bucket(after[0]) > bk {
				continue
			}
			if bucket(after[0]) == bk {
				// Just past the cursor's key: keys here are all prefix+16 bytes.
				seek = append(append(append([]byte(nil), prefix...), after[1:]...), 0)
			}
		}
		for it.Seek(seek); it.ValidForPrefix(prefix); it.Next() {
			key := it.Item().Key()
			id := tailU64(key)
			l, err := getLead(txn, id)
			if err != nil {
				return fmt.Errorf("status index of lead %d: %w", id, err)
			}
			if !exact && !statuses.Has(l.Status) {
				continue
			}
			if len(page.Leads) == limit {
				page.Next = cursorEncoding.EncodeToString(after)
				return nil
			}
			page.Leads = append(page.Leads, l)
			after = append([]byte{byte(bk)}, key[len(prefix):]...)
		}
	}
	return nil
}

func (s *Badger) listAll(txn *badger.Txn, statuses StatusSet, after []byte, limit int, page *Page) error {
	if len(after) != 0 && len(after) != 8 {
		return fmt.Errorf("cursor: not one this list gave (pass back its next as it came): %w", ErrInvalid)
	}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kindLead}, PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	seek := []byte{kindLead}
	if len(after) == 8 {
		seek = leadKey(binary.BigEndian.Uint64(after) + 1)
	}
	for it.Seek(seek); it.Valid(); it.Next() {
		var l *Lead
		if err := it.Item().Value(func(v []byte) (err error) { l, err = decodeLead(v); return err }); err != nil {
			return err
		}
		if !statuses.Has(l.Status) {
			continue
		}
		if len(page.Leads) == limit {
			page.Next = cursorEncoding.EncodeToString(after)
			return nil
		}
		page.Leads = append(page.Leads, l)
		after = appendU64(nil, l.ID)
	}
	return nil
}

// CreatedBetween returns the offer's leads created in [from, to) whose
// status is in statuses (empty: all), oldest first, at most limit (0: all).
func (s *Badger) CreatedBetween(ctx context.Context, offer string, from, to time.Time, statuses StatusSet, limit int) ([]*Lead, error) {
	var out []*Lead
	err := s.view(ctx, func(txn *badger.Txn) error {
		refs, err := scanCreated(ctx, txn, offer, from, to, statuses, limit)
		if err != nil {
			return err
		}
		for _, r := range refs {
			l, err := getLead(txn, r.id)
			if err != nil {
				return fmt.Errorf("status index of lead %d: %w", r.id, err)
			}
			out = append(out, l)
		}
		return nil
	})
	return out, err
}

// CreatedDays returns the days (midnights in loc) within [from, to) on
// which the offer has leads in statuses: the dates mode asks the partner
// only about ranges that hold leads.
func (s *Badger) CreatedDays(ctx context.Context, offer string, from, to time.Time, loc *time.Location, statuses StatusSet) ([]time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	var days []time.Time
	err := s.view(ctx, func(txn *badger.Txn) error {
		refs, err := scanCreated(ctx, txn, offer, from, to, statuses, 0)
		for _, r := range refs {
			t := r.created.In(loc)
			day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
			if n := len(days); n == 0 || !days[n-1].Equal(day) {
				days = append(days, day)
			}
		}
		return err
	})
	return days, err
}

type createdRef struct {
	created time.Time
	id      uint64
}

// scanCreated reads the creation-time range [from, to) of each status
// bucket that holds wanted statuses, and returns the leads found, oldest
// first, at most limit (0: all). Buckets wholly wanted (as with NonTerminal)
// need no record reads.
func scanCreated(ctx context.Context, txn *badger.Txn, offer string, from, to time.Time, statuses StatusSet, limit int) ([]createdRef, error) {
	statuses &= AllStatuses
	if statuses == 0 {
		statuses = AllStatuses
	}
	buckets, exact := statuses.buckets()
	var refs []createdRef
	it := txn.NewIterator(badger.IteratorOptions{Prefix: offerPrefix(kindStatus, offer)})
	defer it.Close()
	for _, bk := range buckets {
		prefix := statusPrefix(offer, bk)
		end := appendU64(append([]byte(nil), prefix...), timeKey(to))
		taken := 0
		for it.Seek(appendU64(append([]byte(nil), prefix...), timeKey(from))); it.ValidForPrefix(prefix); it.Next() {
			key := it.Item().Key()
			if bytes.Compare(key[:len(end)], end) >= 0 || (limit > 0 && taken == limit) {
				break
			}
			id := tailU64(key)
			if !exact {
				l, err := getLead(txn, id)
				if err != nil {
					return nil, fmt.Errorf("status index of lead %d: %w", id, err)
				}
				if !statuses.Has(l.Status) {
					continue
				}
			}
			refs = append(refs, createdRef{created: keyFromTime(binary.BigEndian.Uint64(key[len(prefix):])), id: id})
			taken++
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
	}
	sort.Slice(refs, func(i, j int) bool {
		if !refs[i].created.Equal(refs[j].created) {
			return refs[i].created.Before(refs[j].created)
		}
		return refs[i].id < refs[j].id
	})
	if limit > 0 && len(refs) > limit {
		refs = refs[:limit]
	}
	return refs, nil
}

// CountLeads counts every offer's leads by status, reading each record
// once (a second or so per million leads): for metrics, kept current
// afterwards from Subscribe's events.
func (s *Badger) CountLeads(ctx context.Context) (map[string]map[Status]int, error) {
	out := map[string]map[Status]int{}
	err := s.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{kindLead}, PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			err := it.Item().Value(func(v []byte) error {
				l, err := decodeLead(v)
				if err != nil {
					return err
				}
				if out[l.Offer] == nil {
					out[l.Offer] = map[Status]int{}
				}
				out[l.Offer][l.Status]++
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

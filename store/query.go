package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

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
func (s *Store) Get(ctx context.Context, id uint64) (*Lead, error) {
	var l *Lead
	err := s.view(ctx, func(txn *badger.Txn) error {
		var err error
		l, err = getLead(txn, id)
		return err
	})
	return l, err
}

// GetMany returns the leads with the given ids that exist, in that order.
func (s *Store) GetMany(ctx context.Context, ids []uint64) ([]*Lead, error) {
	out := make([]*Lead, 0, len(ids))
	err := s.view(ctx, func(txn *badger.Txn) error {
		for _, id := range ids {
			l, err := getLead(txn, id)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, l)
		}
		return nil
	})
	return out, err
}

// History returns every change of a lead, oldest first.
func (s *Store) History(ctx context.Context, id uint64) ([]Change, error) {
	var out []Change
	err := s.view(ctx, func(txn *badger.Txn) error {
		if _, err := txn.Get(leadKey(id)); errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("lead %d: %w", id, ErrNotFound)
		}
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
		return nil
	})
	return out, err
}

// ByExt returns the offer's lead with the partner's id ext.
func (s *Store) ByExt(ctx context.Context, offer, ext string) (*Lead, error) {
	var l *Lead
	err := s.view(ctx, func(txn *badger.Txn) error {
		item, err := txn.Get(extKey(offer, ext))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("offer %q ext %q: %w", offer, ext, ErrNotFound)
		}
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
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
	Offer    string
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
func (s *Store) List(ctx context.Context, q Query) (Page, error) {
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
	var page Page
	err = s.view(ctx, func(txn *badger.Txn) error {
		if q.Offer == "" {
			return s.listAll(txn, statuses, after, limit, &page)
		}
		return listOffer(txn, q.Offer, statuses, after, limit, &page)
	})
	return page, err
}

// listOffer walks the offer+status index bucket by bucket; records whose
// exact status is not wanted are skipped. A cursor is bucket byte + id.
func listOffer(txn *badger.Txn, offer string, statuses StatusSet, after []byte, limit int, page *Page) error {
	if len(after) != 0 && len(after) != 9 {
		return fmt.Errorf("cursor: %w", ErrInvalid)
	}
	buckets, exact := statuses.buckets()
	it := txn.NewIterator(badger.IteratorOptions{Prefix: offerPrefix(kindStatus, offer)})
	defer it.Close()
	for _, bk := range buckets {
		prefix := statusPrefix(offer, bk)
		seek := prefix
		if len(after) == 9 {
			if bucket(after[0]) > bk {
				continue
			}
			if bucket(after[0]) == bk {
				seek = appendU64(append([]byte(nil), prefix...), binary.BigEndian.Uint64(after[1:])+1)
			}
		}
		for it.Seek(seek); it.ValidForPrefix(prefix); it.Next() {
			id := tailU64(it.Item().Key())
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
			after = appendU64([]byte{byte(bk)}, id)
		}
	}
	return nil
}

func (s *Store) listAll(txn *badger.Txn, statuses StatusSet, after []byte, limit int, page *Page) error {
	if len(after) != 0 && len(after) != 8 {
		return fmt.Errorf("cursor: %w", ErrInvalid)
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
func (s *Store) CreatedBetween(ctx context.Context, offer string, from, to time.Time, statuses StatusSet, limit int) ([]*Lead, error) {
	var out []*Lead
	err := s.scanCreated(ctx, offer, from, to, statuses, func(txn *badger.Txn, id uint64, _ time.Time) (bool, error) {
		l, err := getLead(txn, id)
		if err != nil {
			return false, fmt.Errorf("created index of lead %d: %w", id, err)
		}
		out = append(out, l)
		return limit <= 0 || len(out) < limit, nil
	})
	return out, err
}

// CreatedDays returns the days (midnights in loc) within [from, to) on
// which the offer has leads in statuses: the dates mode asks the partner
// only about ranges that hold leads.
func (s *Store) CreatedDays(ctx context.Context, offer string, from, to time.Time, loc *time.Location, statuses StatusSet) ([]time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	var days []time.Time
	err := s.scanCreated(ctx, offer, from, to, statuses, func(_ *badger.Txn, _ uint64, created time.Time) (bool, error) {
		t := created.In(loc)
		day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		if n := len(days); n == 0 || !days[n-1].Equal(day) {
			days = append(days, day)
		}
		return true, nil
	})
	return days, err
}

// scanCreated walks the offer+created index over [from, to). The index
// value is the lead's status bucket, so a set of whole buckets (such as
// NonTerminal) is filtered without reading records.
func (s *Store) scanCreated(ctx context.Context, offer string, from, to time.Time, statuses StatusSet,
	fn func(txn *badger.Txn, id uint64, created time.Time) (bool, error)) error {
	statuses &= AllStatuses
	if statuses == 0 {
		statuses = AllStatuses
	}
	buckets, exact := statuses.buckets()
	var wanted [8]bool
	for _, b := range buckets {
		wanted[b] = true
	}
	prefix := offerPrefix(kindCreated, offer)
	start := appendU64(append([]byte(nil), prefix...), timeKey(from))
	end := appendU64(append([]byte(nil), prefix...), timeKey(to))
	return s.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
		defer it.Close()
		for it.Seek(start); it.ValidForPrefix(prefix); it.Next() {
			item := it.Item()
			key := item.Key()
			if bytes.Compare(key[:len(end)], end) >= 0 {
				return nil
			}
			var bk bucket
			if err := item.Value(func(v []byte) error {
				if len(v) != 1 || int(v[0]) >= len(wanted) {
					return fmt.Errorf("created index value: %w", errCorrupt)
				}
				bk = bucket(v[0])
				return nil
			}); err != nil {
				return err
			}
			if !wanted[bk] {
				continue
			}
			id := tailU64(key)
			if !exact {
				l, err := getLead(txn, id)
				if err != nil {
					return fmt.Errorf("created index of lead %d: %w", id, err)
				}
				if !statuses.Has(l.Status) {
					continue
				}
			}
			created := keyFromTime(binary.BigEndian.Uint64(key[len(prefix):]))
			more, err := fn(txn, id, created)
			if err != nil || !more {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		return nil
	})
}

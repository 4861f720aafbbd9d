package postgres

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"leadhost/store"
)

// Get returns a lead without its history.
func (s *Store) Get(ctx context.Context, id uint64) (*store.Lead, error) {
	if err := s.alive(ctx); err != nil {
		return nil, err
	}
	r, err := getLead(ctx, s.pool, id, "")
	if err != nil {
		return nil, dbError(err)
	}
	return r.Lead, nil
}

// History returns every change of a lead, oldest first, its creation
// included.
func (s *Store) History(ctx context.Context, id uint64) ([]store.Change, error) {
	if err := s.alive(ctx); err != nil {
		return nil, err
	}
	// One snapshot: the lead and its entries agree.
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, dbError(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY`); err != nil {
		return nil, dbError(err)
	}
	r, err := getLead(ctx, tx, id, "")
	if err != nil {
		return nil, dbError(err)
	}
	rows, err := tx.Query(ctx, `SELECT rev, at, by, changes FROM history WHERE lead_id = $1 ORDER BY rev`, int64(id))
	if err != nil {
		return nil, dbError(err)
	}
	defer rows.Close()
	out := make([]store.Change, 1, r.Rev)
	for rows.Next() {
		var (
			c   store.Change
			rev int32
		)
		if err := rows.Scan(&rev, &c.At, &c.By, &c.Fields); err != nil {
			return nil, fmt.Errorf("lead %d history: %w", id, err)
		}
		c.Rev, c.At = uint32(rev), c.At.UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(err)
	}
	out[0] = store.CreationChange(r.Lead, r.addedBy, r.addedAt, out[1:])
	return out, nil
}

// ByExt returns the offer's lead with the partner's id ext.
func (s *Store) ByExt(ctx context.Context, offer, ext string) (*store.Lead, error) {
	if err := s.alive(ctx); err != nil {
		return nil, err
	}
	ls, err := scanLeads(s.pool.Query(ctx, `SELECT `+leadColumns+` FROM leads WHERE offer = $1 AND ext = $2`, offer, ext))
	if err != nil {
		return nil, dbError(err)
	}
	if len(ls) == 0 {
		return nil, fmt.Errorf("offer %q ext %q: %w", offer, ext, store.ErrNotFound)
	}
	return ls[0], nil
}

// ByKey returns the offer's lead Add made for the idempotency key.
func (s *Store) ByKey(ctx context.Context, offer, key string) (*store.Lead, error) {
	if err := s.alive(ctx); err != nil {
		return nil, err
	}
	ls, err := scanLeads(s.pool.Query(ctx, `SELECT `+leadColumns+` FROM leads WHERE id = (SELECT lead_id FROM idempotency_keys WHERE offer = $1 AND key = $2)`, offer, key))
	if err != nil {
		return nil, dbError(err)
	}
	if len(ls) == 0 {
		return nil, fmt.Errorf("offer %q key %q: %w", offer, key, store.ErrNotFound)
	}
	return ls[0], nil
}

var cursorEncoding = base64.RawURLEncoding

// statusList is a set's statuses and their buckets, as query arguments.
func statusList(set store.StatusSet) (statuses, buckets []int16) {
	set &= store.AllStatuses
	if set == 0 {
		set = store.AllStatuses
	}
	seen := map[int]bool{}
	for st := store.StatusNew; st <= store.MaxStatus; st++ {
		if set.Has(st) {
			statuses = append(statuses, int16(st))
			if b := store.StatusBucket(st); !seen[b] {
				seen[b] = true
				buckets = append(buckets, int16(b))
			}
		}
	}
	return statuses, buckets
}

// List returns a page of leads: with an offer, by status bucket, then
// creation time, then id (the check modes' order, as Badger gives it);
// without, by id. A cursor names the last lead of the page before, so
// nothing repeats or is skipped among leads that keep their status.
func (s *Store) List(ctx context.Context, q store.Query) (store.Page, error) {
	if err := s.alive(ctx); err != nil {
		return store.Page{}, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultPageSize
	}
	if limit > store.MaxPageSize {
		return store.Page{}, fmt.Errorf("limit %d: at most %d: %w", limit, store.MaxPageSize, store.ErrInvalid)
	}
	after, err := cursorEncoding.DecodeString(q.Cursor)
	if err != nil {
		return store.Page{}, fmt.Errorf("cursor %q: %w", q.Cursor, store.ErrInvalid)
	}
	statuses, buckets := statusList(q.Statuses)
	var page store.Page
	if q.Contact != "" {
		return s.listContact(ctx, q, after, statuses, limit)
	}
	if q.Offer == "" {
		if len(after) != 0 && len(after) != 8 {
			return store.Page{}, fmt.Errorf("cursor: not one this list gave (pass back its next as it came): %w", store.ErrInvalid)
		}
		var from int64
		if len(after) == 8 {
			from = int64(binary.BigEndian.Uint64(after))
		}
		leads, err := scanLeads(s.pool.Query(ctx, `SELECT `+leadColumns+` FROM leads
			WHERE id > $1 AND status = ANY($2) ORDER BY id LIMIT $3`, from, statuses, limit+1))
		if err != nil {
			return store.Page{}, dbError(err)
		}
		return pageByID(leads, limit), nil
	}
	if len(after) != 0 && len(after) != 17 {
		return store.Page{}, fmt.Errorf("cursor: not one this list gave (pass back its next as it came): %w", store.ErrInvalid)
	}
	// The cursor: bucket, creation time (µs since 1970), id.
	var (
		bk      int16 = -1
		created time.Time
		id      int64
	)
	if len(after) == 17 {
		bk = int16(after[0])
		created = time.UnixMicro(int64(binary.BigEndian.Uint64(after[1:9]))).UTC()
		id = int64(binary.BigEndian.Uint64(after[9:]))
	}
	// One bucket at a time, each an equality: with "bucket = ANY($2)"
	// the planner may take the array as an index condition, which gives
	// up the index's order, and then each page read and sorted every
	// lead after the cursor (a fresh table's statistics chose it: a
	// 10,000-lead check run's pages took 5-40 ms, growing with the
	// leads left). A bucket's leads in (created, id) order are a range
	// of the index, whatever the statistics. And two statements, not one
	// with "$4 < 0 OR …": a generic plan cannot start the index scan at
	// the cursor through an OR.
	for _, b := range buckets {
		if b < bk {
			continue
		}
		want := limit + 1 - len(page.Leads)
		var more []*store.Lead
		if b == bk {
			more, err = scanLeads(s.pool.Query(ctx, `SELECT `+leadColumns+` FROM leads
				WHERE offer = $1 AND bucket = $2 AND status = ANY($3) AND (created, id) > ($4, $5)
				ORDER BY created, id LIMIT $6`, q.Offer, b, statuses, created, id, want))
		} else {
			more, err = scanLeads(s.pool.Query(ctx, `SELECT `+leadColumns+` FROM leads
				WHERE offer = $1 AND bucket = $2 AND status = ANY($3)
				ORDER BY created, id LIMIT $4`, q.Offer, b, statuses, want))
		}
		if err != nil {
			return store.Page{}, dbError(err)
		}
		if page.Leads = append(page.Leads, more...); len(page.Leads) > limit {
			break
		}
	}
	if len(page.Leads) > limit {
		page.Leads = page.Leads[:limit]
		last := page.Leads[limit-1]
		c := []byte{byte(store.StatusBucket(last.Status))}
		c = binary.BigEndian.AppendUint64(c, uint64(last.Created.UnixMicro()))
		page.Next = cursorEncoding.EncodeToString(binary.BigEndian.AppendUint64(c, last.ID))
	}
	return page, nil
}

// CreatedBetween returns the offer's leads created in [from, to) whose
// status is in statuses (empty: all), oldest first, at most limit (0:
// all).
func (s *Store) CreatedBetween(ctx context.Context, offer string, from, to time.Time, statuses store.StatusSet, limit int) ([]*store.Lead, error) {
	if err := s.alive(ctx); err != nil {
		return nil, err
	}
	sts, buckets := statusList(statuses)
	lim := any(nil)
	if limit > 0 {
		lim = limit
	}
	out, err := scanLeads(s.pool.Query(ctx, `SELECT `+leadColumns+` FROM leads
		WHERE offer = $1 AND bucket = ANY($2) AND status = ANY($3) AND created >= $4 AND created < $5
		ORDER BY created, id LIMIT $6`, offer, buckets, sts, from, to, lim))
	return out, dbError(err)
}

// CreatedDays returns the days (midnights in loc) within [from, to) on
// which the offer has leads in statuses.
func (s *Store) CreatedDays(ctx context.Context, offer string, from, to time.Time, loc *time.Location, statuses store.StatusSet) ([]time.Time, error) {
	if err := s.alive(ctx); err != nil {
		return nil, err
	}
	if loc == nil {
		loc = time.UTC
	}
	sts, buckets := statusList(statuses)
	// The days are cut in Go: loc may be one PostgreSQL does not know.
	rows, err := s.pool.Query(ctx, `SELECT created FROM leads
		WHERE offer = $1 AND bucket = ANY($2) AND status = ANY($3) AND created >= $4 AND created < $5
		ORDER BY created`, offer, buckets, sts, from, to)
	if err != nil {
		return nil, dbError(err)
	}
	defer rows.Close()
	var days []time.Time
	for rows.Next() {
		var t time.Time
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		t = t.In(loc)
		day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		if n := len(days); n == 0 || !days[n-1].Equal(day) {
			days = append(days, day)
		}
	}
	return days, dbError(rows.Err())
}

// CountLeads counts every offer's leads by status.
func (s *Store) CountLeads(ctx context.Context) (map[string]map[store.Status]int, error) {
	if err := s.alive(ctx); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT offer, status, count(*) FROM leads GROUP BY offer, status`)
	if err != nil {
		return nil, dbError(err)
	}
	defer rows.Close()
	out := map[string]map[store.Status]int{}
	for rows.Next() {
		var (
			offer  string
			status int16
			n      int64
		)
		if err := rows.Scan(&offer, &status, &n); err != nil {
			return nil, err
		}
		if out[offer] == nil {
			out[offer] = map[store.Status]int{}
		}
		out[offer][store.Status(status)] = int(n)
	}
	return out, dbError(rows.Err())
}

// listContact pages through the leads with one contact (the generated
// columns contact_phone and contact_email), oldest first, in every offer
// or q.Offer. A cursor is the last lead id read, as Badger's.
func (s *Store) listContact(ctx context.Context, q store.Query, after []byte, statuses []int16, limit int) (store.Page, error) {
	key, err := store.ContactKey(q.Contact)
	if err != nil {
		return store.Page{}, err
	}
	if len(after) != 0 && len(after) != 8 {
		return store.Page{}, fmt.Errorf("cursor: not one this list gave (pass back its next as it came): %w", store.ErrInvalid)
	}
	var from int64
	if len(after) == 8 {
		from = int64(binary.BigEndian.Uint64(after))
	}
	column := "contact_phone"
	if strings.HasPrefix(key, "e") {
		column = "contact_email"
	}
	leads, err := scanLeads(s.pool.Query(ctx, `SELECT `+leadColumns+` FROM leads
		WHERE `+column+` = $1 AND ($2 = '' OR offer = $2) AND status = ANY($3) AND id > $4 ORDER BY id LIMIT $5`,
		key, q.Offer, statuses, from, limit+1))
	if err != nil {
		return store.Page{}, dbError(err)
	}
	return pageByID(leads, limit), nil
}

// pageByID is a page of leads read ordered by id, one more than limit
// asked for to know whether more follow: the next page starts after the
// last id shown.
func pageByID(leads []*store.Lead, limit int) store.Page {
	page := store.Page{Leads: leads}
	if len(leads) > limit {
		page.Leads = leads[:limit]
		page.Next = cursorEncoding.EncodeToString(binary.BigEndian.AppendUint64(nil, leads[limit-1].ID))
	}
	return page
}

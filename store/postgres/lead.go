package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"leadhost/store"
)

// leadColumns are the columns a lead is read from, in scanLead's order;
// money is read as text, which keeps the scale it was written with.
const leadColumns = `id, offer, ext, status, reason, hold_until, comment, base::text, counts, curr, goal, track,
	cash_wm::text, cash_pay::text, cash_ref::text, cash_cc, fields, created, updated, accepted_at, rev, added_by, added_at`

// row is a lead as stored, with who created it and when (history entry
// 1 is derived from them: store.CreationChange).
type row struct {
	*store.Lead
	addedBy string
	addedAt time.Time
}

// scanLead reads one row of leadColumns. Its scan targets are one
// allocation, the lead and the row among them: as variables of their
// own each would be one (pgx takes them as pointers), twenty a lead of
// every page a check run reads. The lead keeps the others (~150 bytes)
// alive with it.
func scanLead(r pgx.Row) (row, error) {
	t := new(struct {
		l                   store.Lead
		out                 row
		ext                 *string
		hold, accepted      *time.Time
		base, wm, pay, ref  string
		status              int16
		reason, curr, cc    int32
		goal                int64
		counts              int32
		rev                 int32
		created, updated, a time.Time
	})
	l := &t.l
	err := r.Scan(&l.ID, &l.Offer, &t.ext, &t.status, &t.reason, &t.hold, &l.Comment, &t.base, &t.counts, &t.curr, &t.goal, &l.Track,
		&t.wm, &t.pay, &t.ref, &t.cc, &l.Fields, &t.created, &t.updated, &t.accepted, &t.rev, &t.out.addedBy, &t.a)
	if err != nil {
		return row{}, err
	}
	if t.ext != nil {
		l.Ext = *t.ext
	}
	l.Status, l.Reason, l.Counts, l.Curr, l.Goal, l.Rev = store.Status(t.status), store.Reason(t.reason), int(t.counts),
		store.Currency(t.curr), uint32(t.goal), uint32(t.rev)
	l.Cash.CC = store.Currency(t.cc)
	l.HoldUntil, l.AcceptedAt = utc(t.hold), utc(t.accepted)
	l.Created, l.Updated, t.out.addedAt = t.created.UTC(), t.updated.UTC(), t.a.UTC()
	for _, m := range []struct {
		dst  *store.Money
		text string
	}{{&l.Base, t.base}, {&l.Cash.WM, t.wm}, {&l.Cash.Pay, t.pay}, {&l.Cash.Ref, t.ref}} {
		var err error
		if *m.dst, err = store.ParseMoney(m.text); err != nil {
			return row{}, fmt.Errorf("lead %d: %w", l.ID, err)
		}
	}
	out := t.out
	out.Lead = l
	return out, nil
}

// utc is a nullable time as the model keeps it: zero for NULL.
func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// null is a zero time as NULL.
func null(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// nullText is "" as NULL (an ext: unique only when there is one).
func nullText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// getLead reads a lead (lock: " FOR UPDATE", to edit it); a lead that is
// not there is ErrNotFound.
func getLead(ctx context.Context, q querier, id uint64, lock string) (row, error) {
	r, err := scanLead(q.QueryRow(ctx, `SELECT `+leadColumns+` FROM leads WHERE id = $1`+lock, int64(id)))
	if errors.Is(err, pgx.ErrNoRows) {
		return row{}, fmt.Errorf("lead %d: %w", id, store.ErrNotFound)
	}
	return r, err
}

// querier is a pool, a connection or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// scanLeads reads every row of leadColumns.
func scanLeads(rows pgx.Rows, err error) ([]*store.Lead, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Lead
	for rows.Next() {
		r, err := scanLead(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r.Lead)
	}
	return out, rows.Err()
}

// leadArgs are a lead's columns as query arguments, in the order of
// leadCasts (its id first).
func leadArgs(n *store.Lead) []any {
	f := n.Fields
	if len(f) == 0 {
		f = nil
	}
	return []any{int64(n.ID), n.Offer, nullText(n.Ext), int16(n.Status), int16(store.StatusBucket(n.Status)), int32(n.Reason),
		null(n.HoldUntil), n.Comment, n.Base.String(), int32(n.Counts), int32(n.Curr), int64(n.Goal), n.Track,
		n.Cash.WM.String(), n.Cash.Pay.String(), n.Cash.Ref.String(), int32(n.Cash.CC), f,
		n.Created, n.Updated, null(n.AcceptedAt), int32(n.Rev)}
}

// leadCasts name the columns of leadArgs and their types.
var leadCasts = []struct{ column, cast string }{
	{"id", "bigint"}, {"offer", "text"}, {"ext", "text"}, {"status", "smallint"}, {"bucket", "smallint"},
	{"reason", "integer"}, {"hold_until", "timestamptz"}, {"comment", "text"}, {"base", "numeric"},
	{"counts", "integer"}, {"curr", "integer"}, {"goal", "bigint"}, {"track", "text"}, {"cash_wm", "numeric"},
	{"cash_pay", "numeric"}, {"cash_ref", "numeric"}, {"cash_cc", "integer"}, {"fields", "jsonb"},
	{"created", "timestamptz"}, {"updated", "timestamptz"}, {"accepted_at", "timestamptz"}, {"rev", "integer"},
}

// feedsFor are the feeds that want ev (Options.FeedFilter).
func (s *Store) feedsFor(ev store.Event) []string {
	var out []string
	for _, name := range s.opts.Feeds {
		if s.opts.FeedFilter == nil || s.opts.FeedFilter(name, ev) {
			out = append(out, name)
		}
	}
	return out
}

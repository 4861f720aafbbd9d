package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"leadhost/store"
)

// Add stores a new lead and returns it with created = true; with a Key
// the offer has seen before it stores nothing and returns the first lead
// with created = false. An Ext another lead of the offer has is
// ErrExists. The lead is committed when Add returns.
//
// It is the webhooks' write, so it is one statement, one round trip and
// one transaction: the key claimed, the lead and its feed items inserted
// (addStatement), shared with the Adds that came meanwhile (addgroup.go).
func (s *Store) Add(ctx context.Context, nl store.NewLead) (*store.Lead, bool, error) {
	if err := s.alive(ctx); err != nil {
		return nil, false, err
	}
	now := s.clock()
	// PostgreSQL keeps microseconds: an imported lead's time too.
	nl.Created = nl.Created.Truncate(time.Microsecond)
	l, err := store.BuildLead(&nl, now, s.policy(nl.Offer), s.reasons)
	if err != nil {
		return nil, false, fmt.Errorf("add lead: %w", err)
	}
	by := nl.By
	if by == "" {
		by = "api"
	}
	if l.Goal != 0 {
		// Goals are never removed: one there now is there at the insert.
		if _, ok, err := goalCode(ctx, s.pool, l.Offer, l.Goal); err != nil {
			return nil, false, fmt.Errorf("add lead: %w", dbError(err))
		} else if !ok {
			return nil, false, fmt.Errorf("add lead: offer %q has no goal %d: %w", l.Offer, l.Goal, store.ErrInvalid)
		}
	}
	ev, hasEvent := store.StatusEvent(0, l, false, now, by)
	var feeds []string
	if hasEvent {
		feeds = s.feedsFor(ev)
	}
	id, err := s.adds.do(&addReq{lead: l, key: nl.Key, by: by, feeds: feeds})
	var pe *pgconn.PgError
	switch {
	case err == nil && id == 0:
		// The key was claimed before, by a lead committed by now (the
		// insert waited for it).
		r, err := scanLead(s.pool.QueryRow(ctx, `SELECT `+leadColumns+` FROM leads
			WHERE id = (SELECT lead_id FROM idempotency_keys WHERE offer = $1 AND key = $2)`, l.Offer, nl.Key))
		if err != nil {
			return nil, false, fmt.Errorf("add lead: idempotency key %q: %w", nl.Key, dbError(err))
		}
		return r.Lead, false, nil
	case errors.As(err, &pe) && pe.ConstraintName == "leads_offer_ext":
		other, _ := extHolder(ctx, s.pool, l.Offer, l.Ext)
		return nil, false, fmt.Errorf("add lead: offer %q already has ext %q (lead %d): %w", l.Offer, l.Ext, other, store.ErrExists)
	case err != nil:
		return nil, false, fmt.Errorf("add lead: %w", dbError(err))
	}
	l.ID = id
	if hasEvent {
		ev.LeadID = l.ID
		s.publish([]store.Event{ev})
	}
	return l, true, nil
}

// addOne runs one Add's statement: the lead's id, or 0 when its key was
// claimed before.
func (s *Store) addOne(ctx context.Context, r *addReq) (uint64, error) {
	sql, args := addStatement(r.lead, r.key, r.by, r.feeds)
	var (
		id  int64
		err error
	)
	for try := 1; ; try++ {
		err = s.pool.QueryRow(ctx, sql, args...).Scan(&id)
		if try == maxTries || !conflict(err) {
			break
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return uint64(id), err
}

// addStatement is Add's one statement: claim the key (none: take an id),
// insert the lead with the id, insert its creation's feed items (the
// creation's event is the new lead's status, reason, rev and time, by
// by: store.StatusEvent); it returns the id, or no row when the key was
// claimed before.
func addStatement(l *store.Lead, key, by string, feeds []string) (string, []any) {
	args := leadArgs(l)[1:]
	args = append(args, by, l.Updated)
	var b strings.Builder
	if key != "" {
		args = append(args, key)
		fmt.Fprintf(&b, `WITH k AS (INSERT INTO idempotency_keys (offer, key, lead_id) VALUES ($1, $%d, nextval('lead_ids'))
			ON CONFLICT DO NOTHING RETURNING lead_id AS id)`, len(args))
	} else {
		b.WriteString(`WITH k AS (SELECT nextval('lead_ids') AS id)`)
	}
	cols := []string{"id"}
	vals := []string{"k.id"}
	for i, c := range leadCasts[1:] {
		cols = append(cols, c.column)
		vals = append(vals, fmt.Sprintf("$%d::%s", i+1, c.cast))
	}
	n := len(leadCasts) - 1
	cols = append(cols, "added_by", "added_at")
	vals = append(vals, fmt.Sprintf("$%d::text", n+1), fmt.Sprintf("$%d::timestamptz", n+2))
	fmt.Fprintf(&b, `, l AS (INSERT INTO leads (%s) SELECT %s FROM k RETURNING id)`, strings.Join(cols, ", "), strings.Join(vals, ", "))
	for i, name := range feeds {
		args = append(args, name)
		fmt.Fprintf(&b, `, f%d AS (INSERT INTO feed_items (feed, lead_id, rev, offer, from_status, to_status, reason, approved, at, by)
			SELECT $%d::text, l.id, $21::integer, $1::text, 0, $3::smallint, $5::integer, false, $19::timestamptz, $%d::text FROM l)`,
			i, len(args), n+1)
	}
	b.WriteString(` SELECT id FROM l`)
	return b.String(), args
}

// extHolder is the id of the offer's lead with ext (0: none).
func extHolder(ctx context.Context, q querier, offer, ext string) (uint64, error) {
	var id int64
	err := q.QueryRow(ctx, `SELECT id FROM leads WHERE offer = $1 AND ext = $2`, offer, ext).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return uint64(id), err
}

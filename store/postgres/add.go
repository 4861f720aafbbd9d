package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"leadhost/store"
)

// Add stores a new lead and returns it with created = true; with a Key
// the offer has seen before it stores nothing and returns the first lead
// with created = false. An Ext another lead of the offer has is
// ErrExists. The lead is committed when Add returns.
func (s *Store) Add(ctx context.Context, nl store.NewLead) (*store.Lead, bool, error) {
	now := s.clock()
	// PostgreSQL keeps microseconds: an imported lead's time too.
	nl.Created = nl.Created.Truncate(time.Microsecond)
	lead, err := store.BuildLead(&nl, now, s.policy(nl.Offer), s.reasons)
	if err != nil {
		return nil, false, fmt.Errorf("add lead: %w", err)
	}
	by := nl.By
	if by == "" {
		by = "api"
	}
	var (
		result  *store.Lead
		created bool
		w       *writes
	)
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		result, created, w = nil, false, &writes{}
		var id int64
		if nl.Key != "" {
			// The key is claimed first: a concurrent Add of the same key
			// waits here for this one to commit, then finds its lead.
			err := tx.QueryRow(ctx, `INSERT INTO idempotency_keys (offer, key, lead_id) VALUES ($1, $2, nextval('lead_ids'))
				ON CONFLICT DO NOTHING RETURNING lead_id`, lead.Offer, nl.Key).Scan(&id)
			if errors.Is(err, pgx.ErrNoRows) {
				r, err := scanLead(tx.QueryRow(ctx, `SELECT `+leadColumns+` FROM leads
					WHERE id = (SELECT lead_id FROM idempotency_keys WHERE offer = $1 AND key = $2)`, lead.Offer, nl.Key))
				if err != nil {
					return fmt.Errorf("idempotency key %q: %w", nl.Key, err)
				}
				result = r.Lead
				return nil
			}
			if err != nil {
				return err
			}
		} else if err := tx.QueryRow(ctx, `SELECT nextval('lead_ids')`).Scan(&id); err != nil {
			return err
		}
		if lead.Ext != "" {
			if other, err := extHolder(ctx, tx, lead.Offer, lead.Ext); err != nil {
				return err
			} else if other != 0 {
				return &refusal{fmt.Errorf("offer %q already has ext %q (lead %d): %w", lead.Offer, lead.Ext, other, store.ErrExists)}
			}
		}
		if lead.Goal != 0 {
			if _, ok, err := goalCode(ctx, tx, lead.Offer, lead.Goal); err != nil {
				return err
			} else if !ok {
				return &refusal{fmt.Errorf("offer %q has no goal %d: %w", lead.Offer, lead.Goal, store.ErrInvalid)}
			}
		}
		l := lead.Clone()
		l.ID = uint64(id)
		var events []store.Event
		if ev, ok := store.StatusEvent(0, l, false, now, by); ok {
			events = append(events, ev)
		}
		s.writeLead(w, nil, l, by, nil, events)
		if err := w.send(ctx, tx); err != nil {
			return err
		}
		result, created = l, true
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("add lead: %w", err)
	}
	s.publish(w.events)
	return result, created, nil
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

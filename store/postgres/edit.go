package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"leadhost/store"
)

// Edit applies one patch to a lead under SPEC §1's rules and returns the
// lead as stored, committed. The lead's row is locked for the
// transaction: edits of one lead from any number of processes apply one
// after the other, each to the lead as the last one left it. Errors wrap
// ErrNotFound, ErrInvalid, ErrRefused or ErrExists and leave the lead
// untouched; an edit that changes nothing writes nothing.
func (s *Store) Edit(ctx context.Context, id uint64, p store.Patch) (*store.Lead, error) {
	var (
		result *store.Lead
		w      *writes
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		w = &writes{}
		cur, err := getLead(ctx, tx, id, " FOR UPDATE")
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return &refusal{err}
			}
			return err
		}
		final, _, errs, err := s.applyAll(ctx, tx, w, cur.Lead, []store.Patch{p})
		if err != nil {
			return err
		}
		if errs[0] != nil {
			return &refusal{errs[0]}
		}
		result = final
		return w.send(ctx, tx)
	})
	var r *refusal
	if errors.As(err, &r) {
		return nil, fmt.Errorf("edit: %w", r.err)
	}
	if err != nil {
		return nil, fmt.Errorf("edit lead %d: %w", id, err)
	}
	s.publish(w.events)
	return result, nil
}

// applyAll applies patches to cur, locked in tx, in order, and queues the
// writes of those that change it. A patch that breaks a rule is skipped
// (its error is in errs); the others apply. It returns the final lead and
// how many patches applied.
func (s *Store) applyAll(ctx context.Context, tx pgx.Tx, w *writes, cur *store.Lead, patches []store.Patch) (*store.Lead, int, []error, error) {
	now := s.clock()
	env := s.env(ctx, tx, cur.Offer, now)
	old := cur
	errs := make([]error, len(patches))
	var (
		changes []store.Change
		events  []store.Event
		applied int
	)
	for i := range patches {
		p := &patches[i]
		res, err := store.ApplyPatch(cur, p, env)
		if err == nil && res.Lead.Ext != cur.Ext && res.Lead.Ext != "" {
			err = extFree(ctx, tx, res.Lead)
		}
		if err != nil {
			if !ruleError(err) {
				return nil, 0, nil, err
			}
			errs[i] = err
			continue
		}
		if len(res.Changes) == 0 {
			continue
		}
		by := byOrAPI(p.By)
		changes = append(changes, store.Change{Rev: res.Lead.Rev, At: now, By: by, Fields: res.Changes})
		if ev, ok := store.StatusEvent(cur.Status, res.Lead, res.Approved, now, by); ok {
			events = append(events, ev)
		}
		cur = res.Lead
		applied++
	}
	if len(changes) > 0 {
		s.writeLead(w, old, cur, changes, events)
	}
	return cur, applied, errs, nil
}

// ruleError says whether err is a rule's verdict on an edit rather than
// a failure of the database.
func ruleError(err error) bool {
	for _, e := range []error{store.ErrInvalid, store.ErrRefused, store.ErrExists, store.ErrNotFound} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// byOrAPI is who made an edit, "api" when the caller did not say.
func byOrAPI(by string) string {
	if by == "" {
		return "api"
	}
	return by
}

// extFree is nil when no other lead of l's offer has l's ext.
func extFree(ctx context.Context, q querier, l *store.Lead) error {
	other, err := extHolder(ctx, q, l.Offer, l.Ext)
	if err != nil || other == 0 || other == l.ID {
		return err
	}
	return fmt.Errorf("lead %d: offer %q already has ext %q (lead %d): %w", l.ID, l.Offer, l.Ext, other, store.ErrExists)
}

// env is the edit environment of an offer's leads, its goals read in q.
func (s *Store) env(ctx context.Context, q querier, offer string, now time.Time) store.EditEnv {
	return store.EditEnv{
		Now: now, Policy: s.policy(offer), Reasons: s.reasons,
		GoalCode: func(offer string, goal uint32) (string, bool, error) { return goalCode(ctx, q, offer, goal) },
		GoalID:   func(offer, code string) (uint32, bool, error) { return goalID(ctx, q, offer, code) },
	}
}

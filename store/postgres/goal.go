package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"leadhost/store"
)

// DefineGoal returns the id of the offer's goal with this code, creating
// it on first use. Goal ids are unique across offers.
func (s *Store) DefineGoal(ctx context.Context, offer, code string) (uint32, error) {
	if err := store.CheckName("offer", offer); err != nil {
		return 0, err
	}
	if err := store.CheckName("goal code", code); err != nil {
		return 0, err
	}
	var id int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// A concurrent definition of the same code waits on the key,
		// then finds it: both get the one id.
		err := tx.QueryRow(ctx, `INSERT INTO goals (offer, code, id) VALUES ($1, $2, nextval('goal_ids'))
			ON CONFLICT DO NOTHING RETURNING id`, offer, code).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			err = tx.QueryRow(ctx, `SELECT id FROM goals WHERE offer = $1 AND code = $2`, offer, code).Scan(&id)
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("define goal %q of offer %q: %w", code, offer, err)
	}
	if id > 1<<32-1 {
		return 0, fmt.Errorf("define goal %q of offer %q: goal ids exhausted: %w", code, offer, store.ErrInvalid)
	}
	return uint32(id), nil
}

// GoalByCode returns the id of the offer's goal with this code.
func (s *Store) GoalByCode(ctx context.Context, offer, code string) (uint32, error) {
	if err := s.alive(ctx); err != nil {
		return 0, err
	}
	id, ok, err := goalID(ctx, s.pool, offer, code)
	if err == nil && !ok {
		err = fmt.Errorf("offer %q has no goal %q: %w", offer, code, store.ErrNotFound)
	}
	return id, dbError(err)
}

// goalID is the id of the offer's goal code (ok false: none).
func goalID(ctx context.Context, q querier, offer, code string) (uint32, bool, error) {
	var id int64
	err := q.QueryRow(ctx, `SELECT id FROM goals WHERE offer = $1 AND code = $2`, offer, code).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return uint32(id), err == nil, err
}

// goalCode is the code of the offer's goal id (ok false: none).
func goalCode(ctx context.Context, q querier, offer string, goal uint32) (string, bool, error) {
	var code string
	err := q.QueryRow(ctx, `SELECT code FROM goals WHERE offer = $1 AND id = $2`, offer, int64(goal)).Scan(&code)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return code, err == nil, err
}

package postgres

import (
	"context"
	"time"
)

// SignOut remembers the console session's sign-out until its cookie
// expires, and forgets those that expired.
func (s *Store) SignOut(ctx context.Context, id [32]byte, until time.Time) error {
	if err := s.alive(ctx); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `WITH expired AS (DELETE FROM signouts WHERE until <= $3)
		INSERT INTO signouts (id, until) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET until = greatest(signouts.until, excluded.until)`, id[:], until, s.clock())
	return dbError(err)
}

// SignedOut says whether the session was signed out and its cookie has
// not expired.
func (s *Store) SignedOut(ctx context.Context, id [32]byte) (bool, error) {
	if err := s.alive(ctx); err != nil {
		return false, err
	}
	var out bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM signouts WHERE id = $1 AND until > $2)`, id[:], s.clock()).Scan(&out)
	return out, dbError(err)
}

package postgres

import (
	"context"
	"sync/atomic"
	"time"
)

// A database that stops answering (a restart, a failover, the network)
// must not turn every webhook into a 500 after a long wait: the store
// pings it every reachCheckEvery, and while a ping fails the store says
// so through ReadOnly, which the server answers with 503 and Retry-After
// at the door, as it does for a full disk. Writes are not refused on
// that word alone: one that reaches the database still commits.
const (
	reachCheckEvery = time.Second
	reachTimeout    = 2 * time.Second
)

// unreachable is why the database is taken for gone (nil: it answers).
type unreachable struct{ why atomic.Pointer[string] }

// checkReachable pings the database once and notes the outcome, saying
// each change in the log.
func (s *Store) checkReachable() {
	ctx, cancel := context.WithTimeout(context.Background(), reachTimeout)
	defer cancel()
	err := s.pool.Ping(ctx)
	switch was := s.down.why.Load(); {
	case err != nil && was == nil:
		// Not the address: /healthz shows this to anyone.
		why := "its PostgreSQL database does not answer: no writes until it does"
		s.down.why.Store(&why)
		s.log.Error("postgres: the database does not answer", "err", reachError(err))
	case err == nil && was != nil:
		s.down.why.Store(nil)
		s.log.Info("postgres: the database answers again")
	}
}

// ReadOnly says why the store takes no writes now: "" while the database
// answers its pings (its server guards its own disk, and a write it
// refuses is an error of its own).
func (s *Store) ReadOnly() string {
	if why := s.down.why.Load(); why != nil {
		return *why
	}
	return ""
}

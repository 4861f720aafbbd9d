package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"leadhost/store"
)

// A node's name is held by one process at a time: Join takes a session
// advisory lock keyed by the name on a connection of its own and keeps
// it until Leave or Close. A claim made under the name (feed.go) is then
// the holding process's alone. A serve started again under its name
// while the process before it still finishes its sends (SIGTERM closes
// the listener first, sends in flight get up to their timeout) waits for
// that process to leave instead of taking its claims for its own. A
// process that dies (kill -9, a crash) loses its connection and so the
// lock at once; a machine that vanishes without closing its connections
// loses it when the server's TCP keepalives give up (set below for this
// session: about 25 s).
const (
	// nameLockClass is the first key of the name locks: the two-key
	// advisory locks are a key space apart from the one-key locks of the
	// migrations, the journal's days and the import.
	nameLockClass = 0x6c68 // "lh"
	// nameWait is how long Join waits for another process to give up the
	// name: more than a stopping serve's longest send (30 s) and its 5 s
	// for webhooks in flight.
	nameWait = time.Minute
)

// nameLock is the connection holding this process's node name.
type nameLock struct {
	mu   sync.Mutex
	conn *pgx.Conn
	name string
}

// holdName takes the name's lock, waiting up to nameWait for the process
// holding it. Taking the name it already holds does nothing.
func (s *Store) holdName(ctx context.Context, name string) error {
	return s.takeName(ctx, name, nameWait)
}

// keepName checks, at each heartbeat, that the connection holding the
// name is still there: a PostgreSQL restart, pg_terminate_backend or a
// cut idle connection ends the session and the lock with it. A lost lock
// is taken again at once if nobody else took the name; if another process
// did, the heartbeat fails saying so.
func (s *Store) keepName(ctx context.Context, name string) error {
	l := &s.name
	l.mu.Lock()
	if l.conn == nil || l.name != name {
		l.mu.Unlock()
		return nil // not joined under it (a heartbeat before Join)
	}
	err := l.conn.Ping(ctx) // under l.mu: a pgx.Conn is one goroutine's at a time
	l.mu.Unlock()
	if err == nil || ctx.Err() != nil {
		return ctx.Err()
	}
	s.releaseName()
	if err := s.takeName(ctx, name, 0); err != nil {
		return fmt.Errorf("node name %q: the connection holding it was lost, and taking it again failed: %w", name, err)
	}
	s.log.Warn("the connection holding this node's name was lost; the name is held again", "node", name)
	return nil
}

// takeName takes the name's lock, waiting up to wait for the process
// holding it (0: one try).
func (s *Store) takeName(ctx context.Context, name string, wait time.Duration) error {
	l := &s.name
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil && l.name == name {
		return nil
	}
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return dbError(err)
	}
	// Ignored on a unix socket; over TCP they bound how long a vanished
	// machine keeps its name: 10 s idle, then 3 probes 5 s apart.
	// The session idles by design: no idle_session_timeout (PostgreSQL
	// 14 on) may end it, and the lock with it.
	if _, err := conn.Exec(ctx, `SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3;
		SELECT set_config('idle_session_timeout', '0', false) WHERE current_setting('idle_session_timeout', true) IS NOT NULL`); err != nil {
		conn.Close(context.Background())
		return dbError(err)
	}
	deadline := time.Now().Add(wait)
	logged := false
	for {
		var held bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, hashtext($2))`, int32(nameLockClass), name).Scan(&held); err != nil {
			conn.Close(context.Background())
			return dbError(err)
		}
		if held {
			break
		}
		if !time.Now().Before(deadline) {
			conn.Close(context.Background())
			return fmt.Errorf("node name %q is held by another running serve on this database (waited %v): stop it, or give this serve another name (--node)", name, wait)
		}
		if !logged {
			s.log.Warn("another running serve holds this node's name: waiting for it to stop", "node", name)
			logged = true
		}
		select {
		case <-ctx.Done():
			conn.Close(context.Background())
			return ctx.Err()
		case <-s.closed: // Close waits for l.mu: give it up
			conn.Close(context.Background())
			return store.ErrClosed
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err := s.alive(ctx); err != nil { // Close began while the lock was taken
		conn.Close(context.Background())
		return err
	}
	if l.conn != nil {
		l.conn.Close(context.Background())
	}
	l.conn, l.name = conn, name
	return nil
}

// releaseName gives the name up (Leave, Close).
func (s *Store) releaseName() {
	l := &s.name
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		l.conn.Close(context.Background()) // the session's locks go with it
		l.conn, l.name = nil, ""
	}
}

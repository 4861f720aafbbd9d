// Package postgres is the store's PostgreSQL backend: store.Store kept in
// a PostgreSQL database that several leadhost processes may share. The
// lead model and its edit rules are package store's (store.ApplyPatch,
// store.BuildLead …); this package makes them durable in tables with real
// columns and indexes (migrations/), one transaction per write: an Add,
// an Edit, a whole Batch, a feed item with the change it carries. A write
// returns once PostgreSQL has committed it, with the server's
// synchronous_commit. Edits of one lead serialise on its row lock
// (SELECT … FOR UPDATE), so none is lost whichever process makes it.
//
// Subscribe and WatchJournal hear this process's writes only.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"leadhost/store"
)

// Store is a store.Store kept in PostgreSQL. It is safe for concurrent
// use.
type Store struct {
	pool    *pgxpool.Pool
	opts    store.Options
	reasons *store.ReasonTable
	now     func() time.Time
	log     *slog.Logger

	subs subscribers
	adds adders
	jr   *journal
	node atomic.Pointer[string] // the name Join gave (cluster.go)
	name nameLock               // that name's lock (nodename.go)

	down unreachable // reachable.go

	closeOnce sync.Once
	closed    chan struct{}
	bg        sync.WaitGroup
}

// The PostgreSQL backend is a store.Store.
var (
	_ store.Store = (*Store)(nil)
	_ store.Batch = (*batch)(nil)
	_ store.Feed  = (*feed)(nil)
)

// defaultMaxConns is the pool's size unless the URL says (pool_max_conns):
// concurrent writers each hold a connection for their transaction, and
// PostgreSQL flushes the commits of those waiting at once (group
// commit). More connections than that only compete for the server's
// cores: on this 2-core machine `leadhost bench hook --store postgres://…`
// gave 2044, 3147, 2551 and 2010 webhooks/s with 4, 8, 16 and 32 (one
// run each, the machine shared).
func defaultMaxConns() int32 { return int32(max(8, 4*runtime.NumCPU())) }

// Open connects to the database at url (postgres://user:pass@host/db?…),
// creates or migrates its schema (migrate.go) and returns the store. Of
// opts it uses the model's options (Reasons, Policies, Feeds, FeedFilter,
// Now, Logger, JournalTTL); NoSync sets synchronous_commit off for its
// sessions; the folder and disk options are Badger's.
func Open(ctx context.Context, url string, opts store.Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn's words: "cannot parse `…`: why", the password masked.
		return nil, fmt.Errorf("postgres: %v: %w", err, store.ErrInvalid)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns()
	}
	if opts.NoSync {
		cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "leadhost"
	for _, f := range opts.Feeds {
		if err := store.CheckName("feed", f); err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: URL %s: %v: %w", Redact(url), err, store.ErrInvalid)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: cannot reach %s: %v", where(cfg), reachError(err))
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %s: %w", where(cfg), err)
	}
	s := &Store{pool: pool, opts: opts, reasons: opts.Reasons, now: opts.Now, log: opts.Logger, closed: make(chan struct{})}
	if s.reasons == nil {
		s.reasons = store.StandardReasons()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	// Entry ids are times made unique: a process goes on after the
	// newest id any wrote before it, so that an entry dated earlier
	// (a check run journaled at its start) replaces none.
	var lastID, slot int64 // slot: ids of this process's entries end in it (journal.go)
	if err := pool.QueryRow(ctx, `SELECT coalesce(max(id), 0), nextval('journal_slots') % 1000 FROM journal`).Scan(&lastID, &slot); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %s: the journal: %w", where(cfg), dbError(err))
	}
	if err := s.makeJournalDays(ctx, s.now()); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %s: the journal's days: %w", where(cfg), dbError(err))
	}
	s.startJournal(uint64(lastID), uint64(slot))
	// Half the pool writes Adds; the rest is for edits, reads and the
	// journal.
	s.adds.start(s, int(max(1, cfg.MaxConns/2)))
	s.every(reachCheckEvery, s.checkReachable)
	return s, nil
}

// every runs fn every d on a goroutine of its own until the store closes
// (Close waits for it).
func (s *Store) every(d time.Duration, fn func()) { store.Every(&s.bg, s.closed, d, fn) }

// Redact is url with its password, if any, replaced by xxxxx: fit for a
// log or an error message.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// where names the server and database as a person configured them.
func where(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	host := c.Host
	if !strings.HasPrefix(host, "/") {
		host = fmt.Sprintf("%s:%d", host, c.Port)
	}
	return fmt.Sprintf("database %q on %s", c.Database, host)
}

// reachError is why a connection failed, in one line: pgconn's error
// names the address again, once per attempt.
func reachError(err error) error {
	var (
		pe  *pgconn.PgError
		dns *net.DNSError
		op  *net.OpError
	)
	switch {
	case errors.As(err, &pe):
		return fmt.Errorf("%s (SQLSTATE %s)", pe.Message, pe.Code)
	case errors.As(err, &dns):
		return dns
	case errors.As(err, &op) && op.Err != nil:
		return op.Err // "connect: connection refused"
	case errors.Is(err, context.DeadlineExceeded):
		return errors.New("no answer within 10s")
	}
	return err
}

// policy is the offer's edit settings.
func (s *Store) policy(offer string) store.OfferPolicy {
	if s.opts.Policies != nil {
		return s.opts.Policies.Policy(offer)
	}
	return store.DefaultPolicy()
}

// clock is the time of a write, to the microsecond PostgreSQL keeps: the
// lead a write returns is the one a read gives back.
func (s *Store) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Reasons is the table of rejection reasons edits are checked against.
func (s *Store) Reasons() *store.ReasonTable { return s.reasons }

// Close writes the journal entries queued, waits for the writes in
// flight and closes the connections.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.adds.stop()
		s.stopJournal()
		close(s.closed)
		s.bg.Wait()
		s.releaseName()
		s.pool.Close()
	})
	return nil
}

// alive is ErrClosed once Close has begun, or ctx's error.
func (s *Store) alive(ctx context.Context) error {
	select {
	case <-s.closed:
		return store.ErrClosed
	default:
	}
	return ctx.Err()
}

// maxTries bounds the runs of a transaction PostgreSQL aborted for a
// conflict with another (a deadlock, a serialization failure).
const maxTries = 10

// inTx runs fn in a transaction and commits it, running it again when
// PostgreSQL aborts it for a conflict: fn must reset what it reports at
// its start. An error fn returns rolls the transaction back.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	if err := s.alive(ctx); err != nil {
		return err
	}
	for try := 1; ; try++ {
		err := pgx.BeginFunc(ctx, s.pool, fn)
		if err == nil || try == maxTries || !conflict(err) {
			return dbError(err)
		}
	}
}

// conflict says whether err is PostgreSQL aborting a transaction for
// another's sake: running it again is the remedy.
func conflict(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// refusal is a rule's verdict that fn returns to roll its transaction
// back; dbError passes it through as it is.
type refusal struct{ err error }

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// dbError words PostgreSQL's errors for a user: text PostgreSQL cannot
// keep is invalid input, not a server failure.
func dbError(err error) error {
	var (
		pe *pgconn.PgError
		ce *pgconn.ConnectError
	)
	if err == nil || !errors.As(err, &pe) || errors.As(err, &ce) {
		return err // not a statement the server refused: kept whole (away)
	}
	switch pe.Code {
	case "22021", "22P05", "54000":
		return fmt.Errorf("postgres: %s (text must be UTF-8 without NUL bytes): %w", pe.Message, store.ErrInvalid)
	case "23505":
		return fmt.Errorf("postgres: %s: %w", pe.Message, store.ErrExists)
	}
	return fmt.Errorf("postgres: %s (SQLSTATE %s)", pe.Message, pe.Code)
}

package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"leadhost/store"
)

// Cluster mode (store.Cluster) in tables nodes, leases, schedule_runs and
// offer_versions (migrations/002_cluster.sql). Every time is the
// database's now(): a lease's expiry and a node's last heartbeat are
// compared on one clock, whatever the nodes' own say. Heartbeats are
// on Options.Now instead when it is set (tests move it), so that a
// node's death, and the takeover of its outbox claims (feed.go), can be
// shown without waiting for it.

// clusterClock is the time heartbeats are compared on, for clusterNow:
// nil for the database's now(), or Options.Now's when set.
func (s *Store) clusterClock() any {
	if s.opts.Now == nil {
		return nil
	}
	return s.opts.Now().UTC().Truncate(time.Microsecond)
}

// clusterNow is the SQL for the cluster's clock given the parameter
// clusterClock fills.
func clusterNow(param string) string {
	return `coalesce(` + param + `::timestamptz, now())`
}

// deadAfter is how long a node may go without a heartbeat and be alive.
func (s *Store) deadAfter() time.Duration {
	if s.opts.DeadAfter > 0 {
		return s.opts.DeadAfter
	}
	return store.DefaultDeadAfter
}

// The PostgreSQL backend is shared by several nodes.
var _ store.Cluster = (*Store)(nil)

// nodeName is the name the store joined the cluster as ("" before).
func (s *Store) nodeName() string {
	if p := s.node.Load(); p != nil {
		return *p
	}
	return ""
}

// Join registers the node and writes its name into the journal entries
// kept from now on. It first takes the name (nodename.go), waiting for a
// process still holding it to leave.
func (s *Store) Join(ctx context.Context, n store.NodeBeat) error {
	if err := s.alive(ctx); err != nil {
		return err
	}
	if err := s.holdName(ctx, n.Name); err != nil {
		return err
	}
	if err := s.Heartbeat(ctx, n); err != nil {
		return err
	}
	name := n.Name
	s.node.Store(&name)
	return nil
}

// Heartbeat records that the node is alive and what it runs, and the
// first sighting of each offer version it runs.
func (s *Store) Heartbeat(ctx context.Context, n store.NodeBeat) error {
	if err := s.alive(ctx); err != nil {
		return err
	}
	if err := s.keepName(ctx, n.Name); err != nil {
		return err
	}
	offers, err := json.Marshal(n.Offers)
	if err != nil {
		return err
	}
	if n.Offers == nil {
		offers = []byte("{}")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO nodes (name, binary_version, started, listen, offers, seen)
			VALUES ($1, $2, $3, $4, $5, `+clusterNow("$6")+`)
			ON CONFLICT (name) DO UPDATE SET binary_version = $2, started = $3, listen = $4, offers = $5, seen = excluded.seen, left_at = NULL`,
			text(n.Name), text(n.Binary), n.Started, text(n.Listen), string(offers), s.clusterClock()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO offer_versions (offer, version)
			SELECT key, value FROM jsonb_each_text($1::jsonb) ON CONFLICT DO NOTHING`, string(offers))
		return err
	})
}

// Leave marks the node gone and frees its leases: its schedules may run
// elsewhere at once.
func (s *Store) Leave(ctx context.Context, node string) error {
	if err := s.alive(ctx); err != nil {
		return err
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE nodes SET left_at = `+clusterNow("$2")+` WHERE name = $1`, node, s.clusterClock()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE leases SET node = '', expires = now() WHERE node = $1`, node)
		return err
	})
	if err == nil {
		s.releaseName() // after the row says it left: a successor starts on a clean slate
	}
	return err
}

// Nodes lists the nodes heard from within keep, by name, each with when
// its offers' versions first appeared in the cluster.
func (s *Store) Nodes(ctx context.Context, keep time.Duration) ([]store.NodeState, error) {
	if err := s.alive(ctx); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT n.name, n.binary_version, n.started, n.listen, n.offers, n.seen,
			extract(epoch FROM `+clusterNow("$2")+` - n.seen)::float8, n.left_at IS NOT NULL,
			coalesce((SELECT jsonb_object_agg(v.offer, v.first_seen) FROM jsonb_each_text(n.offers) o
				JOIN offer_versions v ON v.offer = o.key AND v.version = o.value), '{}')
		FROM nodes n WHERE n.seen > `+clusterNow("$2")+` - $1::interval ORDER BY n.name`, keep, s.clusterClock())
	if err != nil {
		return nil, dbError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.NodeState, error) {
		var (
			n           store.NodeState
			offers, fst []byte
			age         float64
		)
		if err := r.Scan(&n.Name, &n.Binary, &n.Started, &n.Listen, &offers, &n.Seen, &age, &n.Left, &fst); err != nil {
			return n, err
		}
		n.Started, n.Seen, n.Age = n.Started.UTC(), n.Seen.UTC(), time.Duration(age*float64(time.Second))
		if err := json.Unmarshal(offers, &n.Offers); err != nil {
			return n, fmt.Errorf("node %s: offers: %w", n.Name, err)
		}
		if err := json.Unmarshal(fst, &n.FirstSeen); err != nil {
			return n, fmt.Errorf("node %s: offer versions: %w", n.Name, err)
		}
		return n, nil
	})
	return out, dbError(err)
}

// TakeLease takes the lease, then checks the schedule's last run: both
// in one transaction, so that a node finishing a run (ReleaseLease)
// either commits first, and its end is seen here, or waits for this.
func (s *Store) TakeLease(ctx context.Context, r store.LeaseRequest) (store.LeaseGrant, error) {
	if err := s.alive(ctx); err != nil {
		return store.LeaseGrant{}, err
	}
	var g store.LeaseGrant
	errTooSoon := errors.New("too soon")
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		g = store.LeaseGrant{}
		var holder string
		err := tx.QueryRow(ctx, `INSERT INTO leases AS l (name, node, what, expires) VALUES ($1, $2, $3, now() + $4::interval)
			ON CONFLICT (name) DO UPDATE SET node = $2, what = $3, expires = now() + $4::interval
			WHERE l.node = '' OR l.node = $2 OR l.expires < now()
			RETURNING node`, r.Name, r.Node, r.What, r.TTL).Scan(&holder)
		if errors.Is(err, pgx.ErrNoRows) {
			// Held by another: who, for the caller to say.
			return tx.QueryRow(ctx, `SELECT node, what FROM leases WHERE name = $1`, r.Name).Scan(&g.Holder, &g.What)
		}
		if err != nil {
			return err
		}
		if r.Schedule != "" {
			var wait float64
			err := tx.QueryRow(ctx, `SELECT extract(epoch FROM last_end + $2::interval - now())::float8 FROM schedule_runs WHERE name = $1`, r.Schedule, r.Gap).Scan(&wait)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			if wait > 0 {
				g.Wait = time.Duration(wait * float64(time.Second))
				return errTooSoon // rolls the lease back
			}
		}
		g.Taken = true
		return nil
	})
	if errors.Is(err, errTooSoon) {
		return g, nil
	}
	if err != nil {
		return store.LeaseGrant{}, fmt.Errorf("lease %s: %w", r.Name, err)
	}
	return g, nil
}

// RenewLease pushes the lease's expiry on, if the node still holds it.
func (s *Store) RenewLease(ctx context.Context, name, node string, ttl time.Duration) error {
	if err := s.alive(ctx); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE leases SET expires = now() + $3::interval WHERE name = $1 AND node = $2`, name, node, ttl)
	if err != nil {
		return fmt.Errorf("lease %s: %w", name, dbError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("lease %s: %w", name, store.ErrLeaseLost)
	}
	return nil
}

// ReleaseLease frees the lease and, for a scheduled run, records its end
// in the same transaction.
func (s *Store) ReleaseLease(ctx context.Context, name, node, schedule string) error {
	if err := s.alive(ctx); err != nil {
		return err
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE leases SET node = '', expires = now() WHERE name = $1 AND node = $2`, name, node)
		if err != nil || tag.RowsAffected() == 0 || schedule == "" {
			return err // a lease lost meanwhile: its new holder's run counts
		}
		_, err = tx.Exec(ctx, `INSERT INTO schedule_runs (name, last_end) VALUES ($1, now())
			ON CONFLICT (name) DO UPDATE SET last_end = now()`, schedule)
		return err
	})
	if err != nil {
		return fmt.Errorf("lease %s: %w", name, err)
	}
	return nil
}

// Leases lists the leases held and not expired, by name.
func (s *Store) Leases(ctx context.Context) ([]store.Lease, error) {
	if err := s.alive(ctx); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT name, node, what, expires FROM leases WHERE node <> '' AND expires > now() ORDER BY name`)
	if err != nil {
		return nil, dbError(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Lease, error) {
		var l store.Lease
		err := r.Scan(&l.Name, &l.Node, &l.What, &l.Expires)
		l.Expires = l.Expires.UTC()
		return l, err
	})
	return out, dbError(err)
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"leadhost/store"
)

// feed is a durable queue of status changes in table feed_items: its
// items are written in the transaction of the change they carry.
//
// Every node sharing the database reads the same items; Begin is the
// claim. It is one conditional UPDATE: it succeeds only on the item as
// the node read it (attempts, in flight), not held, with no earlier item
// of its lead pending, and not in flight under another node's live
// claim. The row lock serialises two nodes beginning one item: the
// second finds attempts moved on and gets ErrClaimed. The attempt (in
// flight, attempts+1, the node, when) is committed before the request
// leaves, so a node that dies mid-request leaves its items in flight.
//
// A claim lives as long as its node: it is made under the name the node
// joined the cluster as (Join), and stays live while that node's
// heartbeat is younger than Options.DeadAfter and it has not left, however
// long its partner takes to answer; a partner's timeout must not hand a
// lead to a second sender. Once the node is dead its items in flight are
// listed to the others, in doubt, for the sender to hold for a person,
// as one node does after a crash; the items it had not begun (or had
// retried) carry no claim and are sent by any node. A node restarted
// under its name lists its old claims at once: they are its own, and
// the process that made them is gone. A process that never joined has
// no heartbeat to read: its claims expire after Options.ClaimExpiry.
type feed struct {
	s      *Store
	name   string
	node   string        // Options.Node or host/pid: the claims' name before Join
	expiry time.Duration // a claim of a process that never joined expires after this
}

// Feed returns the named feed; the name must be in Options.Feeds.
func (s *Store) Feed(name string) (store.Feed, error) {
	for _, f := range s.opts.Feeds {
		if f == name {
			return &feed{s: s, name: name, node: nodeName(s.opts.Node), expiry: claimExpiry(s.opts.ClaimExpiry)}, nil
		}
	}
	return nil, fmt.Errorf("store: no feed %q (Options.Feeds): %w", name, store.ErrNotFound)
}

// Name is the feed's name.
func (f *feed) Name() string { return f.name }

// nodeName is Options.Node, or host name/pid: unique among the processes
// sharing the database, and the same when the store is opened again in
// the same process.
func nodeName(node string) string {
	if node != "" {
		return node
	}
	host, err := os.Hostname()
	if err != nil {
		host = "leadhost"
	}
	return fmt.Sprintf("%s/%d", host, os.Getpid())
}

func claimExpiry(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return store.DefaultClaimExpiry
}

// claimer is the name this process's claims are made under: the one it
// joined the cluster as, else Options.Node or host/pid.
func (f *feed) claimer() string {
	if n := f.s.nodeName(); n != "" {
		return n
	}
	return f.node
}

// claimedElsewhere is the condition (on feed_items f) that another node
// holds a live claim on f: it may be sending it now. p names the
// parameters claimArgs gives, from the first: the claimer, the expiry's
// cutoff, the cluster's clock and how long a silent node is alive. A
// claimer known to the nodes table is alive while its heartbeat is
// recent and it has not left; one it does not know (it never joined)
// until its claim expires.
func claimedElsewhere(f string, p int) string {
	arg := func(i int) string { return fmt.Sprintf("$%d", p+i) }
	return f + `.in_flight AND ` + f + `.claimed_by <> ` + arg(0) + ` AND coalesce(
		(SELECT n.left_at IS NULL AND n.seen >= ` + clusterNow(arg(2)) + ` - ` + arg(3) + `::interval FROM nodes n WHERE n.name = ` + f + `.claimed_by),
		` + f + `.claimed_at >= ` + arg(1) + `)`
}

// claimArgs are claimedElsewhere's parameters, in its order.
func (f *feed) claimArgs() []any {
	return []any{f.claimer(), f.s.now().Add(-f.expiry), f.s.clusterClock(), f.s.deadAfter()}
}

const itemColumns = `lead_id, rev, offer, from_status, to_status, reason, approved, at, by, attempts, not_before, in_flight, last_error`

// Pending returns up to limit unacknowledged items, oldest lead first
// (items held for a person are not among them: Held).
func (f *feed) Pending(ctx context.Context, limit int) ([]store.FeedItem, error) {
	return f.PendingAfter(ctx, nil, limit)
}

// PendingAfter is Pending from just after the item after (nil: from the
// start).
func (f *feed) PendingAfter(ctx context.Context, after *store.FeedItem, limit int) ([]store.FeedItem, error) {
	return f.list(ctx, false, after, limit)
}

// Held lists the items held for a person, oldest lead first.
func (f *feed) Held(ctx context.Context, limit int) ([]store.FeedItem, error) {
	return f.list(ctx, true, nil, limit)
}

func (f *feed) list(ctx context.Context, held bool, after *store.FeedItem, limit int) ([]store.FeedItem, error) {
	if err := f.s.alive(ctx); err != nil {
		return nil, err
	}
	var id, rev int64 = 0, -1
	if after != nil {
		id, rev = int64(after.LeadID), int64(after.Rev)
	}
	// Items another node has in flight are its own, and so are their
	// leads' later items: they wait behind it (pending, that is; the held
	// items are a person's).
	rows, err := f.s.pool.Query(ctx, `SELECT `+itemColumns+` FROM feed_items i
		WHERE feed = $1 AND held = $2 AND (lead_id, rev) > ($3, $4)
		AND (held OR NOT EXISTS (SELECT 1 FROM feed_items c WHERE c.feed = $1 AND NOT c.held
			AND c.lead_id = i.lead_id AND c.rev <= i.rev AND `+claimedElsewhere("c", 6)+`))
		ORDER BY lead_id, rev LIMIT $5`,
		append([]any{f.name, held, id, rev, limit}, f.claimArgs()...)...)
	if err != nil {
		return nil, dbError(err)
	}
	defer rows.Close()
	var out []store.FeedItem
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, dbError(rows.Err())
}

// scanItem reads one row of itemColumns.
func scanItem(r pgx.Row) (store.FeedItem, error) {
	var (
		it                 store.FeedItem
		id                 int64
		rev, reason, tries int32
		from, to           int16
		notBefore          *time.Time
	)
	err := r.Scan(&id, &rev, &it.Offer, &from, &to, &reason, &it.Approved, &it.At, &it.By, &tries, &notBefore, &it.InFlight, &it.LastError)
	it.LeadID, it.Rev, it.From, it.To, it.Reason, it.Attempts = uint64(id), uint32(rev), store.Status(from), store.Status(to), store.Reason(reason), int(tries)
	it.At, it.NotBefore = it.At.UTC(), utc(notBefore)
	return it, err
}

// Ack removes delivered items; it is committed when it returns.
func (f *feed) Ack(ctx context.Context, items ...store.FeedItem) error {
	if len(items) == 0 {
		return f.s.alive(ctx)
	}
	ids, revs := make([]int64, len(items)), make([]int32, len(items))
	for i, it := range items {
		ids[i], revs[i] = int64(it.LeadID), int32(it.Rev)
	}
	return f.s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM feed_items f USING unnest($2::bigint[], $3::integer[]) AS a(lead_id, rev)
			WHERE f.feed = $1 AND f.held = false AND f.lead_id = a.lead_id AND f.rev = a.rev`, f.name, ids, revs)
		return err
	})
}

// Begin claims it for this node and records, durably, that a delivery
// is about to be attempted: InFlight until Ack or Retry. An item
// acknowledged or held meanwhile is left alone and Begin reports
// ErrNotFound; one begun since it was read (by any node), one in flight
// under another node's live claim, or one whose lead has an earlier item
// pending, ErrClaimed.
func (f *feed) Begin(ctx context.Context, it store.FeedItem) (store.FeedItem, error) {
	read := it
	it.Attempts++
	it.InFlight = true
	now := f.s.now().UTC().Truncate(time.Microsecond)
	err := f.s.inTx(ctx, func(tx pgx.Tx) error {
		// The row, locked unless another node's transaction holds it this
		// moment (claiming it, or writing its outcome): that node's, then,
		// and this one goes on to its next item instead of waiting.
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM feed_items WHERE feed = $1 AND lead_id = $2 AND rev = $3 AND NOT held FOR UPDATE SKIP LOCKED`,
			f.name, int64(it.LeadID), int32(it.Rev)).Scan(&one)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			// Gone, held, or locked by another transaction: told apart below.
		case err != nil:
			return err
		default:
			tag, err := tx.Exec(ctx, `UPDATE feed_items f SET attempts = attempts + 1, in_flight = true, claimed_by = $7, claimed_at = $6
				WHERE feed = $1 AND lead_id = $2 AND rev = $3 AND NOT held AND attempts = $4 AND in_flight = $5
				AND NOT (`+claimedElsewhere("f", 7)+`)
				AND NOT EXISTS (SELECT 1 FROM feed_items e WHERE e.feed = $1 AND e.lead_id = $2 AND e.rev < $3 AND NOT e.held)`,
				append([]any{f.name, int64(it.LeadID), int32(it.Rev), int32(read.Attempts), read.InFlight, now}, f.claimArgs()...)...)
			if err != nil || tag.RowsAffected() == 1 {
				return err
			}
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM feed_items WHERE feed = $1 AND lead_id = $2 AND rev = $3 AND NOT held)`,
			f.name, int64(it.LeadID), int32(it.Rev)).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return &refusal{fmt.Errorf("feed %s: lead %d rev %d: %w", f.name, it.LeadID, it.Rev, store.ErrNotFound)}
		}
		return &refusal{fmt.Errorf("feed %s: lead %d rev %d: begun since it was read, in flight on another node, or behind an earlier change of its lead: %w",
			f.name, it.LeadID, it.Rev, store.ErrClaimed)}
	})
	return it, err
}

// Retry records a failed attempt: not before notBefore, and why.
func (f *feed) Retry(ctx context.Context, it store.FeedItem, notBefore time.Time, why string) (store.FeedItem, error) {
	it.InFlight = false
	return f.Defer(ctx, it, notBefore, why)
}

// Defer puts it off until notBefore, saying why, with no attempt made.
func (f *feed) Defer(ctx context.Context, it store.FeedItem, notBefore time.Time, why string) (store.FeedItem, error) {
	it.NotBefore = notBefore.UTC().Truncate(time.Microsecond)
	if len(why) > 1024 {
		why = why[:1024]
	}
	it.LastError = why
	return it, f.update(ctx, it)
}

// update writes it's delivery state over the pending item's.
func (f *feed) update(ctx context.Context, it store.FeedItem) error {
	return f.set(ctx, false, false, it)
}

// set writes it's delivery state into the item (held: the held one), and
// moves it to or from the held items when to differs.
func (f *feed) set(ctx context.Context, held, to bool, it store.FeedItem) error {
	return f.s.inTx(ctx, func(tx pgx.Tx) error {
		// attempts = $5: an item another node began since (this one was
		// taken for dead) is that node's now; a late outcome leaves it
		// alone.
		tag, err := tx.Exec(ctx, `UPDATE feed_items SET attempts = $5, not_before = $6, in_flight = $7, last_error = $8, held = $9
			WHERE feed = $1 AND lead_id = $2 AND rev = $3 AND held = $4 AND attempts = $5`,
			f.name, int64(it.LeadID), int32(it.Rev), held, int32(it.Attempts), null(it.NotBefore), it.InFlight, it.LastError, to)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			what := "lead %d rev %d"
			if held {
				what = "no held item for lead %d rev %d"
			}
			return &refusal{fmt.Errorf("feed %s: "+what+": %w", f.name, it.LeadID, it.Rev, store.ErrNotFound)}
		}
		return nil
	})
}

// Hold takes an item out of the feed and keeps it for a person: Pending
// no longer returns it, Held does. why says what the person should check.
func (f *feed) Hold(ctx context.Context, it store.FeedItem, why string) error {
	it.InFlight, it.NotBefore, it.LastError = false, time.Time{}, why
	return f.set(ctx, false, true, it)
}

// Release puts a held item back into the feed, to be delivered again,
// and gives it as it was held.
func (f *feed) Release(ctx context.Context, leadID uint64, rev uint32) (store.FeedItem, error) {
	held, err := f.take(ctx, leadID, rev, `UPDATE feed_items SET held = false, in_flight = false, not_before = NULL`)
	return held, err
}

// Drop removes a held item for good, and gives it as it was held.
func (f *feed) Drop(ctx context.Context, leadID uint64, rev uint32) (store.FeedItem, error) {
	return f.take(ctx, leadID, rev, `DELETE FROM feed_items`)
}

// take runs change (an UPDATE or DELETE of feed_items, without its WHERE)
// on the held item, returning it as it was.
func (f *feed) take(ctx context.Context, leadID uint64, rev uint32, change string) (store.FeedItem, error) {
	var held store.FeedItem
	err := f.s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		held, err = scanItem(tx.QueryRow(ctx, `SELECT `+itemColumns+` FROM feed_items
			WHERE feed = $1 AND lead_id = $2 AND rev = $3 AND held FOR UPDATE`, f.name, int64(leadID), int32(rev)))
		if errors.Is(err, pgx.ErrNoRows) {
			return &refusal{fmt.Errorf("feed %s: no held item for lead %d rev %d: %w", f.name, leadID, rev, store.ErrNotFound)}
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, change+` WHERE feed = $1 AND lead_id = $2 AND rev = $3 AND held`, f.name, int64(leadID), int32(rev))
		return err
	})
	return held, err
}

package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"leadhost/store"
)

// writes gathers a transaction's changes to leads and sends them in one
// round trip, however many leads: per set of changed columns one
// statement that updates those columns of the leads still at the
// revision their change was made from, and inserts the history entries
// and feed items of the leads it updated. A status-check batch of 200
// edits is one statement, not 600. Writing only what changed leaves
// PostgreSQL the room for HOT updates (no new index entries when no
// indexed column changed) and spares it recomputing the generated
// contact columns when fields did not change.
//
// A lead whose row has moved on since (another writer's edit) is not
// written: written says which were, and events holds the written leads'
// events to publish once the transaction commits.
type writes struct {
	groups  []*writeGroup
	pending []leadEvents // every lead's events, in the order written
	written map[uint64]bool
	events  []store.Event
}

// writeGroup is the leads of one statement: those with the same columns
// changed.
type writeGroup struct {
	columns uint64 // bit i: leadCasts[i] changed
	leads   leadRows
	from    []int32 // each lead's rev before the change
	history historyRows
	items   itemRows
}

type leadEvents struct {
	id     uint64
	events []store.Event
}

// leadRows are leads' columns, one array each (leadCasts' order).
type leadRows struct {
	id                    []int64
	offer, comment, track []string
	ext, fields           []*string
	status, bucket        []int16
	reason, counts, curr  []int32
	cc, rev               []int32
	goal                  []int64
	hold, accepted        []*time.Time
	created, updated      []time.Time
	base, wm, pay, ref    []string
}

type historyRows struct {
	lead    []int64
	rev     []int32
	at      []time.Time
	by      []string
	changes []string // JSON: [{"field", "old", "new"}]
}

type itemRows struct {
	feed, offer, by []string
	lead            []int64
	rev, reason     []int32
	from, to        []int16
	approved        []bool
	at              []time.Time
}

// writeLead queues a lead's change from old (as stored, old.Rev the rev
// it must still have) to n: the changed columns, one history entry per
// change, and an event, with its feed items, per status change.
func (s *Store) writeLead(w *writes, old, n *store.Lead, changes []store.Change, events []store.Event) {
	cols := changedColumns(old, n)
	var g *writeGroup
	for _, have := range w.groups {
		if have.columns == cols {
			g = have
			break
		}
	}
	if g == nil {
		g = &writeGroup{columns: cols}
		w.groups = append(w.groups, g)
	}
	g.leads.add(n)
	g.from = append(g.from, int32(old.Rev))
	h := &g.history
	for _, c := range changes {
		b, _ := json.Marshal(c.Fields)
		h.lead = append(h.lead, int64(n.ID))
		h.rev = append(h.rev, int32(c.Rev))
		h.at = append(h.at, c.At)
		h.by = append(h.by, c.By)
		h.changes = append(h.changes, string(b))
	}
	w.pending = append(w.pending, leadEvents{n.ID, events})
	it := &g.items
	for _, ev := range events {
		for _, name := range s.feedsFor(ev) {
			it.feed = append(it.feed, name)
			it.lead = append(it.lead, int64(ev.LeadID))
			it.rev = append(it.rev, int32(ev.Rev))
			it.offer = append(it.offer, ev.Offer)
			it.from = append(it.from, int16(ev.From))
			it.to = append(it.to, int16(ev.To))
			it.reason = append(it.reason, int32(ev.Reason))
			it.approved = append(it.approved, ev.Approved)
			it.at = append(it.at, ev.At)
			it.by = append(it.by, ev.By)
		}
	}
}

// changedColumns has bit i set for each column leadCasts[i] that differs
// between a and b. Values compared as the columns' arguments: a column
// taken for changed that did not is written again, never the other way
// round.
func changedColumns(a, b *store.Lead) uint64 {
	var cols uint64
	x, y := leadArgs(a), leadArgs(b)
	for i := 1; i < len(x); i++ {
		if !reflect.DeepEqual(x[i], y[i]) {
			cols |= 1 << i
		}
	}
	return cols
}

// add appends a lead's columns.
func (r *leadRows) add(n *store.Lead) {
	var fields *string
	if len(n.Fields) > 0 {
		b, _ := json.Marshal(n.Fields)
		f := string(b)
		fields = &f
	}
	r.id = append(r.id, int64(n.ID))
	r.offer = append(r.offer, n.Offer)
	r.ext = append(r.ext, nullText(n.Ext))
	r.status = append(r.status, int16(n.Status))
	r.bucket = append(r.bucket, int16(store.StatusBucket(n.Status)))
	r.reason = append(r.reason, int32(n.Reason))
	r.hold = append(r.hold, null(n.HoldUntil))
	r.comment = append(r.comment, n.Comment)
	r.base = append(r.base, n.Base.String())
	r.counts = append(r.counts, int32(n.Counts))
	r.curr = append(r.curr, int32(n.Curr))
	r.goal = append(r.goal, int64(n.Goal))
	r.track = append(r.track, n.Track)
	r.wm = append(r.wm, n.Cash.WM.String())
	r.pay = append(r.pay, n.Cash.Pay.String())
	r.ref = append(r.ref, n.Cash.Ref.String())
	r.cc = append(r.cc, int32(n.Cash.CC))
	r.fields = append(r.fields, fields)
	r.created = append(r.created, n.Created)
	r.updated = append(r.updated, n.Updated)
	r.accepted = append(r.accepted, null(n.AcceptedAt))
	r.rev = append(r.rev, int32(n.Rev))
}

// args are the columns as query arguments, in leadCasts' order (fields
// as JSON text, money as text).
func (r *leadRows) args() []any {
	return []any{r.id, r.offer, r.ext, r.status, r.bucket, r.reason, r.hold, r.comment, r.base, r.counts, r.curr, r.goal, r.track,
		r.wm, r.pay, r.ref, r.cc, r.fields, r.created, r.updated, r.accepted, r.rev}
}

// queue adds w's statements to b, each answering the ids it updated
// into w.written; answered then moves the written leads' events to
// w.events.
func (w *writes) queue(b *pgx.Batch) {
	w.written = make(map[uint64]bool)
	for _, g := range w.groups {
		b.Queue(g.statement(), g.args()...).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					return err
				}
				w.written[uint64(id)] = true
			}
			return rows.Err()
		})
	}
}

// send writes what was queued, in one round trip.
func (w *writes) send(ctx context.Context, tx pgx.Tx) error {
	var b pgx.Batch
	w.queue(&b)
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return err
	}
	w.answered()
	return nil
}

// answered moves the events of the leads written to w.events, once the
// statements have answered.
func (w *writes) answered() {
	for _, p := range w.pending {
		if w.written[p.id] {
			w.events = append(w.events, p.events...)
		}
	}
	w.pending = nil
}

// sendLocked is send for leads the transaction has locked since it read
// them: each is still at the rev it was read at, and one that is not
// written is an error.
func (w *writes) sendLocked(ctx context.Context, tx pgx.Tx) error {
	if err := w.send(ctx, tx); err != nil {
		return err
	}
	for _, g := range w.groups {
		for _, id := range g.leads.id {
			if !w.written[uint64(id)] {
				return fmt.Errorf("lead %d: not at the revision read under its lock", id)
			}
		}
	}
	return nil
}

// statement is the group's one statement: $1 the ids, $2 the revs they
// must still have, then the changed columns in leadCasts' order, then the
// history entries' five columns and the feed items' ten.
func (g *writeGroup) statement() string {
	var set, types, names []string
	n := 2
	for i, c := range leadCasts {
		if i == 0 || g.columns&(1<<i) == 0 {
			continue
		}
		n++
		set = append(set, c.column+" = u."+c.column)
		names = append(names, c.column)
		cast := c.cast + "[]"
		if c.cast == "numeric" || c.cast == "jsonb" {
			cast = "text[]::" + cast // sent as text: money keeps its scale
		}
		types = append(types, fmt.Sprintf("$%d::%s", n, cast))
	}
	p := func(k int) int { return n + k }
	return fmt.Sprintf(`WITH u AS (
	UPDATE leads AS l SET %s
	FROM unnest($1::bigint[], $2::integer[], %s) AS u(id, from_rev, %s)
	WHERE l.id = u.id AND l.rev = u.from_rev
	RETURNING l.id
), h AS (
	INSERT INTO history (lead_id, rev, at, by, changes)
	SELECT * FROM unnest($%d::bigint[], $%d::integer[], $%d::timestamptz[], $%d::text[], $%d::text[]::jsonb[])
		AS h(lead_id, rev, at, by, changes)
	WHERE h.lead_id IN (SELECT id FROM u)
), f AS (
	INSERT INTO feed_items (feed, lead_id, rev, offer, from_status, to_status, reason, approved, at, by)
	SELECT * FROM unnest($%d::text[], $%d::bigint[], $%d::integer[], $%d::text[], $%d::smallint[], $%d::smallint[],
		$%d::integer[], $%d::boolean[], $%d::timestamptz[], $%d::text[])
		AS f(feed, lead_id, rev, offer, from_status, to_status, reason, approved, at, by)
	WHERE f.lead_id IN (SELECT id FROM u)
)
SELECT id FROM u`, strings.Join(set, ", "), strings.Join(types, ", "), strings.Join(names, ", "),
		p(1), p(2), p(3), p(4), p(5), p(6), p(7), p(8), p(9), p(10), p(11), p(12), p(13), p(14), p(15))
}

// args are the statement's arguments.
func (g *writeGroup) args() []any {
	all := g.leads.args()
	out := []any{g.leads.id, g.from}
	for i := 1; i < len(all); i++ {
		if g.columns&(1<<i) != 0 {
			out = append(out, all[i])
		}
	}
	h, it := &g.history, &g.items
	return append(out, h.lead, h.rev, h.at, h.by, h.changes,
		it.feed, it.lead, it.rev, it.offer, it.from, it.to, it.reason, it.approved, it.at, it.by)
}

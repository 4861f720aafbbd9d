package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"leadhost/store"
)

// writes gathers a transaction's changes to leads and sends them as one
// statement, however many leads: it updates the columns that changed (in
// any of the leads) of leads that are all still at the revision their
// change was made from, and inserts their history entries and feed
// items; when one lead has moved on (another writer's edit) it writes
// none and fails (serialization_failure). A status-check batch of 200
// edits is one statement, not 600.
// Writing only the columns that changed spares PostgreSQL recomputing the
// generated contact columns when fields did not change, and a column set
// to the value it has does not stop a HOT update (no new index entries):
// PostgreSQL compares the indexed values, not the SET list.
//
// The statement locks the leads itself: it needs no lock taken before
// it, and one sent alone is a whole implicit transaction.
type writes struct {
	columns uint64 // bit i: leadCasts[i] changed in some lead
	leads   leadRows
	from    []int32 // each lead's rev before the change
	history historyRows
	items   itemRows
	pending []leadEvents // each lead's events, in the order written
	events  []store.Event
}

type leadEvents struct {
	id     uint64
	events []store.Event
}

// leadRows are leads whose columns go to a statement as arrays, one per
// column (leadCasts' order). Each array is built when it is asked for: a
// check answer's edit changes four or five columns of twenty-two, and
// the others, the fields' JSON among them, are never built.
type leadRows struct {
	id    []int64
	leads []*store.Lead // not changed until the statement is sent
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
	w.columns |= changedColumns(old, n)
	w.leads.add(n)
	w.from = append(w.from, int32(old.Rev))
	h := &w.history
	for _, c := range changes {
		h.lead = append(h.lead, int64(n.ID))
		h.rev = append(h.rev, int32(c.Rev))
		h.at = append(h.at, c.At)
		h.by = append(h.by, c.By)
		h.changes = append(h.changes, changesJSON(c.Fields))
	}
	w.pending = append(w.pending, leadEvents{n.ID, events})
	it := &w.items
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

// changesJSON is a history entry's changes as json.Marshal writes them
// ([{"field","old","new"}], none as null), by hand: one entry for every
// edit a check run commits, and json.Marshal's reflection cost ~1 µs
// each.
func changesJSON(fs []store.FieldChange) string {
	if fs == nil {
		return "null"
	}
	b := make([]byte, 0, 64*len(fs))
	b = append(b, '[')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"field":`...)
		b = store.AppendJSONString(b, f.Field)
		b = append(b, `,"old":`...)
		b = store.AppendJSONString(b, f.Old)
		b = append(b, `,"new":`...)
		b = store.AppendJSONString(b, f.New)
		b = append(b, '}')
	}
	return string(append(b, ']'))
}

// add appends a lead.
func (r *leadRows) add(n *store.Lead) {
	r.id = append(r.id, int64(n.ID))
	r.leads = append(r.leads, n)
}

// args are the columns as query arguments, in leadCasts' order (fields
// as JSON text, money as text).
func (r *leadRows) args() []any {
	out := make([]any, len(leadCasts))
	for i := range out {
		out[i] = r.column(i)
	}
	return out
}

// column is column i of leadCasts as a query argument, one element per
// lead.
func (r *leadRows) column(i int) any {
	if i == 0 {
		return r.id
	}
	return leadChanged[i].array(r.leads)
}

// fieldsJSON is a lead's fields as JSON text, none as NULL.
func fieldsJSON(n *store.Lead) *string {
	if len(n.Fields) == 0 {
		return nil
	}
	b, _ := json.Marshal(n.Fields)
	f := string(b)
	return &f
}

// each is f of every lead, in order.
func each[T any](leads []*store.Lead, f func(*store.Lead) T) []T {
	out := make([]T, len(leads))
	for i, n := range leads {
		out[i] = f(n)
	}
	return out
}

// batchSender is a transaction or the pool (one implicit transaction
// per batch of statements).
type batchSender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// queue adds w's statement, if any, to b; once b has been sent without
// an error, the leads are written (the statement fails unless it wrote
// every one: leads_written) and w.events holds their events.
func (w *writes) queue(b *pgx.Batch) {
	if len(w.leads.id) == 0 {
		return
	}
	b.Queue(w.statement(), w.args()...).QueryRow(func(r pgx.Row) error {
		var n int64 // every lead: leads_written fails the statement otherwise
		if err := r.Scan(&n); err != nil {
			return err
		}
		for _, p := range w.pending {
			w.events = append(w.events, p.events...)
		}
		return nil
	})
}

// send writes what was queued, in one round trip.
func (w *writes) send(ctx context.Context, q batchSender) error {
	var b pgx.Batch
	if w.queue(&b); b.Len() == 0 {
		return nil
	}
	return q.SendBatch(ctx, &b).Close()
}

// statement is the one statement: $1 the ids, $2 the revs they must
// still have, then the changed columns in leadCasts' order, then the
// history entries' five columns and the feed items' ten. It answers how
// many leads it updated: all, or it fails with serialization_failure
// (leads_written, migration 008) and writes nothing. The UPDATE takes the
// leads' row locks itself, in id order as the plans seen run it (not a
// promise of PostgreSQL's: a deadlock with another batch, 40P01, is
// retried through the locked path like a conflict), and a lead another
// writer moved on since the batch read it no longer matches its rev
// (PostgreSQL rechecks the WHERE on the newest version of a row it
// waited for).
func (w *writes) statement() string {
	var set, types, names []string
	n := 2
	for i, c := range leadCasts {
		if i == 0 || w.columns&(1<<i) == 0 {
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
	FROM (SELECT * FROM unnest($1::bigint[], $2::integer[], %s) AS u(id, from_rev, %s) ORDER BY id) AS u
	WHERE l.id = u.id AND l.rev = u.from_rev
	RETURNING l.id
), n AS (
	SELECT leads_written(count(*), cardinality($1::bigint[])) AS n FROM u
), h AS (
	INSERT INTO history (lead_id, rev, at, by, changes)
	SELECT * FROM unnest($%d::bigint[], $%d::integer[], $%d::timestamptz[], $%d::text[], $%d::text[]::jsonb[])
	WHERE (SELECT n FROM n) > 0
), f AS (
	INSERT INTO feed_items (feed, lead_id, rev, offer, from_status, to_status, reason, approved, at, by)
	SELECT * FROM unnest($%d::text[], $%d::bigint[], $%d::integer[], $%d::text[], $%d::smallint[], $%d::smallint[],
		$%d::integer[], $%d::boolean[], $%d::timestamptz[], $%d::text[])
	WHERE (SELECT n FROM n) > 0
)
SELECT n FROM n`, strings.Join(set, ", "), strings.Join(types, ", "), strings.Join(names, ", "),
		p(1), p(2), p(3), p(4), p(5), p(6), p(7), p(8), p(9), p(10), p(11), p(12), p(13), p(14), p(15))
}

// args are the statement's arguments.
func (w *writes) args() []any {
	out := []any{w.leads.id, w.from}
	for i := 1; i < len(leadCasts); i++ {
		if w.columns&(1<<i) != 0 {
			out = append(out, w.leads.column(i))
		}
	}
	h, it := &w.history, &w.items
	return append(out, h.lead, h.rev, h.at, h.by, h.changes,
		it.feed, it.lead, it.rev, it.offer, it.from, it.to, it.reason, it.approved, it.at, it.by)
}

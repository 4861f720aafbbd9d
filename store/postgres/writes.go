package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"leadhost/store"
)

// writes gathers a transaction's changes to leads and sends them as three
// set-based statements (the leads' rows, their history entries, their
// feed items) in one round trip, however many leads: a status-check
// batch of 1,000 edits is three statements, not 2,000. It also keeps the
// events to publish once the transaction commits.
type writes struct {
	leads   leadRows
	history historyRows
	items   itemRows
	events  []store.Event
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

// writeLead queues a lead's new state: the row, one history entry per
// change, and an event, with its feed items, per status change.
func (s *Store) writeLead(w *writes, n *store.Lead, changes []store.Change, events []store.Event) {
	w.leads.add(n)
	h := &w.history
	for _, c := range changes {
		b, _ := json.Marshal(c.Fields)
		h.lead = append(h.lead, int64(n.ID))
		h.rev = append(h.rev, int32(c.Rev))
		h.at = append(h.at, c.At)
		h.by = append(h.by, c.By)
		h.changes = append(h.changes, string(b))
	}
	it := &w.items
	for _, ev := range events {
		w.events = append(w.events, ev)
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

// send writes what was queued, in one round trip.
func (w *writes) send(ctx context.Context, tx pgx.Tx) error {
	var b pgx.Batch
	if r := &w.leads; len(r.id) > 0 {
		// Each lead once: a transaction writes a lead's final state.
		b.Queue(`UPDATE leads AS l SET offer = u.offer, ext = u.ext, status = u.status, bucket = u.bucket, reason = u.reason,
			hold_until = u.hold_until, comment = u.comment, base = u.base, counts = u.counts, curr = u.curr, goal = u.goal,
			track = u.track, cash_wm = u.cash_wm, cash_pay = u.cash_pay, cash_ref = u.cash_ref, cash_cc = u.cash_cc,
			fields = u.fields, created = u.created, updated = u.updated, accepted_at = u.accepted_at, rev = u.rev
			FROM unnest($1::bigint[], $2::text[], $3::text[], $4::smallint[], $5::smallint[], $6::integer[],
				$7::timestamptz[], $8::text[], $9::text[]::numeric[], $10::integer[], $11::integer[], $12::bigint[], $13::text[],
				$14::text[]::numeric[], $15::text[]::numeric[], $16::text[]::numeric[], $17::integer[], $18::text[]::jsonb[],
				$19::timestamptz[], $20::timestamptz[], $21::timestamptz[], $22::integer[])
			AS u(id, offer, ext, status, bucket, reason, hold_until, comment, base, counts, curr, goal, track,
				cash_wm, cash_pay, cash_ref, cash_cc, fields, created, updated, accepted_at, rev)
			WHERE l.id = u.id`, r.args()...)
	}
	if h := &w.history; len(h.lead) > 0 {
		b.Queue(`INSERT INTO history (lead_id, rev, at, by, changes)
			SELECT * FROM unnest($1::bigint[], $2::integer[], $3::timestamptz[], $4::text[], $5::text[]::jsonb[])`,
			h.lead, h.rev, h.at, h.by, h.changes)
	}
	if it := &w.items; len(it.lead) > 0 {
		b.Queue(`INSERT INTO feed_items (feed, lead_id, rev, offer, from_status, to_status, reason, approved, at, by)
			SELECT * FROM unnest($1::text[], $2::bigint[], $3::integer[], $4::text[], $5::smallint[], $6::smallint[],
				$7::integer[], $8::boolean[], $9::timestamptz[], $10::text[])`,
			it.feed, it.lead, it.rev, it.offer, it.from, it.to, it.reason, it.approved, it.at, it.by)
	}
	if b.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, &b).Close()
}

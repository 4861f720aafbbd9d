package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"leadhost/store"
)

// batch is the PostgreSQL Batch: each Edit is checked against the lead as
// the batch first read it (plus its own edits); Commit locks the batch's
// leads in one transaction and writes what Edit computed for each lead
// nobody changed meanwhile, re-applying the patches to the others.
type batch struct {
	s     *Store
	leads map[uint64]*batchLead
	order []uint64 // leads with edits, in the order first edited
	edits int
	done  bool
}

type batchLead struct {
	base    *store.Lead // as the batch first read it
	cur     *store.Lead // with the recorded patches applied
	patches []store.Patch
	changes []store.Change
	events  []store.Event
}

// NewBatch starts a batch. Call Commit or Discard when done.
func (s *Store) NewBatch() store.Batch {
	return &batch{s: s, leads: make(map[uint64]*batchLead)}
}

// Seed hands the batch leads just read, so that editing them needs no
// second read. Leads the batch already holds are kept as they are.
func (b *batch) Seed(leads []*store.Lead) {
	for _, l := range leads {
		if b.leads[l.ID] == nil {
			b.leads[l.ID] = &batchLead{base: l, cur: l}
		}
	}
}

// Get returns a lead as the batch sees it.
func (b *batch) Get(id uint64) (*store.Lead, error) {
	bl, err := b.lead(id)
	if err != nil {
		return nil, err
	}
	return bl.cur.Clone(), nil
}

func (b *batch) lead(id uint64) (*batchLead, error) {
	if b.done {
		return nil, fmt.Errorf("batch already committed or discarded: %w", store.ErrInvalid)
	}
	if bl := b.leads[id]; bl != nil {
		return bl, nil
	}
	r, err := getLead(context.Background(), b.s.pool, id, "")
	if err != nil {
		return nil, dbError(err)
	}
	bl := &batchLead{base: r.Lead, cur: r.Lead}
	b.leads[id] = bl
	return bl, nil
}

// Edit checks p against the lead as the batch sees it and records it;
// the error, if any, is the one Store.Edit would give. A patch that
// changes nothing is not recorded.
func (b *batch) Edit(id uint64, p store.Patch) error {
	bl, err := b.lead(id)
	if err != nil {
		return fmt.Errorf("edit lead %d: %w", id, err)
	}
	ctx := context.Background()
	now := b.s.clock()
	res, err := store.ApplyPatch(bl.cur, &p, b.s.env(ctx, b.s.pool, bl.cur.Offer, now))
	if err == nil && res.Lead.Ext != bl.cur.Ext && res.Lead.Ext != "" {
		err = b.extFree(ctx, res.Lead)
	}
	if err != nil {
		return fmt.Errorf("edit: %w", dbError(err))
	}
	if len(res.Changes) == 0 {
		return nil
	}
	if len(bl.patches) == 0 {
		b.order = append(b.order, id)
	}
	by := byOrAPI(p.By)
	if ev, ok := store.StatusEvent(bl.cur.Status, res.Lead, res.Approved, now, by); ok {
		bl.events = append(bl.events, ev)
	}
	bl.patches = append(bl.patches, p)
	bl.changes = append(bl.changes, store.Change{Rev: res.Lead.Rev, At: now, By: by, Fields: res.Changes})
	bl.cur = res.Lead
	b.edits++
	return nil
}

// extFree checks l's new ext against the batch's leads and the store; a
// lead of the batch that gives the ext up leaves it free.
func (b *batch) extFree(ctx context.Context, l *store.Lead) error {
	for id, bl := range b.leads {
		if id != l.ID && bl.cur.Offer == l.Offer && bl.cur.Ext == l.Ext {
			return fmt.Errorf("lead %d: offer %q already has ext %q (lead %d): %w", l.ID, l.Offer, l.Ext, id, store.ErrExists)
		}
	}
	other, err := b.extTaken(ctx, b.s.pool, l)
	if err != nil || other == 0 {
		return err
	}
	return fmt.Errorf("lead %d: offer %q already has ext %q (lead %d): %w", l.ID, l.Offer, l.Ext, other, store.ErrExists)
}

// extTaken is the lead outside the batch's plans that has l's ext in q
// (0: none): a lead of the batch that gives the ext up does not count.
func (b *batch) extTaken(ctx context.Context, q querier, l *store.Lead) (uint64, error) {
	other, err := extHolder(ctx, q, l.Offer, l.Ext)
	if err != nil || other == 0 || other == l.ID {
		return 0, err
	}
	if bl := b.leads[other]; bl != nil && bl.cur.Ext != l.Ext {
		return 0, nil // that lead gives the ext up in this batch
	}
	return other, nil
}

// Len returns the number of recorded edits.
func (b *batch) Len() int { return b.edits }

// Changes lists the recorded edits in the order they were made per lead.
func (b *batch) Changes() []store.BatchChange {
	out := make([]store.BatchChange, 0, b.edits)
	for _, id := range b.order {
		for _, c := range b.leads[id].changes {
			out = append(out, store.BatchChange{LeadID: id, By: c.By, Fields: c.Fields})
		}
	}
	return out
}

// Discard drops the batch: nothing is written.
func (b *batch) Discard() { b.done = true }

// Commit writes every recorded edit in one transaction, applying each
// lead's patches to the lead as it is now: whole or not at all. A patch
// that no longer fits the lead (another writer changed it since) is
// skipped and listed in Refused. Exts may move between the batch's leads
// (the uniqueness of an offer's exts is checked at commit).
func (b *batch) Commit(ctx context.Context) (store.CommitResult, error) {
	if b.done {
		return store.CommitResult{}, fmt.Errorf("batch already committed or discarded: %w", store.ErrInvalid)
	}
	b.done = true
	var res store.CommitResult
	if b.edits == 0 {
		return res, ctx.Err()
	}
	if !b.movesExts() {
		res, events, done, err := b.commitAsRead(ctx)
		if done || (err != nil && !conflict(err)) {
			if err != nil {
				return store.CommitResult{}, fmt.Errorf("commit batch: %w", dbError(err))
			}
			b.s.publish(events)
			return res, nil
		}
	}
	ids := make([]int64, len(b.order))
	for i, id := range b.order {
		ids[i] = int64(id)
	}
	slices.Sort(ids) // locked in id order: two batches never wait on each other in a circle
	var w *writes
	err := b.s.inTx(ctx, func(tx pgx.Tx) error {
		res, w = store.CommitResult{}, &writes{}
		return b.commitLocked(ctx, tx, ids, w, &res)
	})
	if err != nil {
		if errors.Is(err, store.ErrExists) {
			err = fmt.Errorf("two leads of an offer would have one ext: %w", err)
		}
		return store.CommitResult{}, fmt.Errorf("commit batch: %w", err)
	}
	b.s.publish(w.events)
	return res, nil
}

// movesExts says whether an edit gives a lead a new ext.
func (b *batch) movesExts() bool {
	for _, id := range b.order {
		if bl := b.leads[id]; bl.cur.Ext != bl.base.Ext && bl.cur.Ext != "" {
			return true
		}
	}
	return false
}

// commitAsRead commits a batch whose edits give no lead a new ext in one
// round trip, when nobody else wrote its leads since it read them: one
// statement, its own implicit transaction, that locks the leads in id
// order and writes what Edit computed if every lead is still at the
// revision the batch read. When one was not, nothing is written and the
// error is a conflict: then the batch is committed with its leads read
// under their locks (commitLocked).
func (b *batch) commitAsRead(ctx context.Context) (res store.CommitResult, events []store.Event, done bool, err error) {
	if err := b.s.alive(ctx); err != nil {
		return res, nil, false, err
	}
	w := &writes{}
	for _, id := range b.order {
		bl := b.leads[id]
		b.s.writeLead(w, bl.base, bl.cur, bl.changes, bl.events)
	}
	if err := w.send(ctx, b.s.pool); err != nil || len(w.leads.id) == 0 {
		return res, nil, false, err
	}
	return store.CommitResult{Leads: len(b.order), Edits: b.edits}, w.events, true, nil
}

// commitLocked is a commit that may move exts between the batch's
// leads: it locks and reads every lead first, and checks each new ext
// against the store, with the uniqueness of exts checked at commit.
func (b *batch) commitLocked(ctx context.Context, tx pgx.Tx, ids []int64, w *writes, res *store.CommitResult) error {
	if _, err := tx.Exec(ctx, `SET CONSTRAINTS leads_offer_ext DEFERRED`); err != nil {
		return err
	}
	now, err := scanLeads(tx.Query(ctx, `SELECT `+leadColumns+` FROM leads WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids))
	if err != nil {
		return err
	}
	current := make(map[uint64]*store.Lead, len(now))
	for _, l := range now {
		current[l.ID] = l
	}
	for _, id := range b.order {
		bl := b.leads[id]
		cur := current[id]
		// Nobody wrote the lead since the batch read it, and its new
		// ext, if any, is still free: what Edit computed is what
		// applying the patches now would give.
		fast := cur != nil && cur.Rev == bl.base.Rev
		if fast && bl.cur.Ext != bl.base.Ext && bl.cur.Ext != "" {
			other, err := b.extTaken(ctx, tx, bl.cur)
			if err != nil {
				return err
			}
			fast = other == 0
		}
		switch {
		case cur == nil:
			res.Refused = append(res.Refused, &store.RefusedEdit{LeadID: id, Err: fmt.Errorf("lead %d: deleted meanwhile: %w", id, store.ErrNotFound)})
		case fast:
			b.s.writeLead(w, cur, bl.cur, bl.changes, bl.events)
			res.Leads++
			res.Edits += len(bl.patches)
		default:
			if err := b.reapply(ctx, tx, w, cur, res); err != nil {
				return err
			}
		}
	}
	return w.send(ctx, tx)
}

// reapply applies the batch's patches of a lead to it as it is now,
// locked in tx, and queues the result in w.
func (b *batch) reapply(ctx context.Context, tx pgx.Tx, w *writes, cur *store.Lead, res *store.CommitResult) error {
	final, n, errs, err := b.s.applyAll(ctx, tx, w, cur, b.leads[cur.ID].patches)
	if err != nil {
		return err
	}
	if final != cur {
		res.Leads++
	}
	res.Edits += n
	for _, e := range errs {
		if e != nil {
			res.Refused = append(res.Refused, &store.RefusedEdit{LeadID: cur.ID, Err: e})
		}
	}
	return nil
}

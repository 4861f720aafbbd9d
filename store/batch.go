package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Edit applies one patch to a lead under SPEC §1's rules and returns the
// lead as stored. It is on disk when Edit returns. Errors wrap ErrNotFound,
// ErrInvalid, ErrRefused or ErrExists, and leave the lead untouched. An edit
// that changes nothing writes nothing and fires no event.
func (s *Badger) Edit(ctx context.Context, id uint64, p Patch) (*Lead, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var (
		result  *Lead
		refusal error
	)
	op := newOp(func(w *stepWriter) error {
		cur, err := readLead(w, id)
		if err != nil {
			return err
		}
		if cur == nil {
			result, refusal = nil, fmt.Errorf("lead %d: %w", id, ErrNotFound)
			return nil
		}
		final, _, errs, err := s.applyAll(w, cur, []Patch{p})
		result, refusal = final, errs[0]
		return err
	})
	if err := s.commit.do(op); err != nil {
		return nil, fmt.Errorf("edit lead %d: %w", id, err)
	}
	if refusal != nil {
		return nil, fmt.Errorf("edit: %w", refusal)
	}
	return result.Clone(), nil
}

// applyAll applies patches to cur in order inside a step and records the
// writes. A patch that breaks a rule is skipped (its error is in errs); the
// others apply. It returns the final lead.
func (s *Badger) applyAll(w *stepWriter, cur *Lead, patches []Patch) (*Lead, int, []error, error) {
	now := s.now().UTC()
	env := s.envFor(w, cur.Offer, now)
	old := cur
	errs := make([]error, len(patches))
	var (
		changes []Change
		events  []Event
		applied int
	)
	for i := range patches {
		p := &patches[i]
		res, err := applyPatch(cur, p, env)
		if err == nil && res.lead.Ext != cur.Ext {
			err = checkExtFree(w, res.lead)
		}
		if err != nil {
			errs[i] = err
			continue
		}
		if len(res.changes) == 0 {
			continue
		}
		by := p.By
		if by == "" {
			by = "api"
		}
		changes = append(changes, Change{Rev: res.lead.Rev, At: now, By: by, Fields: res.changes})
		if ev, ok := statusEvent(cur.Status, res.lead, res.approved, now, by); ok {
			events = append(events, ev)
		}
		cur = res.lead
		applied++
	}
	if len(changes) > 0 {
		s.writeLead(w, old, cur, changes, events)
	}
	return cur, applied, errs, nil
}

func checkExtFree(w *stepWriter, l *Lead) error {
	v, ok, err := w.get(extKey(l.Offer, l.Ext))
	if err != nil || !ok {
		return err
	}
	if id, _ := readID(v); id != l.ID {
		return fmt.Errorf("lead %d: offer %q already has ext %q (lead %d): %w", l.ID, l.Offer, l.Ext, id, ErrExists)
	}
	return nil
}

// badgerBatch is Badger's Batch: edits are checked against a read
// snapshot and land through the committer.
type badgerBatch struct {
	s     *Badger
	env   *batchEnv
	seq   uint64 // transactions committed before read was opened
	read  *badger.Txn
	leads map[uint64]*batchLead
	order []uint64
	edits int
	done  bool
}

type batchLead struct {
	seq     uint64 // committer groups landed before base was read
	base    *Lead  // as the batch first read it
	cur     *Lead  // with the recorded patches applied
	patches []Patch
	changes []Change // what each recorded patch changed
	events  []Event
}

// BatchChange is one recorded edit, as a dry run shows it.
type BatchChange struct {
	LeadID uint64        `json:"lead_id"`
	By     string        `json:"by"`
	Fields []FieldChange `json:"changes"`
}

// RefusedEdit is a patch Commit skipped, and the lead it was for.
type RefusedEdit struct {
	LeadID uint64
	Err    error
}

func (e *RefusedEdit) Error() string { return e.Err.Error() }

// Unwrap gives the rule's error (ErrRefused, ErrExists, ErrNotFound …).
func (e *RefusedEdit) Unwrap() error { return e.Err }

// CommitResult tells what Commit did. Refused lists patches that had passed
// Batch.Edit but broke a rule against the lead as it was at commit time
// (another writer changed it in between); they were skipped. Each is a
// *RefusedEdit.
type CommitResult struct {
	Leads   int     // leads written
	Edits   int     // patches applied
	Refused []error // patches skipped at commit
}

// NewBatch starts a batch. Call Commit or Discard when done.
func (s *Badger) NewBatch() Batch {
	// The read transaction opens on the first read: a hook that edits
	// nothing never pays for one.
	return &badgerBatch{s: s, seq: s.commit.committed.Load(), leads: make(map[uint64]*batchLead)}
}

// reader is the batch's snapshot, opened on first use. Opened later than
// NewBatch, it may hold writes seq does not count: leads read through it
// are then only re-checked at commit, never wrong.
func (b *badgerBatch) reader() *badger.Txn {
	if b.read == nil {
		if len(b.leads) == 0 {
			b.seq = b.s.commit.committed.Load()
		}
		b.read = b.s.db.NewTransaction(false)
	}
	return b.read
}

// Seed hands the batch leads the caller has just read (a page of List),
// so that editing them needs no second read. They must have been read
// after NewBatch returned: the batch then counts any write since it
// began as possibly unseen and re-applies its patches at commit, which
// keeps a lead that changed in between right. Leads the batch already
// holds are kept as they are.
func (b *badgerBatch) Seed(leads []*Lead) {
	for _, l := range leads {
		if b.leads[l.ID] == nil {
			b.leads[l.ID] = &batchLead{seq: b.seq, base: l, cur: l}
		}
	}
}

// Get returns a lead as the batch sees it.
func (b *badgerBatch) Get(id uint64) (*Lead, error) {
	bl, err := b.lead(id)
	if err != nil {
		return nil, err
	}
	return bl.cur.Clone(), nil
}

func (b *badgerBatch) lead(id uint64) (*batchLead, error) {
	if b.done {
		return nil, fmt.Errorf("batch already committed or discarded: %w", ErrInvalid)
	}
	if bl := b.leads[id]; bl != nil {
		return bl, nil
	}
	l, err := getLead(b.reader(), id)
	if errors.Is(err, ErrNotFound) {
		// The snapshot predates leads added since the batch began (a hook
		// that adds a lead and then edits it); look again in a fresh one.
		b.read.Discard()
		b.seq = b.s.commit.committed.Load()
		b.read = b.s.db.NewTransaction(false)
		l, err = getLead(b.read, id)
	}
	if err != nil {
		return nil, err
	}
	bl := &batchLead{seq: b.seq, base: l, cur: l}
	b.leads[id] = bl
	return bl, nil
}

// Edit checks p against the lead as the batch sees it and records it. The
// error, if any, is the one Store.Edit would give, and the batch goes on
// either way. A patch that changes nothing is not recorded.
func (b *badgerBatch) Edit(id uint64, p Patch) error {
	bl, err := b.lead(id)
	if err != nil {
		return fmt.Errorf("edit lead %d: %w", id, err)
	}
	now := b.s.now().UTC()
	if b.env == nil || b.env.policyOffer != bl.cur.Offer {
		b.env = &batchEnv{policyOffer: bl.cur.Offer, editEnv: editEnv{policy: b.s.policy(bl.cur.Offer),
			reasons: b.s.reasons, goalCode: b.goalCode, goalID: b.goalID}}
	}
	b.env.now = now
	res, err := applyPatch(bl.cur, &p, &b.env.editEnv)
	if err == nil && res.lead.Ext != bl.cur.Ext {
		err = b.extFree(res.lead)
	}
	if err != nil {
		return fmt.Errorf("edit: %w", err)
	}
	if len(res.changes) == 0 {
		return nil
	}
	if len(bl.patches) == 0 {
		b.order = append(b.order, id)
	}
	by := p.By
	if by == "" {
		by = "api"
	}
	if ev, ok := statusEvent(bl.cur.Status, res.lead, res.approved, now, by); ok {
		bl.events = append(bl.events, ev)
	}
	bl.patches = append(bl.patches, p)
	bl.changes = append(bl.changes, Change{Rev: res.lead.Rev, At: now, By: by, Fields: res.changes})
	bl.cur = res.lead
	b.edits++
	return nil
}

// batchEnv caches the edit environment of the offer last edited: a batch
// usually holds one offer's leads.
type batchEnv struct {
	editEnv
	policyOffer string
}

// goalCode is the code of an offer's goal id, read in the batch or, for
// a goal defined since the batch began, in the store.
func (b *badgerBatch) goalCode(offer string, goal uint32) (string, bool, error) {
	v, ok, err := b.lookup(goalIDKey(offer, goal))
	return string(v), ok, err
}

// goalID is the id of an offer's goal code.
func (b *badgerBatch) goalID(offer, code string) (uint32, bool, error) {
	v, ok, err := b.lookup(goalKey(offer, code))
	if err != nil || !ok {
		return 0, ok, err
	}
	id, err := goalIDFrom(code, v)
	return id, err == nil, err
}

// lookup reads key in the batch's view, and then in the store as it is
// now (a goal defined after the batch began).
func (b *badgerBatch) lookup(key []byte) ([]byte, bool, error) {
	v, ok, err := getValue(b.reader(), key)
	if err == nil && !ok {
		err = b.s.db.View(func(txn *badger.Txn) error {
			v, ok, err = getValue(txn, key)
			return err
		})
	}
	return v, ok, err
}

func (b *badgerBatch) extFree(l *Lead) error {
	for id, bl := range b.leads {
		if id != l.ID && bl.cur.Offer == l.Offer && bl.cur.Ext == l.Ext {
			return fmt.Errorf("lead %d: offer %q already has ext %q (lead %d): %w", l.ID, l.Offer, l.Ext, id, ErrExists)
		}
	}
	v, ok, err := getValue(b.reader(), extKey(l.Offer, l.Ext))
	if err != nil || !ok {
		return err
	}
	if id, _ := readID(v); id != l.ID {
		if other := b.leads[id]; other != nil && other.cur.Ext != l.Ext {
			return nil // that lead gives the ext up in this batch
		}
		return fmt.Errorf("lead %d: offer %q already has ext %q (lead %d): %w", l.ID, l.Offer, l.Ext, id, ErrExists)
	}
	return nil
}

// extOrder orders the batch's leads so that a lead taking over an ext
// another lead of the batch gives up comes after that lead: each step then
// finds the ext free. A cycle (two leads swapping exts) cannot be ordered:
// its first lead takes its ext from the lead still holding it
// (extTakable).
func (b *badgerBatch) extOrder() []uint64 {
	releasedBy := make(map[string]uint64)
	for _, id := range b.order {
		if bl := b.leads[id]; bl.base.Ext != "" && bl.cur.Ext != bl.base.Ext {
			releasedBy[bl.base.Ext] = id
		}
	}
	if len(releasedBy) == 0 {
		return b.order
	}
	order := make([]uint64, 0, len(b.order))
	placed := make(map[uint64]bool, len(b.order))
	var place func(id uint64)
	place = func(id uint64) {
		if placed[id] {
			return
		}
		placed[id] = true // before recursing, so that a cycle ends here
		if bl := b.leads[id]; bl.cur.Ext != bl.base.Ext {
			if other, ok := releasedBy[bl.cur.Ext]; ok && other != id {
				place(other)
			}
		}
		order = append(order, id)
	}
	for _, id := range b.order {
		place(id)
	}
	return order
}

// extTakable says whether lead id of the batch may take its new ext at
// commit: the ext is free, or held by another lead of the batch that
// gives it up and that nobody changed since the batch read it — that
// lead's own step, later in this commit, then writes it as the batch saw
// it, and its new ext must be takable in turn (a chain), unless it is
// one a lead of the chain gives up (a cycle: two leads swapping exts
// through a third). Steps of one commit run one after another in the
// committer, so nothing comes in between.
func (b *badgerBatch) extTakable(w *stepWriter, id uint64) error {
	return b.takable(w, id, map[uint64]bool{})
}

func (b *badgerBatch) takable(w *stepWriter, id uint64, chain map[uint64]bool) error {
	bl := b.leads[id]
	chain[id] = true
	if bl.cur.Ext == "" {
		return nil
	}
	v, ok, err := w.get(extKey(bl.cur.Offer, bl.cur.Ext))
	if err != nil || !ok {
		return err
	}
	holder, err := readID(v)
	if err != nil || holder == id {
		return err
	}
	taken := fmt.Errorf("lead %d: offer %q already has ext %q (lead %d): %w", id, bl.cur.Offer, bl.cur.Ext, holder, ErrExists)
	hb := b.leads[holder]
	if hb == nil || hb.cur.Ext == bl.cur.Ext {
		return taken
	}
	if b.s.commit.writtenSince(holder, hb.seq) {
		raw, ok, err := w.get(leadKey(holder))
		if err != nil {
			return err
		}
		if rev, rerr := leadRev(raw); !ok || rerr != nil || rev != hb.base.Rev {
			return taken // changed meanwhile: its own step decides what it holds
		}
	}
	if chain[holder] {
		return nil
	}
	return b.takable(w, holder, chain)
}

// Len returns the number of recorded edits.
func (b *badgerBatch) Len() int { return b.edits }

// Changes lists the recorded edits in the order they were made per lead.
func (b *badgerBatch) Changes() []BatchChange {
	out := make([]BatchChange, 0, b.edits)
	for _, id := range b.order {
		for _, c := range b.leads[id].changes {
			out = append(out, BatchChange{LeadID: id, By: c.By, Fields: c.Fields})
		}
	}
	return out
}

// Discard drops the batch: nothing is written.
func (b *badgerBatch) Discard() {
	if !b.done {
		b.done = true
		if b.read != nil {
			b.read.Discard()
		}
	}
}

// Commit writes every recorded edit, applying each lead's patches to the
// lead as it is now, and returns once all of it is on disk. The batch
// lands whole or not at all, crash or not (SPEC §1). One that fits a
// Badger transaction (about 1.9 MB of writes: a few thousand small edits,
// ~700 of leads with 2.5 KB of fields) is one transaction. A larger one
// is first written whole as a recovery record, then applied in as few
// transactions as needed, cut between leads; a crash in between is
// finished by the next Open (redo.go). Readers may see part of it for the
// milliseconds that takes; other writers never do.
func (b *badgerBatch) Commit(ctx context.Context) (CommitResult, error) {
	if b.done {
		return CommitResult{}, fmt.Errorf("batch already committed or discarded: %w", ErrInvalid)
	}
	b.Discard()
	if err := ctx.Err(); err != nil {
		return CommitResult{}, err
	}
	var res CommitResult
	if b.edits == 0 {
		return res, nil
	}
	order := b.extOrder()
	steps := make([]step, len(order))
	outcomes := make([]struct {
		written bool
		edits   int
		refused []error
	}, len(order))
	for i, id := range order {
		bl := b.leads[id]
		patches := bl.patches
		out := &outcomes[i]
		steps[i] = func(w *stepWriter) error {
			*out = struct {
				written bool
				edits   int
				refused []error
			}{}
			// Nobody wrote the lead since the batch read it: what Edit
			// computed is what applying the patches now would give.
			if !b.s.commit.writtenSince(id, bl.seq) && (bl.cur.Ext == bl.base.Ext || b.extTakable(w, id) == nil) {
				b.s.writeLead(w, bl.base, bl.cur, bl.changes, bl.events)
				out.written, out.edits = true, len(patches)
				return nil
			}
			raw, ok, err := w.get(leadKey(id))
			if err != nil {
				return err
			}
			if !ok {
				out.refused = append(out.refused, &RefusedEdit{LeadID: id, Err: fmt.Errorf("lead %d: deleted meanwhile: %w", id, ErrNotFound)})
				return nil
			}
			rev, err := leadRev(raw)
			if err != nil {
				return err
			}
			if rev == bl.base.Rev && (bl.cur.Ext == bl.base.Ext || b.extTakable(w, id) == nil) {
				b.s.writeLead(w, bl.base, bl.cur, bl.changes, bl.events)
				out.written, out.edits = true, len(patches)
				return nil
			}
			cur, err := decodeLead(raw)
			if err != nil {
				return err
			}
			final, n, errs, err := b.s.applyAll(w, cur, patches)
			out.written, out.edits = final != cur, n
			for _, e := range errs {
				if e != nil {
					out.refused = append(out.refused, &RefusedEdit{LeadID: id, Err: e})
				}
			}
			return err
		}
	}
	err := b.s.commit.do(newOp(steps...))
	for _, o := range outcomes {
		if o.written {
			res.Leads++
		}
		res.Edits += o.edits
		res.Refused = append(res.Refused, o.refused...)
	}
	if err != nil {
		return res, fmt.Errorf("commit batch: %w", err)
	}
	return res, nil
}

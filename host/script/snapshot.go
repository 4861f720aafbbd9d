package script

import "leadhost/store"

// snapshotBatch is a run's batch that keeps each lead as the run first
// read it, before any edit of its own: a live hook's snapshot, with which
// the candidate's shadow run is seeded so that
// it starts from the leads the live run found, not from what the live
// run committed. Without it a candidate identical to the live version
// found the edit already made, made none, and differed on every call.
// (Hook.Seed, HookResult.Read.)
type snapshotBatch struct {
	store.Batch
	read []*store.Lead
	seen map[uint64]bool
}

// newSnapshotBatch wraps b; its map is made at the first lead read, so
// that a hook that reads none (most only add) pays nothing for it.
func newSnapshotBatch(b store.Batch) *snapshotBatch {
	return &snapshotBatch{Batch: b}
}

// look marks id as looked for and says whether it was before.
func (b *snapshotBatch) look(id uint64) (before bool) {
	if b.seen == nil {
		b.seen = map[uint64]bool{}
	}
	before = b.seen[id]
	b.seen[id] = true
	return before
}

// first reads the lead into the batch, if the run has not yet, and keeps
// it as it was then.
func (b *snapshotBatch) first(id uint64) {
	if b.look(id) { // found or not: looked for once
		return
	}
	l, err := b.Batch.Get(id)
	if err != nil {
		return // not found: the run's own Get or Edit says so
	}
	b.read = append(b.read, l)
}

// Seed keeps the leads handed over as read: they are the run's start.
func (b *snapshotBatch) Seed(leads []*store.Lead) {
	for _, l := range leads {
		if !b.look(l.ID) {
			b.read = append(b.read, l.Clone())
		}
	}
	b.Batch.Seed(leads)
}

// Get returns the lead as the batch sees it, keeping it first.
func (b *snapshotBatch) Get(id uint64) (*store.Lead, error) {
	b.first(id)
	return b.Batch.Get(id)
}

// Edit records p, keeping the lead as it was before the run's first edit.
func (b *snapshotBatch) Edit(id uint64, p store.Patch) error {
	b.first(id)
	return b.Batch.Edit(id, p)
}

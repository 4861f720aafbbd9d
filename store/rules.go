package store

import "time"

// The lead model's rules as a backend other than Badger (store/postgres)
// applies them: thin exported doors to the one implementation of each
// rule in this package, so that no backend keeps a copy that could
// drift. Badger calls the unexported functions directly.

// EditEnv is what ApplyPatch needs besides the lead and the patch: the
// time of the edit, the offer's policy, the reasons, and how to look up
// the offer's goals in the backend (ok false: no such goal).
type EditEnv struct {
	Now      time.Time
	Policy   OfferPolicy
	Reasons  *ReasonTable
	GoalCode func(offer string, goal uint32) (code string, ok bool, err error)
	GoalID   func(offer, code string) (goal uint32, ok bool, err error)
}

// Applied is the outcome of ApplyPatch: the lead after the edit (the
// old one, unchanged, when the edit changes nothing), the history entry's
// field changes, and whether this edit approved the lead.
type Applied struct {
	Lead     *Lead
	Changes  []FieldChange
	Approved bool
}

// ApplyPatch applies p to old under SPEC §1's edit rules (applyPatch). It
// never changes old; a broken rule is an error wrapping ErrRefused,
// ErrInvalid or ErrNotFound, and an edit that changes nothing gives no
// changes. Whether a new ext is free is the backend's to check.
func ApplyPatch(old *Lead, p *Patch, env EditEnv) (Applied, error) {
	res, err := applyPatch(old, p, &editEnv{now: env.Now, policy: env.Policy, reasons: env.Reasons,
		goalCode: env.GoalCode, goalID: env.GoalID})
	return Applied{Lead: res.lead, Changes: res.changes, Approved: res.approved}, err
}

// BuildLead validates nl and makes the lead it describes, without its id
// (NewLead.build): what Add stores.
func BuildLead(nl *NewLead, now time.Time, policy OfferPolicy, reasons *ReasonTable) (*Lead, error) {
	return nl.build(now, policy, reasons)
}

// StatusEvent is the event of a lead's move from status from to l (its
// creation when from is 0), and false when the move is none (same status,
// no approval).
func StatusEvent(from Status, l *Lead, approved bool, at time.Time, by string) (Event, bool) {
	return statusEvent(from, l, approved, at, by)
}

// CreationChange is history entry 1 of lead l, added by by at at, derived
// from l and its later entries (oldest first): a backend need not store
// the creation (history.go).
func CreationChange(l *Lead, by string, at time.Time, later []Change) Change {
	c := *l
	c.addedBy, c.addedAt = by, at
	return creationChange(&c, later)
}

// CheckName validates a name that keys an index (an offer, an ext, an
// idempotency key, a goal code, a feed): not empty, at most 256 bytes,
// UTF-8 without NUL.
func CheckName(what, name string) error { return checkName(what, name) }

// CapJournalEntry cuts an entry to what the journal keeps: request and
// response bodies, the script's lines, a detail past 256 KiB.
func CapJournalEntry(e JournalEntry) JournalEntry {
	e.Request = capBody(e.Request)
	e.Response = capBody(e.Response)
	e.Logs = capLogs(e.Logs)
	if len(e.Detail) > maxJournalDetail {
		e.Detail, e.Summary = nil, e.Summary+" (detail over 256 KiB left out)"
	}
	return e
}

// StatusBucket is the part of the offer+status index a status is filed
// under (1..6, 0 for an invalid status): the statuses one check mode
// reads share a bucket, and List with an offer orders leads by bucket,
// then creation time, then id.
func StatusBucket(s Status) int { return int(s.bucket()) }

// Page sizes of List and JournalList: the default, and the most one page
// may hold.
const (
	DefaultPageSize = defaultPageSize
	MaxPageSize     = maxPageSize
)

package store

import (
	"context"
	"time"
)

// Store is a lead database as host and api use it, whichever backend
// keeps it: Badger (Open; embedded, the default) or PostgreSQL
// (store/postgres). The lead model and the edit rules are this
// package's, shared by every backend; a backend makes them durable and
// keeps the indexes the status checks read. Every method is safe for
// concurrent use, and a write returns only once it is durable.
//
// What differs between backends (Badger's Backup, its CommitStats) is
// not here: a caller that needs it asks for it with a type assertion.
type Store interface {
	// Add creates a lead, or returns the one the same idempotency key
	// made before (created false).
	Add(ctx context.Context, nl NewLead) (l *Lead, created bool, err error)
	// Edit applies one patch under the edit rules (SPEC §1).
	Edit(ctx context.Context, id uint64, p Patch) (*Lead, error)
	// NewBatch starts edits that land together or not at all.
	NewBatch() Batch

	// Get returns a lead without its history (ErrNotFound).
	Get(ctx context.Context, id uint64) (*Lead, error)
	// History returns every change of a lead, oldest first.
	History(ctx context.Context, id uint64) ([]Change, error)
	// ByExt returns the offer's lead with the partner's id ext.
	ByExt(ctx context.Context, offer, ext string) (*Lead, error)
	// ByKey returns the offer's lead that Add made for the idempotency
	// key (ErrNotFound).
	ByKey(ctx context.Context, offer, key string) (*Lead, error)
	// List returns one page of leads: an offer's by status group (1;
	// 2-4; 5; 6-9; 10-11; 12), oldest first within each; a contact's
	// (Query.Contact) oldest first.
	List(ctx context.Context, q Query) (Page, error)
	// CreatedBetween returns the offer's leads created in [from, to)
	// whose status is in statuses, oldest first, at most limit.
	CreatedBetween(ctx context.Context, offer string, from, to time.Time, statuses StatusSet, limit int) ([]*Lead, error)
	// CreatedDays returns the days (midnights in loc) within [from, to)
	// on which the offer has leads whose status is in statuses.
	CreatedDays(ctx context.Context, offer string, from, to time.Time, loc *time.Location, statuses StatusSet) ([]time.Time, error)
	// CountLeads counts every offer's leads by status.
	CountLeads(ctx context.Context) (map[string]map[Status]int, error)

	// DefineGoal returns the id of the offer's goal code, creating it.
	DefineGoal(ctx context.Context, offer, code string) (uint32, error)
	// GoalByCode returns the id of an existing goal code (ErrNotFound).
	GoalByCode(ctx context.Context, offer, code string) (uint32, error)
	// ReleaseHolds approves up to limit leads whose hold ended by now.
	ReleaseHolds(ctx context.Context, now time.Time, limit int) (int, error)

	// Subscribe calls fn after each committed status change.
	Subscribe(fn func(Event)) (cancel func())
	// Feed returns a durable queue of status changes (Options.Feeds).
	Feed(name string) (Feed, error)

	// Record queues journal entries; they may be lost to a crash.
	Record(entries ...JournalEntry)
	// RecordWritten returns once e is written (not synced).
	RecordWritten(e JournalEntry) error
	// WatchJournal calls fn with each entry as it is written.
	WatchJournal(fn func(JournalEntry))
	// JournalGet returns one entry (ErrNotFound).
	JournalGet(ctx context.Context, id uint64) (*JournalEntry, error)
	// JournalList returns entries newest first and the next page's cursor.
	JournalList(ctx context.Context, q JournalQuery) ([]JournalEntry, string, error)

	// SignOut remembers that the console session whose cookie hashes to
	// id was signed out, until its cookie expires (until), for every
	// process on this store: a restarted serve and the other nodes too.
	SignOut(ctx context.Context, id [32]byte, until time.Time) error
	// SignedOut says whether the session id hashes to was signed out and
	// its cookie has not expired yet.
	SignedOut(ctx context.Context, id [32]byte) (bool, error)

	// Reasons is the table of rejection reasons edits are checked against.
	Reasons() *ReasonTable
	// ReadOnly says why the store takes no writes now ("" when it does).
	ReadOnly() string
	// Verify checks every lead against its indexes and history.
	Verify(ctx context.Context) ([]Problem, error)
	// Close stops the store once the writes in flight have landed.
	Close() error
}

// Batch gathers the edits of one unit of work, a status-check response say,
// to commit them together or drop them all. Each Edit answers at once
// against the store as the batch first saw it plus the batch's own edits,
// so a handler learns right away whether an edit is accepted; Commit then
// applies the same patches to the current leads in one go. A Batch is used
// by one goroutine.
type Batch interface {
	// Seed hands the batch leads just read, so that editing them needs
	// no second read.
	Seed(leads []*Lead)
	// Get returns a lead as the batch sees it.
	Get(id uint64) (*Lead, error)
	// Edit checks p against the lead as the batch sees it and records it.
	Edit(id uint64, p Patch) error
	// Len returns the number of recorded edits.
	Len() int
	// Changes lists the recorded edits.
	Changes() []BatchChange
	// Discard drops the batch: nothing is written.
	Discard()
	// Commit writes every recorded edit, whole or not at all.
	Commit(ctx context.Context) (CommitResult, error)
}

// Feed is a durable queue of status changes for one consumer (the send
// outbox, outgoing postbacks). Each change is written to the feed in the
// same transaction as the change itself, so none is lost to a crash; the
// consumer reads, handles and then acknowledges them. Options.FeedFilter
// says which changes a feed wants.
//
// A consumer that talks to the outside world records each delivery
// attempt: Begin before it (durable), then Ack or Retry after. An item
// found InFlight after a restart is one whose delivery may or may not
// have happened: the process stopped between Begin and the outcome.
//
// Several nodes may share one feed (PostgreSQL): Begin is then a claim,
// won by one of them; Pending leaves out the items another node has in
// flight (and its lead's later ones) while that node heartbeats, and
// lists them in flight, in doubt, once it is dead (no heartbeat for
// Options.DeadAfter) or has left; a claimer that never joined the
// cluster is taken for dead after Options.ClaimExpiry.
type Feed interface {
	// Name is the feed's name ("send", "postback").
	Name() string
	// Pending returns up to limit unacknowledged items, oldest lead first.
	Pending(ctx context.Context, limit int) ([]FeedItem, error)
	// PendingAfter is Pending from just after the item after.
	PendingAfter(ctx context.Context, after *FeedItem, limit int) ([]FeedItem, error)
	// Held lists the items held for a person, oldest lead first.
	Held(ctx context.Context, limit int) ([]FeedItem, error)
	// Ack removes delivered items.
	Ack(ctx context.Context, items ...FeedItem) error
	// Begin records, durably, that a delivery is about to be attempted,
	// and claims the item for this sender: it fails with ErrClaimed when
	// the item was begun since it was read (by another node sharing the
	// database), with ErrNotFound when it was acknowledged or held. On
	// PostgreSQL it also refuses (ErrClaimed) while an earlier item of
	// the same lead is pending, so that a lead's changes go out in order
	// whichever node sends them.
	Begin(ctx context.Context, it FeedItem) (FeedItem, error)
	// Retry records a failed attempt: not before notBefore, and why.
	Retry(ctx context.Context, it FeedItem, notBefore time.Time, why string) (FeedItem, error)
	// Defer puts an item off until notBefore with no attempt made.
	Defer(ctx context.Context, it FeedItem, notBefore time.Time, why string) (FeedItem, error)
	// Hold takes an item out of the feed and keeps it for a person.
	Hold(ctx context.Context, it FeedItem, why string) error
	// Release puts a held item back into the feed.
	Release(ctx context.Context, leadID uint64, rev uint32) (FeedItem, error)
	// Drop removes a held item for good.
	Drop(ctx context.Context, leadID uint64, rev uint32) (FeedItem, error)
}

// DefaultClaimExpiry is Options.ClaimExpiry's default, for claims of a
// process that never joined the cluster: longer than an attempt can
// take, from Begin to its outcome: the send outbox's request timeout
// (30 s), send.lua's longest run (1 m), and a margin.
const DefaultClaimExpiry = 2 * time.Minute

// The Badger backend is a Store.
var (
	_ Store = (*Badger)(nil)
	_ Batch = (*badgerBatch)(nil)
	_ Feed  = (*badgerFeed)(nil)
)

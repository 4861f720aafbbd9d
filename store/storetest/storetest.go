// Package storetest is the conformance suite of the store: the behaviour
// every backend of store.Store must show (Badger's in store, PostgreSQL's
// in store/postgres), checked through the interfaces store.Store,
// store.Batch and store.Feed and the exported model only. A backend's test
// hands Run a Backend, the two ways it opens a store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Backend{Open: open, Reopen: reopen})
//	}
//
// Open gives a new, empty store; Reopen closes one and opens its data
// again, as the next process would (feed items in flight, the journal).
// The suite sets the options of the model (Feeds, FeedFilter, Now,
// Reasons, Policies); the backend adds its own (a folder, a database).
// Areas run in parallel, so Open and Reopen are called concurrently; each
// store an area opens must pass Verify when the area ends.
//
// Each area of behaviour is a subtest named after it (add, edit-rules,
// batch, feed …), so a failure names the area, and every assertion is one
// a user would notice: a lead lost, a refused change that went through, an
// item sent twice. What is a backend's own choice (ids, cursors, the words
// of an error beyond its kind) is not asserted. Time is the suite's clock
// (Options.Now), in whole seconds; nothing waits on a sleep: what is
// asynchronous (Subscribe, Record) is awaited with a deadline.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"leadhost/store"
)

// Backend is how the suite opens stores of one backend.
type Backend struct {
	// Open returns a new, empty store opened with opts, and closes it
	// when t ends (t.Cleanup), even if the suite closed it before.
	Open func(t *testing.T, opts store.Options) store.Store
	// Reopen closes s, as a process that stops, and opens the same data
	// with opts, as the next process would; it closes the new store when
	// t ends.
	Reopen func(t *testing.T, s store.Store, opts store.Options) store.Store
	// Peer, when the backend can be shared by several processes, opens
	// s's data beside s, with opts, as another node would, and closes it
	// when t ends; nil for one process's database (Badger): the suite's
	// cluster areas then say they skipped.
	Peer func(t *testing.T, s store.Store, opts store.Options) store.Store
}

// Run runs the whole suite against the backend, one subtest per area.
func Run(t *testing.T, b Backend) {
	if b.Open == nil || b.Reopen == nil {
		t.Fatal("storetest: Backend needs Open and Reopen")
	}
	for _, a := range areas {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			a.run(t, b)
		})
	}
}

// areas are the suite's parts, each a file of this package.
var areas = []struct {
	name string
	run  func(t *testing.T, b Backend)
}{
	{"open", testOpen},
	{"add", testAdd},
	{"edit-rules", testEditRules},
	{"history", testHistory},
	{"ext", testExt},
	{"list", testList},
	{"contact", testContact},
	{"created", testCreated},
	{"goals", testGoals},
	{"holds", testHolds},
	{"batch", testBatch},
	{"feed", testFeed},
	{"feed-reopen", testFeedReopen},
	{"feed-nodes", testFeedNodes},
	{"journal", testJournal},
	{"signouts", testSignOuts},
	{"subscribe", testSubscribe},
	{"concurrency", testConcurrency},
}

// t0 is the suite's clock at the start: whole seconds, so that a backend
// keeping microseconds (PostgreSQL) keeps every time the suite sets.
var t0 = time.Date(2026, 11, 20, 10, 30, 0, 0, time.UTC)

// clock is the store's time, moved by the suite.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// policyMap gives offers their policies; others have the default one.
type policyMap map[string]store.OfferPolicy

func (m policyMap) Policy(offer string) store.OfferPolicy {
	if p, ok := m[offer]; ok {
		return p
	}
	return store.DefaultPolicy()
}

// fixture is one open store of an area, with its clock and options.
type fixture struct {
	t    *testing.T
	b    Backend
	s    store.Store
	clk  *clock
	opts store.Options
	ctx  context.Context
	gen  int // counts reopens: only the newest store is verified at the end
}

// open opens an empty store on the suite's clock. Every store an area
// opens must pass Verify when the area ends.
func open(t *testing.T, b Backend, opts store.Options) *fixture {
	t.Helper()
	f := &fixture{t: t, b: b, clk: &clock{t: t0}, ctx: context.Background()}
	if opts.Now == nil {
		opts.Now = f.clk.Now
	}
	f.opts = opts
	f.s = b.Open(t, opts)
	if f.s == nil {
		t.Fatal("Backend.Open returned no store")
	}
	f.verifyAtEnd()
	return f
}

// verifyAtEnd verifies the store when the test ends, before the backend
// closes it (its Cleanup, registered earlier, runs later).
func (f *fixture) verifyAtEnd() {
	gen := f.gen
	f.t.Cleanup(func() {
		if f.gen == gen {
			f.verify()
		}
	})
}

// reopen verifies the store, closes it and opens its data again.
func (f *fixture) reopen() {
	f.t.Helper()
	f.verify()
	f.gen++
	f.s = f.b.Reopen(f.t, f.s, f.opts)
	if f.s == nil {
		f.t.Fatal("Backend.Reopen returned no store")
	}
	f.verifyAtEnd()
}

func (f *fixture) add(nl store.NewLead) *store.Lead {
	f.t.Helper()
	l, _, err := f.s.Add(f.ctx, nl)
	if err != nil {
		f.t.Fatalf("add %+v: %v", nl, err)
	}
	return l
}

func (f *fixture) edit(id uint64, p store.Patch) *store.Lead {
	f.t.Helper()
	l, err := f.s.Edit(f.ctx, id, p)
	if err != nil {
		f.t.Fatalf("edit lead %d: %v", id, err)
	}
	return l
}

func (f *fixture) get(id uint64) *store.Lead {
	f.t.Helper()
	l, err := f.s.Get(f.ctx, id)
	if err != nil {
		f.t.Fatalf("get lead %d: %v", id, err)
	}
	return l
}

func (f *fixture) history(id uint64) []store.Change {
	f.t.Helper()
	h, err := f.s.History(f.ctx, id)
	if err != nil {
		f.t.Fatalf("history of lead %d: %v", id, err)
	}
	return h
}

// verify fails the test for every problem Verify finds.
func (f *fixture) verify() {
	f.t.Helper()
	probs, err := f.s.Verify(f.ctx)
	if err != nil {
		f.t.Errorf("verify: %v", err)
	}
	for _, p := range probs {
		f.t.Errorf("verify: %s", p)
	}
}

// wantErr fails unless err is of kind want (nil: no error).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("%s: %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Errorf("%s: err = %v, want %v", what, err, want)
	}
}

// eventually polls cond until it holds or 10 s pass: for what a store
// does after the call returns (Subscribe, Record).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s still not: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ptr[T any](v T) *T { return &v }

// sameLead says whether two reads of a lead agree on everything a user
// sees of it (its JSON form, times compared as instants).
func sameLead(a, b *store.Lead) bool {
	return leadText(a) == leadText(b)
}

func leadText(l *store.Lead) string {
	if l == nil {
		return "<nil>"
	}
	c := l.Clone()
	c.History = nil
	for _, tp := range []*time.Time{&c.HoldUntil, &c.Created, &c.Updated, &c.AcceptedAt} {
		*tp = tp.UTC()
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// events collects what Subscribe delivers, by lead.
type events struct {
	mu     sync.Mutex
	byLead map[uint64][]store.Event
	marks  int
}

// watch subscribes to f's store until the test ends.
func watch(f *fixture) *events {
	e := &events{byLead: map[uint64][]store.Event{}}
	cancel := f.s.Subscribe(func(ev store.Event) {
		e.mu.Lock()
		e.byLead[ev.LeadID] = append(e.byLead[ev.LeadID], ev)
		e.mu.Unlock()
	})
	f.t.Cleanup(cancel)
	return e
}

// of returns the events of one lead so far.
func (e *events) of(id uint64) []store.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]store.Event(nil), e.byLead[id]...)
}

// wait returns once lead id has n events.
func (e *events) wait(t *testing.T, id uint64, n int) []store.Event {
	t.Helper()
	eventually(t, fmt.Sprintf("%d events of lead %d", n, id), func() bool { return len(e.of(id)) >= n })
	return e.of(id)
}

// settle returns once every change committed before it was delivered:
// it adds a lead of offer "mark" and waits for its event, which comes
// after theirs (events come in commit order).
func (e *events) settle(f *fixture) {
	f.t.Helper()
	e.mu.Lock()
	e.marks++
	key := fmt.Sprint("mark-", e.marks)
	e.mu.Unlock()
	l := f.add(store.NewLead{Offer: "mark", Key: key})
	e.wait(f.t, l.ID, 1)
}

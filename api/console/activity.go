package console

import (
	"context"
	"sync"
	"time"

	"leadhost/store"
)

// activity counts each offer's webhook calls and errors by hour over the
// last 24 h, for the overview. Reading them from the journal per page
// would decode every entry of the day (the journal has no index by
// status): instead they are counted once from the journal when the
// console starts, in the background, and kept current from the entries
// as they are written (App.Observe).
type activity struct {
	mu      sync.Mutex
	offers  map[string]*[hoursShown]hourCount
	seeded  bool
	seedErr error
}

// hoursShown is how far back the overview looks.
const hoursShown = 24

// hourCount is one offer's hour.
type hourCount struct {
	Hour          int64 // hours since the epoch; a slot of another hour is stale
	Calls, Errors int
}

// add counts one entry.
func (a *activity) add(e store.JournalEntry) {
	a.count(store.JournalTally{Offer: e.Offer, Hour: e.At, Kind: e.Kind, Status: e.Status, N: 1})
}

// count counts t.N entries of an offer's kind and status within t.Hour.
func (a *activity) count(t store.JournalTally) {
	if t.Offer == "" || (t.Kind != store.KindHook && t.Status != store.JournalError) {
		return
	}
	hour := t.Hour.Unix() / 3600
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.offers == nil {
		a.offers = map[string]*[hoursShown]hourCount{}
	}
	ring := a.offers[t.Offer]
	if ring == nil {
		ring = &[hoursShown]hourCount{}
		a.offers[t.Offer] = ring
	}
	slot := &ring[hour%hoursShown]
	if slot.Hour != hour {
		if slot.Hour > hour {
			return // older than the ring holds
		}
		*slot = hourCount{Hour: hour}
	}
	if t.Kind == store.KindHook {
		slot.Calls += t.N
	}
	if t.Status == store.JournalError {
		slot.Errors += t.N
	}
}

// tallier counts the journal entries other nodes wrote to a store they
// share with this one (store/postgres): those that landed after after
// and up to lag before now, by the database's clock, and up to when.
type tallier interface {
	TallyJournal(ctx context.Context, after time.Time, lag time.Duration, node string) ([]store.JournalTally, time.Time, error)
}

// How often, and how far behind the database's now, a node counts what
// the others journaled: an entry is stamped when its transaction starts,
// so a window must not close on one still being written.
const (
	followEvery = 15 * time.Second
	followLag   = 5 * time.Second
)

// follow adds, every every, the entries other nodes journaled that
// landed since from (this node's own are counted as they are written),
// until ctx ends. node says this node's name at the time.
func (a *activity) follow(ctx context.Context, t tallier, node func() string, from time.Time, every, lag time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		tallies, upTo, err := t.TallyJournal(ctx, from, lag, node())
		if err != nil {
			continue // counted at the next tick
		}
		for _, tl := range tallies {
			a.count(tl)
		}
		from = upTo
	}
}

// seed counts the journal's entries of the last 24 h older than until
// (those after it are counted as they are written).
func (a *activity) seed(ctx context.Context, st store.Store, until time.Time) {
	q := store.JournalQuery{Since: until.Add(-hoursShown * time.Hour), Limit: 1000}
	var err error
	for {
		var entries []store.JournalEntry
		entries, q.Cursor, err = st.JournalList(ctx, q)
		if err != nil {
			break
		}
		for _, e := range entries {
			if e.At.Before(until) {
				a.add(e)
			}
		}
		if q.Cursor == "" {
			break
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seeded, a.seedErr = true, err
}

// hourly is an offer's last 24 h, oldest hour first, and whether the
// counts are whole yet (the journal is still being counted at start).
func (a *activity) hourly(offer string, now time.Time) (hours [hoursShown]hourCount, whole bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	nowHour := now.Unix() / 3600
	ring := a.offers[offer]
	for i := range hours {
		hour := nowHour - hoursShown + 1 + int64(i)
		hours[i].Hour = hour
		if ring != nil && ring[hour%hoursShown].Hour == hour {
			hours[i] = ring[hour%hoursShown]
		}
	}
	return hours, a.seeded && a.seedErr == nil
}

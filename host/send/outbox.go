// Package send delivers new leads to partners by each offer's [send]
// (SPEC §4): an outbox in the store (a store.Feed of new leads), read by
// one dispatcher that hands each offer's leads to a worker of its own,
// which keeps the offer's rate, backs off from failures and stops
// altogether (circuit open) while the partner keeps failing.
package send

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/host"
	"leadhost/host/partner"
	"leadhost/host/script"
	"leadhost/store"
)

// The store feeds the outboxes live in.
const (
	Feed         = "send"     // new leads to send
	PostbackFeed = "postback" // status changes to report
)

// Wants is the outboxes' store.Options.FeedFilter: for Feed a lead born
// new (status 1) in an offer that sends; for PostbackFeed any status
// change in an offer with a [postback] url.
func Wants(offers OfferSource, feed string, ev store.Event) bool {
	o, ok := offers.Offer(ev.Offer)
	if !ok {
		return false
	}
	switch feed {
	case Feed:
		return ev.From == 0 && ev.To == store.StatusNew && o.Config.Send != nil
	case PostbackFeed:
		return o.Config.ReportsChanges()
	}
	return false
}

// OfferSource finds an offer as it is now, after any reload.
type OfferSource interface {
	Offer(id string) (*host.Offer, bool)
}

// Defaults of the Sender.
const (
	DefaultTimeout   = 30 * time.Second
	DefaultBaseDelay = 30 * time.Second // the first retry; doubles each time
	DefaultMaxDelay  = time.Hour
	breakAfter       = 5 // failures in a row that open an offer's circuit
	keepBytes        = 4 << 10
	roundPerOffer    = 100    // items one offer's worker takes a round, per lane
	scanLimit        = 50_000 // outbox items read a round, at most
	dispatchRest     = 9      // times a round's time the dispatcher rests after it
	maxDispatchRest  = time.Second
)

// Sender runs the outbox. Make it with New; Run until the context ends.
type Sender struct {
	Store  store.Store
	Offers OfferSource
	Client *fasthttp.Client
	// Timeout is one partner request's deadline.
	Timeout time.Duration
	// BaseDelay and MaxDelay bound the backoff between attempts.
	BaseDelay, MaxDelay time.Duration
	// Poll is how often the outbox is read when nothing wakes it (1s).
	Poll time.Duration
	// SettleEvery is how often held sends are looked at for leads an edit
	// settled meanwhile (DefaultSettleEvery).
	SettleEvery time.Duration
	// Limit is how many offers send at once (8).
	Limit int
	// PauseFor is how long an item waits for its offer, not loaded now,
	// before it is looked at again (DefaultPauseFor).
	PauseFor time.Duration
	// OnAttempt receives every attempt's report (for the log, the journal).
	OnAttempt func(*Attempt)
	// OnReply, if set, hears each partner reply send.lua read: the lead as
	// it was sent, the reply, and what send.lua decided (or its error). It
	// must not wait: the shadow runs (host/shadow) queue it.
	OnReply func(o *host.Offer, lead *store.Lead, resp script.SendResponse, out script.SendOutcome, err error)
	Log     *slog.Logger
	Now     func() time.Time

	feed     store.Feed
	postback bool // outgoing postbacks instead of sends
	wake     chan struct{}
	mu       sync.Mutex
	busy     map[string]bool
	rounds   map[string]uint64 // workers finished, per offer
	breakers map[string]*breaker
	next     map[string]time.Time // rate: the offer's next request not before
	rng      *rand.Rand
	wg       sync.WaitGroup
}

// New makes a sender on st's outbox feed (st must have been opened with
// Feeds including Feed).
func New(st store.Store, offers OfferSource) (*Sender, error) {
	return newSender(st, offers, Feed)
}

// NewPostbacks makes a sender of outgoing postbacks: every status change
// of an offer with [postback] url, one GET per change, on st's
// PostbackFeed, with the same backoff, rate and circuit as sends.
func NewPostbacks(st store.Store, offers OfferSource) (*Sender, error) {
	return newSender(st, offers, PostbackFeed)
}

func newSender(st store.Store, offers OfferSource, feedName string) (*Sender, error) {
	feed, err := st.Feed(feedName)
	if err != nil {
		return nil, err
	}
	client := partner.NewClient(0)
	// fasthttp repeats a GET whose connection broke; a send or a postback
	// is repeated only by the outbox, which knows whether it may.
	client.MaxIdemponentCallAttempts = 1
	return &Sender{Store: st, Offers: offers, Client: client, feed: feed, postback: feedName == PostbackFeed,
		wake: make(chan struct{}, 1), busy: map[string]bool{}, rounds: map[string]uint64{}, breakers: map[string]*breaker{},
		next: map[string]time.Time{}, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x5e4d))}, nil
}

// Wake makes the dispatcher look at the outbox now (a lead was added).
// It never blocks.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run dispatches until ctx ends, then waits for the sends in flight.
func (s *Sender) Run(ctx context.Context) error {
	poll := s.Poll
	if poll <= 0 {
		poll = time.Second
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	var settled time.Time
	for {
		started := time.Now()
		if err := s.dispatch(ctx); err != nil && ctx.Err() == nil {
			s.log().Error("reading the send outbox", "err", err)
		}
		if now := s.now(); !s.postback && now.Sub(settled) >= s.settleEvery() {
			settled = now
			s.settleHeld(ctx)
		}
		// A round reads the outbox up to scanLimit items, so its cost
		// grows with the backlog, and wakes can come as fast as leads do
		// (one per new lead of an offer that sends). Resting dispatchRest
		// times the round keeps the reading to a tenth of a core at most:
		// a backlog of 10,000 items read 20 times a second took a sixth
		// of both cores from the webhooks (bench mix, issue 16). A round
		// of a small outbox takes microseconds, and so does its rest.
		// The rest is capped: a round the machine stalled in (its time
		// is wall time) would otherwise hold the sends back for seconds.
		rest := time.NewTimer(min(dispatchRest*time.Since(started), maxDispatchRest))
		select {
		case <-ctx.Done():
			rest.Stop()
			s.wg.Wait()
			return nil
		case <-rest.C:
		}
		select {
		case <-ctx.Done():
			s.wg.Wait()
			return nil
		case <-tick.C:
		case <-s.wake:
		}
	}
}

// dispatch reads the outbox and starts a worker for each offer that has
// sends due and none running.
func (s *Sender) dispatch(ctx context.Context) error {
	if ctx.Err() != nil {
		return nil
	}
	// What a worker running during the read does makes the read stale for
	// its offer (an attempt begun, a retry set): such offers wait for the
	// next round, which the worker's end wakes.
	now := s.now()
	s.mu.Lock()
	before := make(map[string]uint64, len(s.busy))
	passOver := map[string]bool{} // offers that cannot take work this round
	for offer, b := range s.busy {
		if b {
			before[offer] = ^uint64(0)
			passOver[offer] = true
		} else {
			before[offer] = s.rounds[offer]
		}
	}
	for offer, b := range s.breakers {
		if !b.allow(now) {
			passOver[offer] = true
		}
	}
	s.mu.Unlock()
	// The outbox is one queue in lead order. Read as it stands, one
	// offer's backlog (its partner slow, its circuit open) would fill the
	// round and hide every offer behind it. So offers that cannot take
	// work now are passed over, no offer takes more than roundPerOffer
	// items a round, and reading goes on past items backing off until
	// enough are due or scanLimit items were read.
	due := map[string][]store.FeedItem{}
	round := map[string]int{} // items an offer takes this round
	var waiting uint64        // a lead whose earlier change waits: its later ones wait too
	var after *store.FeedItem
	for scanned, found := 0, 0; scanned < scanLimit && found < 1000; {
		items, err := s.feed.PendingAfter(ctx, after, 1000)
		if err != nil {
			return err
		}
		scanned += len(items)
		for _, it := range items {
			if it.LeadID == waiting {
				continue
			}
			if it.NotBefore.After(now) {
				waiting = it.LeadID
				continue
			}
			// A lead's changes are next to each other in the queue, so
			// once its offer is passed over or full, its later changes
			// are too: their order holds.
			if passOver[it.Offer] {
				continue
			}
			take, ok := round[it.Offer]
			if !ok {
				take = roundPerOffer * s.concurrency(it.Offer)
				round[it.Offer] = take
			}
			if len(due[it.Offer]) >= take {
				continue
			}
			due[it.Offer] = append(due[it.Offer], it)
			found++
		}
		if len(items) < 1000 {
			break
		}
		after = &items[len(items)-1]
	}
	limit := s.Limit
	if limit <= 0 {
		limit = 8
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	running := 0
	for _, b := range s.busy {
		if b {
			running++
		}
	}
	for offer, its := range due {
		if s.busy[offer] || running >= limit {
			continue
		}
		if n, seen := before[offer]; seen && n != s.rounds[offer] {
			continue
		}
		if b := s.breakers[offer]; b != nil && !b.allow(now) {
			continue
		}
		s.busy[offer] = true
		running++
		s.wg.Add(1)
		go s.work(ctx, offer, its)
	}
	return nil
}

// work sends one offer's due leads: on one lane, in order, or, for an
// offer with send.concurrency above 1, on that many lanes at once, each
// lead's items on one lane so that they keep their order. Concurrent
// sends share the store's group commits: their attempts, recorded each
// before its request leaves, and their outcomes land several to an
// fdatasync.
func (s *Sender) work(ctx context.Context, offer string, items []store.FeedItem) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		s.busy[offer] = false
		s.rounds[offer]++
		s.mu.Unlock()
		s.Wake()
	}()
	n := min(s.concurrency(offer), len(items))
	if n <= 1 {
		s.lane(ctx, offer, items)
		return
	}
	lanes := make([][]store.FeedItem, n)
	for _, it := range items {
		i := it.LeadID % uint64(n)
		lanes[i] = append(lanes[i], it)
	}
	var wg sync.WaitGroup
	for _, its := range lanes {
		if len(its) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.lane(ctx, offer, its)
		}()
	}
	wg.Wait()
}

// concurrency is how many of offer's items go out at once: its
// send.concurrency, but one while its circuit is half open (one try
// decides whether it closes) and one for outgoing postbacks.
func (s *Sender) concurrency(offer string) int {
	if s.postback {
		return 1
	}
	o, ok := s.Offers.Offer(offer)
	if !ok || o.Config.Send == nil || o.Config.Send.Concurrency <= 1 {
		return 1
	}
	if s.breaker(offer).tripped() {
		return 1
	}
	return o.Config.Send.Concurrency
}

// lane sends items in order, one at a time.
func (s *Sender) lane(ctx context.Context, offer string, items []store.FeedItem) {
	failed := map[uint64]bool{} // leads whose change failed: later ones keep their order
	for _, it := range items {
		if ctx.Err() != nil {
			return
		}
		if failed[it.LeadID] {
			continue
		}
		if open, _ := s.Circuit(offer); open {
			return // another lane's failure opened it: the rest wait
		}
		a := s.sendOne(ctx, offer, it)
		if a == nil || a.Outcome == Retry {
			// Nothing reported may mean put off (its offer paused, the
			// lead unreadable): the lead's later changes wait for the
			// next round either way, so that none overtakes it.
			failed[it.LeadID] = true
		}
		if a == nil {
			continue
		}
		if s.OnAttempt != nil {
			s.OnAttempt(a)
		}
		if a.Outcome == Retry {
			if open, _ := s.Circuit(offer); open {
				return // the partner is down: the rest wait for the circuit
			}
		}
	}
}

// DefaultPauseFor is how long an item of an offer that is not loaded
// waits before it is looked at again.
const DefaultPauseFor = 30 * time.Second

// pausedPrefix begins the last_error of an item paused for its offer.
const pausedPrefix = "paused: "

// pause keeps an item whose offer is not loaded (its folder gone for a
// moment, as a deploy by rsync --delete or git checkout does) in the
// outbox untouched but for its next look: it goes out when the offer is
// back. A person who wants it gone edits the lead past new. The first
// pause of an item is logged; the looks after it are not.
func (s *Sender) pause(ctx context.Context, offerID string, it store.FeedItem) {
	why := pausedPrefix + "offer " + offerID + " is not loaded (its folder is missing or does not load); the item waits for it"
	if it.LastError != why {
		s.log().Warn("outbox: an item paused: its offer is not loaded", "postback", s.postback, "offer", offerID, "lead", it.LeadID)
	}
	wait := s.PauseFor
	if wait <= 0 {
		wait = DefaultPauseFor
	}
	if _, err := s.feed.Defer(ctx, it, s.now().Add(wait), why); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log().Error("outbox: pausing an item", "lead", it.LeadID, "err", err)
	}
}

// itemLead reads the lead of an outbox item. A lead that is gone takes
// its item with it; nil means there is nothing to deliver now.
func (s *Sender) itemLead(ctx context.Context, it store.FeedItem) *store.Lead {
	lead, err := s.Store.Get(ctx, it.LeadID)
	if errors.Is(err, store.ErrNotFound) {
		s.ack(ctx, it)
		return nil
	}
	if err != nil {
		s.log().Error("outbox: reading the lead", "postback", s.postback, "lead", it.LeadID, "err", err)
		return nil
	}
	return lead
}

// DefaultSettleEvery is how often held sends are looked at for leads
// settled meanwhile.
const DefaultSettleEvery = 10 * time.Second

func (s *Sender) settleEvery() time.Duration {
	if s.SettleEvery > 0 {
		return s.SettleEvery
	}
	return DefaultSettleEvery
}

// settleHeld drops the held sends whose lead a person (or a check) has
// settled since: it has its partner's id, or a status past new. Sending
// it is no longer the question the hold asked.
func (s *Sender) settleHeld(ctx context.Context) {
	held, err := s.feed.Held(ctx, 1000)
	if err != nil {
		s.log().Error("send: reading the held sends", "err", err)
		return
	}
	for _, it := range held {
		l, err := s.Store.Get(ctx, it.LeadID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err == nil && l.Status == store.StatusNew && l.Ext == "" {
			continue // still the person's to decide
		}
		if _, err := s.feed.Drop(ctx, it.LeadID, it.Rev); err != nil {
			continue // released or dropped meanwhile
		}
		s.log().Info("send: a held send settled by an edit of its lead", "offer", it.Offer, "lead", it.LeadID)
	}
}

// settle records an attempt's outcome in the outbox.
func (s *Sender) settle(ctx context.Context, it store.FeedItem, a *Attempt) {
	offerID := a.Offer
	switch {
	case a.Outcome.Done():
		s.ack(ctx, it)
		s.partnerAnswered(offerID)
	case a.Outcome == Held:
		if err := s.feed.Hold(ctx, it, a.Err); err != nil {
			s.log().Error("send: holding a send", "lead", it.LeadID, "err", err)
		}
		s.log().Error("send held for a person", "offer", offerID, "lead", it.LeadID, "why", store.Mask(a.Err))
	default:
		delay := s.backoff(it.Attempts)
		a.Next = s.now().Add(delay)
		if _, err := s.feed.Retry(ctx, it, a.Next, a.Err); err != nil {
			s.log().Error("send: recording the failure", "lead", it.LeadID, "err", err)
		}
	}
}

func (s *Sender) ack(ctx context.Context, it store.FeedItem) {
	if err := s.feed.Ack(ctx, it); err != nil {
		s.log().Error("send: acknowledging", "lead", it.LeadID, "err", err)
	}
}

// waitRate keeps an offer's requests at most rate a second.
func (s *Sender) waitRate(ctx context.Context, offer string, rate float64) {
	if rate <= 0 {
		return
	}
	gap := time.Duration(float64(time.Second) / rate)
	s.mu.Lock()
	now := time.Now()
	at := s.next[offer]
	if at.Before(now) {
		at = now
	}
	s.next[offer] = at.Add(gap)
	s.mu.Unlock()
	if wait := time.Until(at); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
}

// backoff is the wait after the n-th failed attempt: BaseDelay doubling,
// at most MaxDelay, with jitter (between half and all of it) so that a
// partner coming back is not hit by every lead at once.
func (s *Sender) backoff(n int) time.Duration {
	base, most := s.BaseDelay, s.MaxDelay
	if base <= 0 {
		base = DefaultBaseDelay
	}
	if most <= 0 {
		most = DefaultMaxDelay
	}
	d := base
	for i := 1; i < n && d < most; i++ {
		d *= 2
	}
	d = min(d, most)
	s.mu.Lock()
	defer s.mu.Unlock()
	return d/2 + time.Duration(s.rng.Int64N(int64(d/2)+1))
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Sender) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Package send delivers new leads to partners by each offer's [send]
// (SPEC §4): an outbox in the store (a store.Feed of new leads), read by
// one dispatcher that hands each offer's leads to a worker of its own,
// which keeps the offer's rate, backs off from failures and stops
// altogether (circuit open) while the partner keeps failing.
package send

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/host"
	"leadhost/host/decode"
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
		return o.Config.Postback != nil && o.Config.Postback.URL != ""
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
)

// Sender runs the outbox. Make it with New; Run until the context ends.
type Sender struct {
	Store  *store.Store
	Offers OfferSource
	Client *fasthttp.Client
	// Timeout is one partner request's deadline.
	Timeout time.Duration
	// BaseDelay and MaxDelay bound the backoff between attempts.
	BaseDelay, MaxDelay time.Duration
	// Poll is how often the outbox is read when nothing wakes it (1s).
	Poll time.Duration
	// Limit is how many offers send at once (8).
	Limit int
	// OnAttempt receives every attempt's report (for the log, the journal).
	OnAttempt func(*Attempt)
	Log       *slog.Logger
	Now       func() time.Time

	feed     *store.Feed
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

// Attempt is one send of a lead and what became of it.
type Attempt struct {
	Offer    string         `json:"offer"`
	LeadID   uint64         `json:"lead_id"`
	Try      int            `json:"try"`
	Method   string         `json:"method,omitempty"`
	URL      string         `json:"url,omitempty"`
	Body     string         `json:"body,omitempty"`
	Status   int            `json:"status,omitempty"`
	Response string         `json:"response,omitempty"`
	Duration store.Duration `json:"duration"`
	// Outcome: sent (status 2), rejected (status 5), retry (later, with
	// backoff), held (for a person: in doubt, or an answer that could not
	// be recorded), dropped (the offer no longer sends).
	Outcome string       `json:"outcome"`
	Ext     string       `json:"ext,omitempty"`
	Reason  store.Reason `json:"reason,omitempty"`
	Err     string       `json:"error,omitempty"`
	Next    time.Time    `json:"next,omitzero"` // retry: not before
}

// New makes a sender on st's outbox feed (st must have been opened with
// Feeds including Feed).
func New(st *store.Store, offers OfferSource) (*Sender, error) {
	return newSender(st, offers, Feed)
}

// NewPostbacks makes a sender of outgoing postbacks: every status change
// of an offer with [postback] url, one GET per change, on st's
// PostbackFeed, with the same backoff, rate and circuit as sends.
func NewPostbacks(st *store.Store, offers OfferSource) (*Sender, error) {
	return newSender(st, offers, PostbackFeed)
}

func newSender(st *store.Store, offers OfferSource, feedName string) (*Sender, error) {
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
	for {
		if err := s.dispatch(ctx); err != nil && ctx.Err() == nil {
			s.log().Error("reading the send outbox", "err", err)
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
	s.mu.Lock()
	before := make(map[string]uint64, len(s.busy))
	for offer, b := range s.busy {
		if b {
			before[offer] = ^uint64(0)
		} else {
			before[offer] = s.rounds[offer]
		}
	}
	s.mu.Unlock()
	// Items backing off do not hide the ones behind them: the outbox is
	// read page by page until enough are due (or 10 pages are read).
	now := s.now()
	due := map[string][]store.FeedItem{}
	var waiting uint64 // a lead whose earlier change waits: its later ones wait too
	var after *store.FeedItem
	for page, found := 0, 0; page < 10 && found < 1000; page++ {
		items, err := s.feed.PendingAfter(ctx, after, 1000)
		if err != nil {
			return err
		}
		for _, it := range items {
			if it.LeadID == waiting {
				continue
			}
			if it.NotBefore.After(now) {
				waiting = it.LeadID
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

// work sends one offer's due leads in order, one at a time.
func (s *Sender) work(ctx context.Context, offer string, items []store.FeedItem) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		s.busy[offer] = false
		s.rounds[offer]++
		s.mu.Unlock()
		s.Wake()
	}()
	failed := map[uint64]bool{} // leads whose change failed: later ones keep their order
	for _, it := range items {
		if ctx.Err() != nil {
			return
		}
		if failed[it.LeadID] {
			continue
		}
		a := s.sendOne(ctx, offer, it)
		if a != nil && a.Outcome == "retry" {
			failed[it.LeadID] = true
		}
		if a == nil {
			continue
		}
		if s.OnAttempt != nil {
			s.OnAttempt(a)
		}
		if a.Outcome == "retry" {
			if open, _ := s.Circuit(offer); open {
				return // the partner is down: the rest wait for the circuit
			}
		}
	}
}

// sendOne handles one outbox item. It returns nil when there was nothing
// to report (the item was done with already).
func (s *Sender) sendOne(ctx context.Context, offerID string, it store.FeedItem) *Attempt {
	if s.postback {
		return s.postbackOne(ctx, offerID, it)
	}
	a := &Attempt{Offer: offerID, LeadID: it.LeadID, Try: it.Attempts + 1}
	o, ok := s.Offers.Offer(offerID)
	if !ok || o.Config.Send == nil || o.Scripts["send.lua"] == nil {
		a.Outcome, a.Err = "dropped", "the offer no longer sends (no [send] or send.lua)"
		s.ack(ctx, it)
		return a
	}
	lead := s.itemLead(ctx, it)
	if lead == nil {
		return nil
	}
	if lead.Status != store.StatusNew {
		// Sent already (a crash came after our commit, before the ack), or
		// moved on by hand: either way not ours to send.
		s.ack(ctx, it)
		return nil
	}
	if it.InFlight && !o.Config.Send.Idempotent {
		// The last attempt began and we never learnt how it ended: the
		// partner may have the lead. Sending again could make a double.
		a.Outcome = "held"
		a.Err = "in doubt: leadhost stopped while sending this lead, and the partner may have it; " +
			"check with the partner, then release it (POST /api/outbox/send/<lead>/<rev>/release) or edit the lead " +
			"(or set send.idempotent if the partner recognises repeats)"
		s.settle(ctx, it, a)
		return a
	}
	s.waitRate(ctx, o.ID, o.Config.Send.Rate)
	it, err := s.feed.Begin(ctx, it)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log().Error("send: recording the attempt", "lead", it.LeadID, "err", err)
		}
		return nil
	}
	// The rate may have kept us waiting: the lead may have moved since.
	if lead = s.itemLead(ctx, it); lead == nil || lead.Status != store.StatusNew {
		if lead != nil {
			s.ack(ctx, it)
		}
		return nil
	}
	// From here the attempt runs to its end even when the host stops.
	ctx = context.WithoutCancel(ctx)
	s.attempt(ctx, o, lead, a)
	s.settle(ctx, it, a)
	return a
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

// settle records an attempt's outcome in the outbox.
func (s *Sender) settle(ctx context.Context, it store.FeedItem, a *Attempt) {
	offerID := a.Offer
	switch a.Outcome {
	case "sent", "rejected":
		s.ack(ctx, it)
		s.breaker(offerID).success()
	case "held":
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

// postbackOne reports one status change to the offer's [postback] url.
// A postback repeats a fact (this lead is now in that status), so one
// whose outcome a crash left unknown is simply sent again.
func (s *Sender) postbackOne(ctx context.Context, offerID string, it store.FeedItem) *Attempt {
	a := &Attempt{Offer: offerID, LeadID: it.LeadID, Try: it.Attempts + 1, Method: "GET"}
	o, ok := s.Offers.Offer(offerID)
	if !ok || o.Config.Postback == nil || o.Config.Postback.URL == "" {
		a.Outcome, a.Err = "dropped", "the offer no longer sends postbacks (no [postback] url)"
		s.ack(ctx, it)
		return a
	}
	lead := s.itemLead(ctx, it)
	if lead == nil {
		return nil
	}
	it, err := s.feed.Begin(ctx, it)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil // acknowledged meanwhile
		}
		// Reported as a retry, so that the lead's later changes wait.
		a.Outcome, a.Err = "retry", "recording the attempt: "+err.Error()
		return a
	}
	ctx = context.WithoutCancel(ctx)
	m := PostbackMacros(lead, it.Event)
	a.URL = m.ExpandURL(o.Config.Postback.URL)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(a.URL)
	a.Duration, err = s.do(req, resp)
	switch {
	case err != nil:
		s.fail(offerID, a, fmt.Errorf("GET %s: %v", a.URL, partner.Describe(err)), true)
	case resp.StatusCode() >= 500:
		a.Status, a.Response = resp.StatusCode(), partner.Excerpt(resp.Body(), keepBytes)
		s.fail(offerID, a, fmt.Errorf("GET %s: status %d", a.URL, a.Status), true)
	case resp.StatusCode() >= 400:
		// The tracker refuses this postback; asking again will not help.
		a.Status, a.Response = resp.StatusCode(), partner.Excerpt(resp.Body(), keepBytes)
		a.Outcome, a.Err = "rejected", fmt.Sprintf("GET %s: status %d", a.URL, a.Status)
	default:
		a.Status, a.Response = resp.StatusCode(), partner.Excerpt(resp.Body(), keepBytes)
		a.Outcome = "sent"
	}
	s.settle(ctx, it, a)
	return a
}

// PostbackMacros are the values of an outgoing postback's macros: {id}
// {offer} {status} {stage} {reason} of the change; {payout} {currency}
// the webmaster's payout as the lead has it now; {flow} {subid} and
// {sub1}…{sub5} (and {field:NAME}) from the lead's fields, "" if absent.
func PostbackMacros(l *store.Lead, ev store.Event) script.Macros {
	v := map[string]string{
		"id": strconv.FormatUint(l.ID, 10), "offer": l.Offer, "ext": l.Ext,
		"status": strconv.Itoa(int(ev.To)), "stage": store.Stage(ev.To, ev.Reason, nil),
		"reason": "", "payout": "", "currency": "",
	}
	if ev.Reason != 0 {
		v["reason"] = strconv.Itoa(int(ev.Reason))
	}
	if !l.Cash.WM.IsZero() {
		v["payout"] = l.Cash.WM.String()
		if l.Cash.CC != 0 {
			v["currency"] = l.Cash.CC.Code()
		}
	}
	for _, name := range []string{"flow", "subid", "sub1", "sub2", "sub3", "sub4", "sub5"} {
		v[name] = l.Fields[name]
	}
	for k, f := range l.Fields {
		v["field:"+k] = f
	}
	return script.Macros{Values: v, Blank: []string{"field:"}}
}

// attempt makes the request and runs send.lua on the reply.
func (s *Sender) attempt(ctx context.Context, o *host.Offer, lead *store.Lead, a *Attempt) {
	cfg := o.Config.Send
	req := Request(o, lead)
	hreq, hresp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(hreq)
	defer fasthttp.ReleaseResponse(hresp)
	a.Method, a.URL = req.Method, req.URL
	if err := partner.Encode(hreq, req, cfg.Body); err != nil {
		s.fail(o.ID, a, err, false)
		return
	}
	a.URL, a.Body = string(hreq.URI().FullURI()), partner.Excerpt(hreq.Body(), keepBytes)
	var err error
	a.Duration, err = s.do(hreq, hresp)
	if err != nil {
		sent := !neverSent(err)
		err = fmt.Errorf("%s %s: %v", a.Method, a.URL, partner.Describe(err))
		if !cfg.Idempotent && sent {
			// The request may have reached the partner (a timeout, a reset
			// after it went out): sending again could make a double.
			s.breaker(o.ID).failure(s.now())
			a.Outcome, a.Err = "held", "in doubt: "+err.Error()+"; the partner may have the lead: check with it, then release or edit the lead"
			return
		}
		s.fail(o.ID, a, err, true)
		return
	}
	body := hresp.Body()
	a.Status, a.Response = hresp.StatusCode(), partner.Excerpt(body, keepBytes)
	if a.Status >= 500 {
		s.fail(o.ID, a, fmt.Errorf("%s %s: status %d", a.Method, a.URL, a.Status), true)
		return
	}
	// A 4xx is an answer: send.lua decides (a duplicate, a bad phone).
	data, derr := decode.Decode(cfg.Format, body)
	if derr != nil {
		data = nil // send.lua still sees response.body
	}
	headers := map[string]string{}
	hresp.Header.VisitAll(func(k, v []byte) { headers[string(k)] = string(v) })
	var logs []string
	out, err := o.Pool.RunSend(ctx, o.Scripts["send.lua"], s.Store, lead,
		script.SendResponse{Status: a.Status, Headers: headers, Body: body, Data: data}, o.Words,
		func(kind, msg string) { logs = append(logs, kind+": "+msg) })
	switch {
	case err != nil && !out.Retry:
		// The partner took the lead (or refused it) and we cannot record
		// it: an id another lead already has, a lead changed meanwhile.
		// Sending again would not help and might make a double.
		a.Outcome, a.Ext, a.Reason = "held", out.Ext, out.Reason
		a.Err = "the partner answered, and its answer could not be recorded: " + err.Error() + "; check the lead with the partner"
	case err != nil:
		if derr != nil {
			err = fmt.Errorf("%w (the reply did not decode as %s: %v)", err, decode.FormatName(cfg.Format), derr)
		}
		s.fail(o.ID, a, err, false)
	case out.Retry:
		s.fail(o.ID, a, fmt.Errorf("send.lua asked to retry"), false)
	case out.Ext != "":
		a.Outcome, a.Ext = "sent", out.Ext
	default:
		a.Outcome, a.Reason = "rejected", out.Reason
	}
}

// Request is what [send] makes of a lead: the URL, fields and headers
// with the lead's macros filled in (POST unless the offer says GET).
func Request(o *host.Offer, lead *store.Lead) *partner.Request {
	cfg := o.Config.Send
	m := script.LeadMacros(lead)
	req := &partner.Request{URL: m.ExpandURL(cfg.URL), Method: strings.ToUpper(cfg.Method), Headers: map[string]string{},
		Fields: m.ExpandFields(cfg.Fields)}
	if req.Method == "" {
		req.Method = "POST"
	}
	for k, v := range cfg.Headers {
		req.Headers[k] = m.ExpandText(v)
	}
	return req
}

// neverSent says a failed request certainly did not reach the partner:
// no connection was made (refused, unreachable, no such host, dial
// timeout).
func neverSent(err error) bool {
	if errors.Is(err, fasthttp.ErrDialTimeout) || errors.Is(err, fasthttp.ErrNoFreeConns) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// fail marks an attempt for retry; partner failures count for the
// offer's circuit.
func (s *Sender) fail(offer string, a *Attempt, err error, partner bool) {
	a.Outcome, a.Err = "retry", err.Error()
	if partner {
		s.breaker(offer).failure(s.now())
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

// do makes one request to a partner under the sender's timeout, and
// says how long it took.
func (s *Sender) do(req *fasthttp.Request, resp *fasthttp.Response) (store.Duration, error) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	started := time.Now()
	err := s.Client.DoDeadline(req, resp, started.Add(timeout))
	return store.Duration(time.Since(started)), err
}

func (s *Sender) breaker(offer string) *breaker {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.breakers[offer]
	if b == nil {
		b = &breaker{}
		s.breakers[offer] = b
	}
	return b
}

// Circuit says whether an offer's circuit is open, and until when.
func (s *Sender) Circuit(offer string) (open bool, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.breakers[offer]
	if b == nil {
		return false, time.Time{}
	}
	return b.state(s.now())
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

// breaker is an offer's circuit: after breakAfter partner failures in a
// row it opens for a minute, doubling with each failure while open up to
// ten; when the time is up one attempt goes through (half open), and a
// success closes it.
type breaker struct {
	mu        sync.Mutex
	fails     int
	openUntil time.Time
}

func (b *breaker) allow(now time.Time) bool {
	open, _ := b.state(now)
	return !open
}

// state says whether the circuit is open at now, and until when.
func (b *breaker) state(now time.Time) (open bool, until time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fails >= breakAfter && now.Before(b.openUntil), b.openUntil
}

func (b *breaker) failure(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fails++
	if b.fails >= breakAfter {
		d := time.Minute << min(b.fails-breakAfter, 3)
		b.openUntil = now.Add(min(d, 10*time.Minute))
	}
}

func (b *breaker) success() {
	b.mu.Lock()
	b.fails = 0
	b.openUntil = time.Time{}
	b.mu.Unlock()
}

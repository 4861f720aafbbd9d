// Package check runs an offer's status checks (SPEC §3): the three modes
// and their lead sets, the partner request built from offer.toml and the
// macros, the answer decoded (host/decode) and handed to check.lua
// (host/script), and the Scheduler that runs it all on intervals.
package check

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/host"
	"leadhost/host/decode"
	"leadhost/host/partner"
	"leadhost/host/script"
	"leadhost/store"
)

// Defaults of [check] when offer.toml leaves them out.
const (
	DefaultBatch   = 50
	DefaultDays    = 7
	DefaultTimeout = 30 * time.Second
	// keepBytes is how much of a request or response body a report keeps.
	keepBytes = 4 << 10
	// keepLogs is how many script log lines a report keeps.
	keepLogs = 100
)

// ErrPartner marks a run stopped by the partner: no answer in time, a
// refused connection, a non-2xx status or an answer over the size cap.
// Nothing was changed by the request that failed, and the run stopped
// there: later batches would only fail the same way.
var ErrPartner = errors.New("partner failed")

// Runner runs check modes: it picks the leads, asks the partner and hands
// the answers to check.lua. It holds no per-offer state; the scheduler
// (Scheduler) decides when. Make it with NewRunner; it is safe for
// concurrent runs.
type Runner struct {
	Store  store.Store
	Client *fasthttp.Client
	// Timeout is one partner request's deadline (default 30s).
	Timeout time.Duration
	Now     func() time.Time // default time.Now
	// OnAnswer, if set, hears each answer check.lua handled in a run that
	// commits (not a dry one): the leads as the handler got them, the
	// answer's body (the response buffer: copy what is kept) and as
	// decoded, and the edits it made or its error. It must not wait: the
	// shadow runs (host/shadow) queue it, and a candidate reading answers
	// in another format decodes the body its own way.
	OnAnswer func(o *host.Offer, mode host.Mode, leads []*store.Lead, body []byte, data any, edits []store.BatchChange, err error)
	// Pressure, if set, is the host's calls in flight: after each answer
	// a run rests while webhooks wait (host.Pressure.Rest), in proportion
	// to the CPU-bound time the answer took (its page's listing, the
	// request's building, decoding, check.lua), not the partner's.
	Pressure *host.Pressure
}

// Options change one run.
type Options struct {
	// Dry runs the handler and reports the edits without committing them.
	Dry bool
	// Leads, when given, are the leads an ID mode asks about, in batches,
	// instead of those it lists; each must be the offer's.
	Leads []uint64
}

// Report is what one run did: every request and answer (bodies
// truncated), the edits made (or, dry, that would be made) and what went
// wrong.
type Report struct {
	Offer     string              `json:"offer"`
	Mode      host.Mode           `json:"mode"`
	Version   uint64              `json:"version"` // of the offer's scripts
	Dry       bool                `json:"dry,omitempty"`
	Started   time.Time           `json:"started"`
	Duration  store.Duration      `json:"duration"`
	Leads     int                 `json:"leads"` // leads asked about
	Exchanges []Exchange          `json:"requests"`
	Edits     []store.BatchChange `json:"edits"`
	Refused   []string            `json:"refused,omitempty"` // edits the handler asked for and did not get
	Logs      []string            `json:"logs,omitempty"`
	// Stopped says the run ended early because the host is stopping; the
	// leads not asked wait for the next run. Not a failure.
	Stopped bool  `json:"stopped,omitempty"`
	Err     error `json:"-"`
}

// Error is the run's first error as text, "" when it went well.
func (r *Report) Error() string {
	if r.Err == nil {
		return ""
	}
	return r.Err.Error()
}

// MarshalJSON adds the error as text; no requests or edits are empty
// lists, not null.
func (r *Report) MarshalJSON() ([]byte, error) {
	type plain Report
	v := *r
	if v.Exchanges == nil {
		v.Exchanges = []Exchange{}
	}
	if v.Edits == nil {
		v.Edits = []store.BatchChange{}
	}
	return json.Marshal(struct {
		*plain
		Error string `json:"error,omitempty"`
	}{(*plain)(&v), r.Error()})
}

// UnmarshalJSON reads a report as MarshalJSON writes it (a CLI reading
// a running serve's answer), the error back as an error.
func (r *Report) UnmarshalJSON(b []byte) error {
	type plain Report
	var v struct {
		*plain
		Error string `json:"error,omitempty"`
	}
	v.plain = (*plain)(r)
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if v.Error != "" {
		r.Err = errors.New(v.Error)
	}
	return nil
}

// Exchange is one request to the partner and what became of it.
type Exchange struct {
	Method   string            `json:"method"`
	URL      string            `json:"url"`
	Headers  map[string]string `json:"headers,omitempty"`
	Body     string            `json:"body,omitempty"` // truncated
	Leads    int               `json:"leads"`
	From     string            `json:"from,omitempty"` // dates mode
	To       string            `json:"to,omitempty"`
	Status   int               `json:"status,omitempty"`
	Response string            `json:"response,omitempty"` // truncated
	Size     int               `json:"size"`               // of the whole response body
	Duration store.Duration    `json:"duration"`
	Edits    int               `json:"edits"`
	Err      string            `json:"error,omitempty"`
}

// Run runs one mode of an offer now. The report always comes back; its
// Err says whether the run failed. Each request's edits commit together
// when its handler ends well; a request that fails changes nothing.
func (r *Runner) Run(ctx context.Context, o *host.Offer, mode host.Mode, opt Options) *Report {
	now := r.now()
	rep := &Report{Offer: o.ID, Mode: mode, Version: o.Version, Dry: opt.Dry, Started: now.UTC()}
	defer func() { rep.Duration = store.Duration(r.now().Sub(now)) }()
	cfg := o.Config.Check
	switch {
	case cfg == nil:
		rep.Err = fmt.Errorf("offer %s has no [check] in offer.toml", o.ID)
		return rep
	case o.Scripts["check.lua"] == nil:
		rep.Err = fmt.Errorf("offer %s has no check.lua", o.ID)
		return rep
	}
	run := &runState{Runner: r, o: o, rep: rep, opt: opt}
	var err error
	switch mode {
	case host.ModeProcessing, host.ModeAccepted:
		err = run.byIDs(ctx, idModeStatuses(mode))
	case host.ModeDates:
		err = run.byDates(ctx, now)
	default:
		err = fmt.Errorf("unknown mode %q (processing, accepted, dates)", mode)
	}
	run.settle()
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		rep.Stopped = true
	}
	if rep.Err == nil {
		rep.Err = err
	}
	return rep
}

// NewRunner makes a runner on st with a partner client of its own.
func NewRunner(st store.Store) *Runner {
	return &Runner{Store: st, Client: partner.NewClient(0)}
}

// idModeStatuses are the statuses an ID mode asks about (SPEC §3).
func idModeStatuses(mode host.Mode) store.StatusSet {
	if mode == host.ModeAccepted {
		return store.InAccepted
	}
	return store.InProcessing
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// runState is one run in progress.
type runState struct {
	*Runner
	o   *host.Offer
	rep *Report
	opt Options
	// committing is the previous request's commit, in flight while the
	// next request goes out: one at a time, in order.
	committing chan func()
	// asked is the time the last exchange waited for the partner: what
	// a rest does not count as work.
	asked time.Duration
}

// rest gives way to the host's calls after an answer whose exchange
// began at begun and whose leads took listed to read (see
// Runner.Pressure).
//
// The commit in flight is settled first: resting while it lands would
// hide the rest in a wait the run has anyway, and give the calls nothing.
func (run *runState) rest(ctx context.Context, begun time.Time, listed time.Duration) {
	worked := listed + time.Since(begun) - run.asked
	run.asked = 0
	if !run.Pressure.Busy() {
		return
	}
	run.settle()
	run.Pressure.Rest(ctx, worked)
}

// byIDs asks about the offer's leads in statuses, batch by batch, oldest
// first. Paging by cursor: a lead the handler moves within the same
// bucket keeps its place, one it moves out is simply not met again. The
// next page is read while the partner is asked about this one.
func (run *runState) byIDs(ctx context.Context, statuses store.StatusSet) error {
	size := run.o.Config.Check.Batch
	if size <= 0 {
		size = DefaultBatch
	}
	if len(run.opt.Leads) > 0 {
		return run.byGivenIDs(ctx, size)
	}
	pages := make(chan listed, 1)
	stop := make(chan struct{})
	go run.listPages(ctx, store.Query{Offer: run.o.ID, Statuses: statuses, Limit: size}, pages, stop)
	defer func() {
		close(stop)
		for p := range pages {
			if p.batch != nil {
				p.batch.Discard()
			}
		}
	}()
	onlyExt := run.asksByExtOnly()
	for p := range pages {
		if p.err != nil {
			return fmt.Errorf("listing leads: %w", p.err)
		}
		leads := p.leads
		if onlyExt {
			leads = withExt(leads)
			if len(leads) == 0 {
				p.batch.Discard()
				continue
			}
		}
		begun := time.Now()
		if err := run.exchange(ctx, p.batch, leads, script.IDMacros(leads), time.Time{}, time.Time{}); err != nil {
			return err
		}
		run.rest(ctx, begun, p.took)
	}
	return nil
}

// byGivenIDs asks about the leads a person named, batch by batch.
func (run *runState) byGivenIDs(ctx context.Context, size int) error {
	for ids := range slices.Chunk(run.opt.Leads, size) {
		begun := time.Now()
		b := run.Store.NewBatch() // begun before the leads are read, as listPages does
		leads, err := OfferLeads(ctx, run.Store, run.o.ID, ids)
		if err != nil {
			b.Discard()
			return err
		}
		if err := run.exchange(ctx, b, leads, script.IDMacros(leads), time.Time{}, time.Time{}); err != nil {
			return err
		}
		run.rest(ctx, begun, 0)
	}
	return nil
}

// OfferLeads reads the leads a person named; each must be the offer's.
func OfferLeads(ctx context.Context, st store.Store, offer string, ids []uint64) ([]*store.Lead, error) {
	leads := make([]*store.Lead, 0, len(ids))
	for _, id := range ids {
		l, err := st.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if l.Offer != offer {
			return nil, fmt.Errorf("lead %d is offer %s's, not %s's: %w", id, l.Offer, offer, store.ErrInvalid)
		}
		leads = append(leads, l)
	}
	return leads, nil
}

// asksByExtOnly says the request names leads only by the partner's ids
// ({idel} {ide}, no prepare.lua): a lead without one cannot be asked about.
func (run *runState) asksByExtOnly() bool {
	if run.o.Scripts["prepare.lua"] != nil {
		return false
	}
	cfg := run.o.Config.Check
	tmpl := cfg.URL
	for _, v := range cfg.Fields {
		tmpl += " " + v
	}
	byExt := strings.Contains(tmpl, "{idel}") || strings.Contains(tmpl, "{ide}")
	byID := strings.Contains(tmpl, "{idsl}") || strings.Contains(tmpl, "{ids}")
	return byExt && !byID
}

func withExt(leads []*store.Lead) []*store.Lead {
	out := leads[:0:0]
	for _, l := range leads {
		if l.Ext != "" {
			out = append(out, l)
		}
	}
	return out
}

// listed is one page of leads, with the batch begun before it was read
// (so that the batch may take the leads as read: store.Batch.Seed).
type listed struct {
	batch store.Batch
	leads []*store.Lead
	took  time.Duration // to read them
	err   error
}

// listPages sends the pages of q until the last, an error, or stop.
func (run *runState) listPages(ctx context.Context, q store.Query, pages chan<- listed, stop <-chan struct{}) {
	defer close(pages)
	for {
		select {
		case <-stop:
			return
		default:
		}
		begun := time.Now()
		b := run.Store.NewBatch()
		page, err := run.Store.List(ctx, q)
		if err != nil || len(page.Leads) == 0 {
			b.Discard()
			if err != nil {
				select {
				case pages <- listed{err: err}:
				case <-stop:
				}
			}
			return
		}
		select {
		case pages <- listed{batch: b, leads: page.Leads, took: time.Since(begun)}:
		case <-stop:
			b.Discard()
			return
		}
		if page.Next == "" {
			return
		}
		q.Cursor = page.Next
	}
}

// byDates asks about ranges of `days` days, in the offer's time zone,
// that hold non-terminal leads: a range starts on a day with leads, and
// days without leads between ranges are skipped.
func (run *runState) byDates(ctx context.Context, now time.Time) error {
	days := run.o.Config.Check.Days
	if days <= 0 {
		days = DefaultDays
	}
	loc := run.o.Location
	held, err := run.Store.CreatedDays(ctx, run.o.ID, time.Unix(0, 0), now.Add(24*time.Hour), loc, store.NonTerminal)
	if err != nil {
		return fmt.Errorf("listing days: %w", err)
	}
	for i := 0; i < len(held); {
		from := held[i]
		end := from.AddDate(0, 0, days)
		for i < len(held) && held[i].Before(end) {
			i++
		}
		begun := time.Now()
		b := run.Store.NewBatch()
		leads, err := run.Store.CreatedBetween(ctx, run.o.ID, from, end, store.NonTerminal, 0)
		if err != nil {
			b.Discard()
			return fmt.Errorf("listing leads: %w", err)
		}
		if len(leads) > 0 { // none: they moved on since the days were read
			last := end.Add(-time.Second)
			if err := run.exchange(ctx, b, leads, script.DatesMacros(from, last, loc), from, last); err != nil {
				return err
			}
			run.rest(ctx, begun, 0)
		} else {
			b.Discard()
		}
	}
	return nil
}

func (run *runState) fail(ex *Exchange, err error) error {
	ex.Err = err.Error()
	run.rep.Exchanges = append(run.rep.Exchanges, *ex)
	if run.rep.Err == nil {
		run.rep.Err = err
	}
	return err
}

func (run *runState) log(kind, msg string) {
	if len(run.rep.Logs) < keepLogs {
		run.rep.Logs = append(run.rep.Logs, kind+": "+msg)
	}
}

// exchange makes one request about leads, decodes the answer and runs
// check.lua on it. It returns an error only when the run should stop
// (ErrPartner, a cancelled context); a bad answer or a failing handler is
// recorded and the run goes on with the next batch.
//
// batch was begun before leads were read; the handler's edits go into it
// and are committed (see commit), or it is discarded.
func (run *runState) exchange(ctx context.Context, batch store.Batch, leads []*store.Lead, m script.Macros, from, to time.Time) error {
	committing := false
	defer func() {
		if !committing {
			batch.Discard()
		}
	}()
	if err := ctx.Err(); err != nil {
		return err // stopping: the batches left wait for the next run
	}
	// A request begun is finished, and its edits committed, even when the
	// host is stopping meanwhile — unless its answer is still awaited
	// StopGrace after the stop: then it is given up (it changed nothing),
	// so that a partner that does not answer cannot hold the host's stop.
	deadline := run.deadline(ctx)
	stop, release := graceful(ctx)
	defer release()
	ctx = context.WithoutCancel(ctx)
	o, rep := run.o, run.rep
	cfg := o.Config.Check
	rep.Leads += len(leads)
	templates := []string{cfg.URL}
	for _, v := range cfg.Fields {
		templates = append(templates, v)
	}
	if missing := m.Unfilled(script.CheckMacros, templates...); len(missing) > 0 {
		// Every request of the run would go out with the macro's text in
		// it: none does, and the run stops here.
		ex := &Exchange{Leads: len(leads), Method: strings.ToUpper(cfg.Method), URL: cfg.URL}
		return run.fail(ex, fmt.Errorf("the %s mode has no value for %s, which [check] uses: this offer's url and fields are made for another mode", rep.Mode, strings.Join(missing, ", ")))
	}
	req := &partner.Request{
		URL:     m.ExpandURL(cfg.URL),
		Method:  strings.ToUpper(cfg.Method),
		Headers: make(map[string]string, len(cfg.Headers)),
		Fields:  m.ExpandFields(cfg.Fields),
	}
	if req.Method == "" {
		req.Method = "GET"
	}
	for k, v := range cfg.Headers {
		req.Headers[k] = v
	}
	ex := &Exchange{Leads: len(leads)}
	if !from.IsZero() {
		ex.From, ex.To = from.In(o.Location).Format(time.DateTime), to.In(o.Location).Format(time.DateTime)
	}
	if prep := o.Scripts["prepare.lua"]; prep != nil {
		_, err := o.Pool.RunPrepare(ctx, prep, script.Prepare{Leads: leads, From: from, To: to, Location: o.Location, Request: req, Log: run.log})
		if err != nil {
			ex.Method, ex.URL = req.Method, req.URL
			run.fail(ex, fmt.Errorf("prepare.lua: %w", err))
			return nil
		}
	}

	hreq, hresp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(hreq)
	defer fasthttp.ReleaseResponse(hresp)
	if err := partner.Encode(hreq, req, cfg.Body); err != nil {
		ex.Method, ex.URL = req.Method, req.URL
		run.fail(ex, err)
		return nil
	}
	ex.Method, ex.URL, ex.Headers, ex.Body = req.Method, string(hreq.URI().FullURI()), req.Headers, partner.Excerpt(hreq.Body(), keepBytes)
	started := time.Now()
	err := partner.Do(stop, run.Client, hreq, hresp, deadline)
	run.asked = time.Since(started)
	ex.Duration = store.Duration(run.asked)
	if err != nil && stop.Err() != nil {
		// Stopped, not failed: these leads and those left wait for the
		// next run.
		return run.fail(ex, fmt.Errorf("no answer %s after the run was stopped: %w", StopGrace, context.Canceled))
	}
	if err != nil {
		return run.fail(ex, fmt.Errorf("%w: %s %s: %v", ErrPartner, ex.Method, ex.URL, partner.Describe(err)))
	}
	body := hresp.Body()
	ex.Status, ex.Size, ex.Response = hresp.StatusCode(), len(body), partner.Excerpt(body, keepBytes)
	if ex.Status < 200 || ex.Status > 299 {
		if len(leads) == 1 && ex.Status >= 400 && ex.Status < 500 {
			// About one lead (batch = 1), a 4xx is about that lead (an
			// order the partner does not know): the others still get asked.
			run.fail(ex, fmt.Errorf("%s %s: status %d for lead %d", ex.Method, ex.URL, ex.Status, leads[0].ID))
			return nil
		}
		return run.fail(ex, fmt.Errorf("%w: %s %s: status %d", ErrPartner, ex.Method, ex.URL, ex.Status))
	}
	data, err := decode.Decode(cfg.Format, body)
	if err != nil {
		run.fail(ex, fmt.Errorf("undecodable answer (format %s): %w", decode.FormatName(cfg.Format), err))
		return nil
	}
	res, err := o.Pool.RunCheck(ctx, o.Scripts["check.lua"], script.Check{Store: run.Store,
		Offer: o.ID, Leads: leads, Data: data, Words: o.Words, Dry: run.opt.Dry, Log: run.log,
		Batch: batch, LeaveBatch: true,
	})
	rep.Refused = append(rep.Refused, res.Refused...)
	if run.OnAnswer != nil && !run.opt.Dry {
		run.OnAnswer(o, rep.Mode, leads, body, data, res.Edits, err)
	}
	if err != nil {
		run.fail(ex, err)
		return nil
	}
	if run.opt.Dry {
		ex.Edits = len(res.Edits)
		rep.Edits = append(rep.Edits, res.Edits...)
		rep.Exchanges = append(rep.Exchanges, *ex)
		return nil
	}
	committing = true
	run.commit(ctx, batch, ex, res.Edits)
	return nil
}

// commit commits a request's batch while the run goes on to the next
// request: the fsync of one overlaps the partner's answer to the next.
// The previous commit is settled first, so at most one is in flight and
// the report stays in request order.
func (run *runState) commit(ctx context.Context, batch store.Batch, ex *Exchange, edits []store.BatchChange) {
	run.settle()
	i := len(run.rep.Exchanges)
	run.rep.Exchanges = append(run.rep.Exchanges, *ex)
	done := make(chan func(), 1)
	run.committing = done
	go func() {
		cr, err := batch.Commit(ctx)
		done <- func() { // applied to the report by the run's goroutine
			rep := run.rep
			refused := map[uint64]bool{}
			for _, e := range cr.Refused {
				rep.Refused = append(rep.Refused, e.Error())
				var re *store.RefusedEdit
				if errors.As(e, &re) {
					refused[re.LeadID] = true
				}
			}
			if err != nil {
				err = fmt.Errorf("check.lua: commit: %w", err)
				rep.Exchanges[i].Err = err.Error()
				if rep.Err == nil {
					rep.Err = err
				}
				return
			}
			// A lead another writer changed meanwhile may have had an edit
			// refused at commit: its changes are listed under Refused.
			for _, e := range edits {
				if !refused[e.LeadID] {
					rep.Edits = append(rep.Edits, e)
				}
			}
			rep.Exchanges[i].Edits = cr.Edits
		}
	}()
}

// settle waits for the commit in flight, if any, and records its outcome.
func (run *runState) settle() {
	if run.committing != nil {
		(<-run.committing)()
		run.committing = nil
	}
}

// StopGrace is how long a partner request in flight when its run is
// stopped may still take to be answered.
const StopGrace = 5 * time.Second

// graceful is a context that ends StopGrace after ctx does.
func graceful(ctx context.Context) (context.Context, context.CancelFunc) {
	out, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stopAfter := context.AfterFunc(ctx, func() {
		grace := time.AfterFunc(StopGrace, cancel)
		context.AfterFunc(out, func() { grace.Stop() })
	})
	return out, func() { stopAfter(); cancel() }
}

// deadline is the earlier of the request timeout and the run's context.
func (r *Runner) deadline(ctx context.Context) time.Time {
	t := r.Timeout
	if t <= 0 {
		t = DefaultTimeout
	}
	d := time.Now().Add(t)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		return cd
	}
	return d
}

// maxDryLeads bounds the leads a dry run against a given answer offers
// the handler.
const maxDryLeads = 1000

// DryRun hands a partner answer given by a person (body) to check.lua as
// if it had come back for the mode's leads (the oldest 1,000 of them),
// and reports the edits the handler would make. Nothing is asked of the
// partner and nothing is committed: the way to try a new check.lua on a
// recorded answer before it goes live.
func (r *Runner) DryRun(ctx context.Context, o *host.Offer, mode host.Mode, body []byte, ids []uint64) *Report {
	rep := &Report{Offer: o.ID, Mode: mode, Version: o.Version, Dry: true, Started: r.now().UTC()}
	defer func() { rep.Duration = store.Duration(r.now().Sub(rep.Started)) }()
	cfg := o.Config.Check
	if cfg == nil || o.Scripts["check.lua"] == nil {
		rep.Err = fmt.Errorf("offer %s has no [check] and check.lua", o.ID)
		return rep
	}
	var leads []*store.Lead
	var err error
	switch {
	case len(ids) > 0:
		leads, err = OfferLeads(ctx, r.Store, o.ID, ids)
	case mode == host.ModeProcessing, mode == host.ModeAccepted:
		var page store.Page
		page, err = r.Store.List(ctx, store.Query{Offer: o.ID, Statuses: idModeStatuses(mode), Limit: maxDryLeads})
		leads = page.Leads
	case mode == host.ModeDates:
		leads, err = r.Store.CreatedBetween(ctx, o.ID, time.Unix(0, 0), r.now().Add(24*time.Hour), store.NonTerminal, maxDryLeads)
	default:
		err = fmt.Errorf("unknown mode %q (processing, accepted, dates)", mode)
	}
	if err != nil {
		rep.Err = err
		return rep
	}
	rep.Leads = len(leads)
	ex := Exchange{Leads: len(leads), Status: 200, Size: len(body), Response: partner.Excerpt(body, keepBytes)}
	data, err := decode.Decode(cfg.Format, body)
	if err != nil {
		rep.Err = fmt.Errorf("undecodable answer (format %s): %w", decode.FormatName(cfg.Format), err)
		ex.Err = rep.Err.Error()
		rep.Exchanges = append(rep.Exchanges, ex)
		return rep
	}
	res, err := o.Pool.RunCheck(ctx, o.Scripts["check.lua"], script.Check{Store: r.Store,
		Offer: o.ID, Leads: leads, Data: data, Words: o.Words, Dry: true,
		Log: func(kind, msg string) {
			if len(rep.Logs) < keepLogs {
				rep.Logs = append(rep.Logs, kind+": "+msg)
			}
		},
	})
	rep.Refused = res.Refused
	if err != nil {
		rep.Err = err
		ex.Err = err.Error()
	}
	ex.Edits = len(res.Edits)
	rep.Edits = res.Edits
	rep.Exchanges = append(rep.Exchanges, ex)
	return rep
}

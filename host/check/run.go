package check

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"leadhost/host"
	"leadhost/host/script"
	"leadhost/store"
)

// The check modes (SPEC §3).
const (
	Processing = "processing"
	Accepted   = "accepted"
	Dates      = "dates"
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
	Store  *store.Store
	Client *fasthttp.Client
	// Timeout is one partner request's deadline (default 30s).
	Timeout time.Duration
	Now     func() time.Time // default time.Now
}

// Options change one run.
type Options struct {
	// Dry runs the handler and reports the edits without committing them.
	Dry bool
}

// Report is what one run did: every request and answer (bodies
// truncated), the edits made (or, dry, that would be made) and what went
// wrong.
type Report struct {
	Offer     string              `json:"offer"`
	Mode      string              `json:"mode"`
	Version   uint64              `json:"version"` // of the offer's scripts
	Dry       bool                `json:"dry,omitempty"`
	Started   time.Time           `json:"started"`
	Duration  time.Duration       `json:"duration_ns"`
	Leads     int                 `json:"leads"` // leads asked about
	Exchanges []Exchange          `json:"requests"`
	Edits     []store.BatchChange `json:"edits"`
	Refused   []string            `json:"refused,omitempty"` // edits the handler asked for and did not get
	Logs      []string            `json:"logs,omitempty"`
	Err       error               `json:"-"`
}

// Error is the run's first error as text, "" when it went well.
func (r *Report) Error() string {
	if r.Err == nil {
		return ""
	}
	return r.Err.Error()
}

// MarshalJSON adds the error as text.
func (r *Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		*plain
		Error string `json:"error,omitempty"`
	}{(*plain)(r), r.Error()})
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
	Duration time.Duration     `json:"duration_ns"`
	Edits    int               `json:"edits"`
	Err      string            `json:"error,omitempty"`
}

// Run runs one mode of an offer now. The report always comes back; its
// Err says whether the run failed. Each request's edits commit together
// when its handler ends well; a request that fails changes nothing.
func (r *Runner) Run(ctx context.Context, o *host.Offer, mode string, opt Options) *Report {
	now := r.now()
	rep := &Report{Offer: o.ID, Mode: mode, Version: o.Version, Dry: opt.Dry, Started: now}
	defer func() { rep.Duration = r.now().Sub(now) }()
	cfg := o.Config.Check
	switch {
	case cfg == nil:
		rep.Err = fmt.Errorf("offer %s has no [check] in offer.toml", o.ID)
		return rep
	case o.Scripts["check.lua"] == nil:
		rep.Err = fmt.Errorf("offer %s has no check.lua", o.ID)
		return rep
	}
	var err error
	switch mode {
	case Processing:
		err = r.runIDs(ctx, o, rep, store.InProcessing, opt)
	case Accepted:
		err = r.runIDs(ctx, o, rep, store.InAccepted, opt)
	case Dates:
		err = r.runDates(ctx, o, rep, now, opt)
	default:
		err = fmt.Errorf("unknown mode %q (processing, accepted, dates)", mode)
	}
	if rep.Err == nil {
		rep.Err = err
	}
	return rep
}

// NewRunner makes a runner on st with a partner client of its own.
func NewRunner(st *store.Store) *Runner {
	return &Runner{Store: st, Client: host.NewPartnerClient(0)}
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// runIDs asks about the offer's leads in statuses, batch by batch, oldest
// first. Paging by cursor: a lead the handler moves within the same
// bucket keeps its place, one it moves out is simply not met again.
func (r *Runner) runIDs(ctx context.Context, o *host.Offer, rep *Report, statuses store.StatusSet, opt Options) error {
	batch := o.Config.Check.Batch
	if batch <= 0 {
		batch = DefaultBatch
	}
	cursor := ""
	for {
		page, err := r.Store.List(ctx, store.Query{Offer: o.ID, Statuses: statuses, Cursor: cursor, Limit: batch})
		if err != nil {
			return fmt.Errorf("listing leads: %w", err)
		}
		if len(page.Leads) > 0 {
			if err := r.exchange(ctx, o, rep, page.Leads, script.IDMacros(page.Leads), time.Time{}, time.Time{}, opt); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		cursor = page.Next
	}
}

// runDates asks about ranges of `days` days, in the offer's time zone,
// that hold non-terminal leads: a range starts on a day with leads, and
// days without leads between ranges are skipped.
func (r *Runner) runDates(ctx context.Context, o *host.Offer, rep *Report, now time.Time, opt Options) error {
	days := o.Config.Check.Days
	if days <= 0 {
		days = DefaultDays
	}
	loc := o.Location
	held, err := r.Store.CreatedDays(ctx, o.ID, time.Unix(0, 0), now.Add(24*time.Hour), loc, store.NonTerminal)
	if err != nil {
		return fmt.Errorf("listing days: %w", err)
	}
	for i := 0; i < len(held); {
		from := held[i]
		end := from.AddDate(0, 0, days)
		for i < len(held) && held[i].Before(end) {
			i++
		}
		leads, err := r.Store.CreatedBetween(ctx, o.ID, from, end, store.NonTerminal, 0)
		if err != nil {
			return fmt.Errorf("listing leads: %w", err)
		}
		if len(leads) == 0 {
			continue // moved on since the days were read
		}
		last := end.Add(-time.Second)
		if err := r.exchange(ctx, o, rep, leads, script.DatesMacros(from, last, loc), from, last, opt); err != nil {
			return err
		}
	}
	return nil
}

// exchange makes one request about leads, decodes the answer and runs
// check.lua on it. It returns an error only when the run should stop
// (ErrPartner, a cancelled context); a bad answer or a failing handler is
// recorded and the run goes on with the next batch.
func (r *Runner) exchange(ctx context.Context, o *host.Offer, rep *Report, leads []*store.Lead, m script.Macros, from, to time.Time, opt Options) error {
	if err := ctx.Err(); err != nil {
		return err // stopping: the batches left wait for the next run
	}
	// A request begun is finished, and its edits committed, even when the
	// host is stopping meanwhile: its deadline bounds it.
	deadline := r.deadline(ctx)
	ctx = context.WithoutCancel(ctx)
	cfg := o.Config.Check
	rep.Leads += len(leads)
	fail := func(ex *Exchange, err error) error {
		ex.Err = err.Error()
		rep.Exchanges = append(rep.Exchanges, *ex)
		if rep.Err == nil {
			rep.Err = err
		}
		return err
	}
	log := func(kind, msg string) {
		if len(rep.Logs) < keepLogs {
			rep.Logs = append(rep.Logs, kind+": "+msg)
		}
	}
	req := &script.Request{
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
		err := o.Pool.RunPrepare(ctx, prep, script.Prepare{Leads: leads, From: from, To: to, Location: o.Location, Request: req, Log: log})
		if err != nil {
			ex.Method, ex.URL = req.Method, req.URL
			fail(ex, fmt.Errorf("prepare.lua: %w", err))
			return nil
		}
	}

	hreq, hresp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(hreq)
	defer fasthttp.ReleaseResponse(hresp)
	if err := encodeRequest(hreq, req, cfg.Body); err != nil {
		ex.Method, ex.URL = req.Method, req.URL
		fail(ex, err)
		return nil
	}
	ex.Method, ex.URL, ex.Headers, ex.Body = req.Method, string(hreq.URI().FullURI()), req.Headers, keep(hreq.Body())
	started := time.Now()
	err := r.Client.DoDeadline(hreq, hresp, deadline)
	ex.Duration = time.Since(started)
	if err != nil {
		return fail(ex, fmt.Errorf("%w: %s %s: %v", ErrPartner, ex.Method, ex.URL, describe(err)))
	}
	body := hresp.Body()
	ex.Status, ex.Size, ex.Response = hresp.StatusCode(), len(body), keep(body)
	if ex.Status < 200 || ex.Status > 299 {
		return fail(ex, fmt.Errorf("%w: %s %s: status %d", ErrPartner, ex.Method, ex.URL, ex.Status))
	}
	data, err := Decode(cfg.Format, body)
	if err != nil {
		fail(ex, fmt.Errorf("undecodable answer (format %s): %w", orJSON(cfg.Format), err))
		return nil
	}
	res, err := o.Pool.RunCheck(ctx, o.Scripts["check.lua"], r.Store, script.Check{
		Offer: o.ID, Leads: leads, Data: data, Words: o.Words, Dry: opt.Dry, Log: log,
	})
	rep.Refused = append(rep.Refused, res.Refused...)
	if err != nil {
		fail(ex, err)
		return nil
	}
	for _, e := range res.Commit.Refused {
		rep.Refused = append(rep.Refused, e.Error())
	}
	ex.Edits = len(res.Edits)
	rep.Edits = append(rep.Edits, res.Edits...)
	rep.Exchanges = append(rep.Exchanges, *ex)
	return nil
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

// describe words fasthttp's errors for people reading a report.
func describe(err error) string {
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout):
		return "no answer in time"
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return "answer too large"
	}
	return err.Error()
}

func orJSON(format string) string {
	if format == "" {
		return "json"
	}
	return format
}

// keep returns at most keepBytes of b as text, cut on a rune boundary.
func keep(b []byte) string {
	if len(b) <= keepBytes {
		return string(b)
	}
	cut := keepBytes
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes more)", b[:cut], len(b)-cut)
}

// encodeRequest writes a status request: on GET the fields join the
// query; on POST they are the body, as a form (name[]=… for arrays) or a
// JSON object (arrays as arrays, every value a string) by bodyFormat. A
// body prepare.lua set travels as it is, as JSON when it looks like JSON
// and no Content-Type says otherwise.
func encodeRequest(hreq *fasthttp.Request, r *script.Request, bodyFormat string) error {
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("request url %q: want an absolute http(s) URL", r.URL)
	}
	hreq.Header.SetMethod(r.Method)
	for k, v := range r.Headers {
		hreq.Header.Set(k, v)
	}
	target := r.URL
	switch {
	case r.Method == "GET":
		if len(r.Fields) > 0 {
			sep := "?"
			if strings.Contains(target, "?") {
				sep = "&"
			}
			target += sep + encodeForm(r.Fields)
		}
	case r.Body != "":
		hreq.SetBodyString(r.Body)
		if len(hreq.Header.ContentType()) == 0 || string(hreq.Header.ContentType()) == "application/octet-stream" {
			if b := strings.TrimSpace(r.Body); strings.HasPrefix(b, "{") || strings.HasPrefix(b, "[") {
				hreq.Header.SetContentType("application/json")
			} else {
				hreq.Header.SetContentType("application/x-www-form-urlencoded")
			}
		}
	case bodyFormat == "json":
		obj := make(map[string]any, len(r.Fields))
		for k, vs := range r.Fields {
			if name, isList := strings.CutSuffix(k, "[]"); isList {
				obj[name] = vs
			} else if len(vs) > 0 {
				obj[k] = vs[0]
			}
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		hreq.SetBody(b)
		hreq.Header.SetContentType("application/json")
	default:
		hreq.SetBodyString(encodeForm(r.Fields))
		hreq.Header.SetContentType("application/x-www-form-urlencoded")
	}
	hreq.SetRequestURI(target)
	return nil
}

// encodeForm writes fields as a query string, names sorted so that the
// same request is the same text; arrays as name[]=a&name[]=b, the
// brackets left readable as PHP partners write them.
func encodeForm(fields map[string][]string) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		name, isList := strings.CutSuffix(k, "[]")
		key := url.QueryEscape(name)
		if isList {
			key += "[]"
		}
		for _, v := range fields[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(key)
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
		}
	}
	return b.String()
}

// Package cases runs an offer's test cases (SPEC §6, `leadhost test`):
// each file in scripts/<offer>/tests/ is a webhook request, a recorded
// partner answer or a send's reply, with the leads before and what the
// leads, the reply and the request should be after.
//
// Cases drive the paths production takes, on the assembled app (host/app)
// with an in-memory store: a check case is a run of the real runner
// (prepare.lua, the request encoder, the decoder, check.lua, the commit);
// a send case a delivery by the real outbox; a hook case a call through
// the real webhook handler, token check included. Only the partner is
// fake: the HTTP client answers every request with the recorded answer
// (Canned), so nothing leaves the machine and the request is seen exactly
// as it would have left.
package cases

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"leadhost/host"
	"leadhost/host/app"
	"leadhost/host/check"
	"leadhost/host/script"
	"leadhost/host/send"
	"leadhost/store"

	"github.com/valyala/fasthttp"
)

// Case is one test case file.
type Case struct {
	Name  string          `json:"name"`
	Leads []store.NewLead `json:"leads"` // in the store before the run (the offer is filled in)
	Check *CheckCase      `json:"check"`
	Hook  *HookCase       `json:"hook"`
	Send  *SendCase       `json:"send"`
	// At is the case's clock when it starts (RFC 3339; default: now);
	// Advance moves it on after the hook or send ("8d", "2h", "1d12h"),
	// and the scheduler takes a step then: holds that expired are
	// approved, schedules that came due run — a check case's answer
	// answers them, instead of one run at once.
	At      string      `json:"at"`
	Advance string      `json:"advance"`
	Want    Expectation `json:"expect"`
}

// CheckCase is a partner's answer to a status check: a run of the mode
// (default: the offer's first) asks about the case's leads that mode
// reads, and every request gets this answer.
type CheckCase struct {
	Mode         string `json:"mode"`
	Response     string `json:"response"`      // the body, as text
	ResponseFile string `json:"response_file"` // or a file, relative to the case
}

// HookCase is a webhook call.
type HookCase struct {
	Name string `json:"name"` // hooks/<name>.lua; "" for hook.lua
	// Token is sent as ?token=; absent, the offer's own ("" sends none).
	Token   *string             `json:"token"`
	Method  string              `json:"method"`
	Query   map[string][]string `json:"query"`
	Form    map[string][]string `json:"form"`
	JSON    json.RawMessage     `json:"json"`
	Headers map[string]string   `json:"headers"`
	IP      string              `json:"ip"`
}

// SendCase is the partner's reply to the send of the case's first lead.
type SendCase struct {
	Status int    `json:"status"` // default 200
	Body   string `json:"body"`
}

// Expectation is what should be true after the run; only what it names
// is compared.
type Expectation struct {
	// Leads by "ext" (or "id"), each field named compared with the lead
	// as the API shows it; "fields" compares the named fields only.
	Leads []map[string]any `json:"leads"`
	// Count is how many leads the offer has after the run (hooks), when
	// set.
	Count *int `json:"count"`
	// Reply of a hook: status and, when given, its JSON body (the named
	// keys) or text.
	Reply *struct {
		Status int            `json:"status"`
		JSON   map[string]any `json:"json"`
		Body   *string        `json:"body"`
	} `json:"reply"`
	// Request a send makes, or a check's first request.
	Request *RequestExpectation `json:"request"`
	// Postbacks are the outgoing postbacks the case's changes make, in
	// order, each as the host and path?query it goes to
	// ("tracker.example/pb?id=1&status=approve"); the trackers answer 200.
	Postbacks []string `json:"postbacks"`
	// Error says the run should fail, with this in the message.
	Error string `json:"error"`
}

// RequestExpectation is what should leave: method, path, query and
// body fields (a form's, or a JSON object's top level), headers (only
// those named, Content-Type included).
type RequestExpectation struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Query   map[string]string `json:"query"`
	Form    map[string]string `json:"form"`
	Headers map[string]string `json:"headers"`
}

// Result is one case's outcome.
type Result struct {
	Offer, File, Name string
	Diffs             []string // what differs from the expectation; none: passed
}

// Passed says the case held.
func (r Result) Passed() bool { return len(r.Diffs) == 0 }

// caseLoad is how cases load offers: the examples' placeholder secrets are
// fine, since nothing leaves the machine.
var caseLoad = host.LoadOptions{AllowPlaceholders: true}

// Handler makes the webhook handler of an app: api.Server's, which this
// package cannot import (api sits above host); `leadhost test` passes it.
type Handler func(a *app.App) fasthttp.RequestHandler

// Run runs the cases under path: a scripts folder (every offer in it) or
// one offer's folder. Offers that do not load are errors; an offer
// without tests/ has no cases.
func Run(ctx context.Context, path string, handler Handler) ([]Result, error) {
	path = filepath.Clean(path) // "scripts/acme/", as a shell completes it, is scripts/acme
	if _, err := os.Stat(filepath.Join(path, "offer.toml")); err == nil {
		return runOffer(ctx, path, handler)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var out []Result
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		res, err := runOffer(ctx, filepath.Join(path, e.Name()), handler)
		out = append(out, res...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

func runOffer(ctx context.Context, dir string, handler Handler) ([]Result, error) {
	if _, errs := host.LoadOfferWith(dir, caseLoad); len(errs) > 0 {
		return nil, fmt.Errorf("%s does not load: %w", dir, errors.Join(errs...))
	}
	files, _ := filepath.Glob(filepath.Join(dir, "tests", "*.json"))
	sort.Strings(files)
	var out []Result
	for _, f := range files {
		out = append(out, runCase(ctx, dir, f, handler))
	}
	return out, nil
}

func runCase(ctx context.Context, dir, file string, handler Handler) Result {
	res := Result{Offer: filepath.Base(dir), File: file, Name: strings.TrimSuffix(filepath.Base(file), ".json")}
	fail := func(format string, a ...any) Result {
		res.Diffs = append(res.Diffs, fmt.Sprintf(format, a...))
		return res
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return fail("%v", err)
	}
	var c Case
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return fail("the case does not read: %v", err)
	}
	if c.Name != "" {
		res.Name = c.Name
	}
	kinds := 0
	for _, set := range []bool{c.Check != nil, c.Hook != nil, c.Send != nil} {
		if set {
			kinds++
		}
	}
	if kinds > 1 || (kinds == 0 && c.Advance == "") {
		return fail("a case is one of check, hook or send (or only leads and advance)")
	}
	clk, err := newClock(c.At)
	if err != nil {
		return fail("at: %v", err)
	}
	var advance time.Duration
	if c.Advance != "" {
		if advance, err = parseAdvance(c.Advance); err != nil {
			return fail("advance: %v", err)
		}
	}
	if c.Want.Request != nil && c.Hook != nil {
		return fail("expect.request is checked for send and check cases only")
	}
	if c.Want.Reply != nil && c.Hook == nil {
		return fail("expect.reply is checked for hook cases only")
	}
	// The app is the one serve assembles, on the scripts folder the offer
	// is in, with a store of its own in memory.
	a, err := app.Open(ctx, app.Config{InMemory: true, Scripts: filepath.Dir(dir), Load: caseLoad, Now: clk.now})
	if err != nil {
		return fail("%v", err)
	}
	defer a.Close()
	o, err := a.Offer(res.Offer)
	if err != nil {
		return fail("%v", err)
	}
	for _, nl := range c.Leads {
		nl.Offer, nl.By = o.ID, "test"
		if _, _, err := a.Store.Add(ctx, nl); err != nil {
			return fail("lead %s: %v", nl.Ext, err)
		}
	}
	var (
		runErr error
		reply  *script.HookReply
		sent   []*fasthttp.Request
	)
	switch {
	case c.Check != nil && advance > 0:
		// The check runs when its schedule comes due on the clock.
		canned, err := cannedAnswer(c.Check, filepath.Dir(file))
		if err != nil {
			return fail("%v", err)
		}
		a.Checks.Runner.Client = canned.Client()
		record := a.Checks.OnRun
		a.Checks.OnRun = func(r *check.Report) {
			record(r)
			if r.Err != nil && runErr == nil {
				runErr = r.Err // the scheduled run's failure is the case's
			}
		}
		a.Checks.Step(ctx) // the schedules are made
		clk.add(advance)
		a.Checks.Step(ctx)
		advance, sent = 0, canned.Requests()
	case c.Check != nil:
		sent, runErr = runCheck(ctx, a, o, c.Check, filepath.Dir(file))
	case c.Hook != nil:
		if handler == nil {
			return fail("hook cases need the webhook handler")
		}
		reply, runErr = runHook(a, o, c.Hook, handler(a))
	case c.Send != nil:
		sent, runErr = runSend(ctx, a, o, c.Send)
	}
	if advance > 0 {
		a.Checks.Step(ctx) // the schedules are made at the start
		clk.add(advance)
		a.Checks.Step(ctx)
	}
	if c.Want.Postbacks != nil {
		got, err := deliverPostbacks(ctx, a)
		if err != nil {
			return fail("%v", err)
		}
		if strings.Join(got, "\n") != strings.Join(c.Want.Postbacks, "\n") {
			res.Diffs = append(res.Diffs, fmt.Sprintf("postbacks %q, want %q", got, c.Want.Postbacks))
		}
	}
	switch {
	case c.Want.Error != "" && runErr == nil:
		res.Diffs = append(res.Diffs, fmt.Sprintf("the run went well; want an error with %q", c.Want.Error))
	case c.Want.Error != "" && !strings.Contains(runErr.Error(), c.Want.Error):
		res.Diffs = append(res.Diffs, fmt.Sprintf("error %q; want one with %q", runErr, c.Want.Error))
	case c.Want.Error == "" && runErr != nil:
		res.Diffs = append(res.Diffs, fmt.Sprintf("the run failed: %v", runErr))
	}
	if c.Want.Request != nil {
		if len(sent) == 0 {
			res.Diffs = append(res.Diffs, "no request left")
		} else {
			res.Diffs = append(res.Diffs, compareRequest(sent[0], c.Want.Request)...)
		}
	}
	res.Diffs = append(res.Diffs, compareLeads(ctx, a.Store, o.ID, c.Want)...)
	if c.Want.Reply != nil {
		res.Diffs = append(res.Diffs, compareReply(reply, c.Want.Reply.Status, c.Want.Reply.JSON, c.Want.Reply.Body)...)
	}
	return res
}

// runCheck is one run of the mode by the app's real runner, the partner
// answering every request with the case's answer.
func runCheck(ctx context.Context, a *app.App, o *host.Offer, c *CheckCase, dir string) ([]*fasthttp.Request, error) {
	if o.Scripts["check.lua"] == nil {
		return nil, errors.New("the offer has no check.lua")
	}
	canned, err := cannedAnswer(c, dir)
	if err != nil {
		return nil, err
	}
	a.Checks.Runner.Client = canned.Client()
	rep, err := a.CheckNow(ctx, o.ID, app.CheckRequest{Mode: c.Mode})
	if err != nil {
		return nil, err
	}
	return canned.Requests(), rep.Err
}

// deliverPostbacks lets the app's real postback outbox deliver what the
// case's changes put in it, every tracker answering 200, and gives each
// request as host and path?query, in order.
func deliverPostbacks(ctx context.Context, a *app.App) ([]string, error) {
	canned := &Canned{Status: 200, Body: []byte("ok")}
	a.Postbacks.Client = canned.Client()
	feed, err := a.Store.Feed(send.PostbackFeed)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { a.Postbacks.Run(ctx); close(ran) }()
	defer func() { stop(); <-ran }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		a.Postbacks.Wake()
		pending, err := feed.Pending(ctx, 1)
		if err != nil {
			return nil, err
		}
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return nil, errors.New("the postbacks were not delivered within 10 s")
		}
	}
	var out []string
	for _, r := range canned.Requests() {
		out = append(out, string(r.URI().Host())+string(r.URI().RequestURI()))
	}
	return out, nil
}

// cannedAnswer is the partner answering every request with the case's
// recorded answer.
func cannedAnswer(c *CheckCase, dir string) (*Canned, error) {
	body := []byte(c.Response)
	if c.ResponseFile != "" {
		b, err := os.ReadFile(filepath.Join(dir, c.ResponseFile))
		if err != nil {
			return nil, err
		}
		body = b
	}
	return &Canned{Status: 200, Body: body}, nil
}

// clock is a case's time: it moves only when the case advances it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(at string) (*clock, error) {
	c := &clock{t: time.Now().UTC()}
	if at != "" {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return nil, fmt.Errorf("%q: want an RFC 3339 time (2026-11-01T10:00:00Z)", at)
		}
		c.t = t.UTC()
	}
	return c, nil
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// parseAdvance reads a duration with days: "8d", "1d12h", "90m".
func parseAdvance(text string) (time.Duration, error) {
	var d time.Duration
	rest := text
	if days, after, ok := strings.Cut(text, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q: want days as 8d, or a duration as 1d12h or 90m", text)
		}
		d, rest = time.Duration(n)*24*time.Hour, after
	}
	if rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("%q: want days as 8d, or a duration as 1d12h or 90m", text)
		}
		d += r
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q: want a time to move on", text)
	}
	return d, nil
}

// runHook calls the offer's webhook through the real handler, as the
// partner would: the query, the body with its Content-Type, the token.
func runHook(a *app.App, o *host.Offer, h *HookCase, handle fasthttp.RequestHandler) (*script.HookReply, error) {
	path := "/hook/" + o.ID
	if h.Name != "" {
		path += "/" + h.Name
	}
	query := url.Values{}
	for k, vs := range h.Query {
		query[k] = vs
	}
	token := ""
	if o.Config.Hook != nil {
		token = o.Config.Hook.Token
	}
	if h.Token != nil {
		token = *h.Token
	}
	if token != "" {
		query.Set("token", token)
	}
	var req fasthttp.Request
	req.Header.SetMethod(h.Method)
	if h.Method == "" {
		req.Header.SetMethod("GET")
	}
	req.SetRequestURI(path + "?" + query.Encode())
	for k, v := range h.Headers {
		req.Header.Set(k, v)
	}
	switch {
	case len(h.JSON) > 0:
		req.Header.SetContentType("application/json")
		req.SetBody(h.JSON)
	case len(h.Form) > 0:
		req.Header.SetContentType("application/x-www-form-urlencoded")
		req.SetBodyString(url.Values(h.Form).Encode())
	}
	ip := net.ParseIP(h.IP)
	if ip == nil {
		ip = net.IPv4(203, 0, 113, 1)
	}
	var rc fasthttp.RequestCtx
	rc.Init(&req, &net.TCPAddr{IP: ip, Port: 40000}, nil)
	handle(&rc)
	reply := &script.HookReply{Status: rc.Response.StatusCode(), Body: append([]byte(nil), rc.Response.Body()...)}
	if reply.Status >= 500 {
		// The hook failed: the handler's answer says why (file:line).
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal(reply.Body, &e)
		return reply, fmt.Errorf("%d: %s", reply.Status, e.Error)
	}
	return reply, nil
}

// runSend lets the app's real outbox deliver the case's first lead, the
// partner answering with the case's reply, and returns when the attempt
// is recorded.
func runSend(ctx context.Context, a *app.App, o *host.Offer, c *SendCase) ([]*fasthttp.Request, error) {
	if o.Config.Send == nil || o.Scripts["send.lua"] == nil {
		return nil, errors.New("the offer has no [send] and send.lua")
	}
	status := c.Status
	if status == 0 {
		status = 200
	}
	canned := &Canned{Status: status, Body: []byte(c.Body)}
	a.Sends.Client = canned.Client()
	attempts := make(chan *send.Attempt, 1)
	record := a.Sends.OnAttempt
	a.Sends.OnAttempt = func(at *send.Attempt) {
		record(at)
		select {
		case attempts <- at:
		default:
		}
	}
	ctx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { a.Sends.Run(ctx); close(ran) }()
	defer func() { stop(); <-ran }()
	a.Sends.Wake()
	var at *send.Attempt
	select {
	case at = <-attempts:
	case <-time.After(o.Pool.Limits().Timeout + 10*time.Second):
		return canned.Requests(), errors.New("no send was made: does a case lead have status 1?")
	}
	switch at.Outcome {
	case send.Sent, send.Rejected:
		return canned.Requests(), nil
	case send.Retry:
		msg := "send.lua asked to retry"
		if at.Err != "" && !strings.Contains(at.Err, "asked to retry") {
			msg = at.Err
		}
		return canned.Requests(), errors.New(msg)
	}
	return canned.Requests(), fmt.Errorf("the send was %s: %s", at.Outcome, at.Err)
}

// compareLeads checks the expected leads, found by ext or id.
func compareLeads(ctx context.Context, st store.Store, offer string, want Expectation) []string {
	var diffs []string
	if want.Count != nil {
		page, err := st.List(ctx, store.Query{Offer: offer, Limit: 1000})
		if err != nil {
			return []string{err.Error()}
		}
		if len(page.Leads) != *want.Count {
			diffs = append(diffs, fmt.Sprintf("the offer has %d leads, want %d", len(page.Leads), *want.Count))
		}
	}
	for _, w := range want.Leads {
		var l *store.Lead
		var err error
		name := ""
		switch {
		case w["ext"] != nil:
			name = fmt.Sprintf("lead ext %v", w["ext"])
			l, err = st.ByExt(ctx, offer, fmt.Sprint(w["ext"]))
		case w["id"] != nil:
			name = fmt.Sprintf("lead %v", w["id"])
			id, _ := w["id"].(float64)
			l, err = st.Get(ctx, uint64(id))
		default:
			diffs = append(diffs, fmt.Sprintf("an expected lead needs ext or id: %v", w))
			continue
		}
		if err != nil {
			diffs = append(diffs, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		b, _ := json.Marshal(l)
		var got map[string]any
		json.Unmarshal(b, &got)
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "fields" {
				wf, ok := w[k].(map[string]any)
				if !ok {
					diffs = append(diffs, fmt.Sprintf("%s: expected fields must be an object of name: value", name))
					continue
				}
				gf, _ := got[k].(map[string]any)
				for fk, fv := range wf {
					if !reflect.DeepEqual(gf[fk], fv) {
						diffs = append(diffs, fmt.Sprintf("%s: field %s is %s, want %s", name, fk, show(gf[fk]), show(fv)))
					}
				}
				continue
			}
			if !reflect.DeepEqual(got[k], w[k]) {
				diffs = append(diffs, fmt.Sprintf("%s: %s is %s, want %s", name, k, show(got[k]), show(w[k])))
			}
		}
	}
	return diffs
}

func compareReply(got *script.HookReply, status int, wantJSON map[string]any, body *string) []string {
	if got == nil {
		return []string{"no reply (the hook failed)"}
	}
	var diffs []string
	if status != 0 && got.Status != status {
		diffs = append(diffs, fmt.Sprintf("reply status %d, want %d", got.Status, status))
	}
	if body != nil && string(got.Body) != *body {
		diffs = append(diffs, fmt.Sprintf("reply %q, want %q", got.Body, *body))
	}
	if wantJSON != nil {
		var g map[string]any
		if err := json.Unmarshal(got.Body, &g); err != nil {
			return append(diffs, fmt.Sprintf("reply %q is not a JSON object", got.Body))
		}
		keys := make([]string, 0, len(wantJSON))
		for k := range wantJSON {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !reflect.DeepEqual(g[k], wantJSON[k]) {
				diffs = append(diffs, fmt.Sprintf("reply %s is %s, want %s", k, show(g[k]), show(wantJSON[k])))
			}
		}
	}
	return diffs
}

// compareRequest checks a request as it left.
func compareRequest(req *fasthttp.Request, want *RequestExpectation) []string {
	var diffs []string
	u, err := url.Parse(string(req.URI().FullURI()))
	if err != nil {
		return []string{fmt.Sprintf("request url %q: %v", req.URI().FullURI(), err)}
	}
	if method := string(req.Header.Method()); want.Method != "" && method != want.Method {
		diffs = append(diffs, fmt.Sprintf("request method %s, want %s", method, want.Method))
	}
	if want.Path != "" && u.Path != want.Path {
		diffs = append(diffs, fmt.Sprintf("request path %s, want %s", u.Path, want.Path))
	}
	q := u.Query()
	for _, k := range sortedKeys(want.Query) {
		if q.Get(k) != want.Query[k] {
			diffs = append(diffs, fmt.Sprintf("request query %s is %q, want %q", k, q.Get(k), want.Query[k]))
		}
	}
	fields := bodyFields(req)
	for _, k := range sortedKeys(want.Form) {
		if fields[k] != want.Form[k] {
			diffs = append(diffs, fmt.Sprintf("request field %s is %q, want %q", k, fields[k], want.Form[k]))
		}
	}
	for _, k := range sortedKeys(want.Headers) {
		if got := string(req.Header.Peek(k)); got != want.Headers[k] {
			diffs = append(diffs, fmt.Sprintf("request header %s is %q, want %q", k, got, want.Headers[k]))
		}
	}
	return diffs
}

// bodyFields reads a request body's fields as text: a JSON object's top
// level (arrays and objects as their JSON), or a form's first values.
func bodyFields(req *fasthttp.Request) map[string]string {
	out := map[string]string{}
	body := req.Body()
	if strings.Contains(string(req.Header.ContentType()), "json") {
		var obj map[string]json.RawMessage
		json.Unmarshal(body, &obj)
		for k, v := range obj {
			var s string
			if json.Unmarshal(v, &s) == nil {
				out[k] = s
			} else {
				out[k] = string(v)
			}
		}
		return out
	}
	vals, _ := url.ParseQuery(string(body))
	for k, v := range vals {
		out[k] = v[0]
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// show prints a JSON value as a person reads it.
func show(v any) string {
	if v == nil {
		return "absent"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

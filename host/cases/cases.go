// Package cases runs an offer's test cases (SPEC §6, `leadhost test`):
// each file in scripts/<offer>/tests/ is a webhook request, a recorded
// partner answer or a send's reply, with the leads before and what the
// leads, the reply and the request should be after. Cases run against an
// in-memory store; the partner is faked by the recorded answer, so
// nothing leaves the machine.
package cases

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"leadhost/host"
	"leadhost/host/decode"
	"leadhost/host/script"
	"leadhost/host/send"
	"leadhost/store"
)

// Case is one test case file.
type Case struct {
	Name  string          `json:"name"`
	Leads []store.NewLead `json:"leads"` // in the store before the run (the offer is filled in)
	Check *CheckCase      `json:"check"`
	Hook  *HookCase       `json:"hook"`
	Send  *SendCase       `json:"send"`
	Want  Expectation     `json:"expect"`
}

// CheckCase is a partner's answer to a status check: check.lua gets it
// with every lead of the case as the batch.
type CheckCase struct {
	Response     string `json:"response"`      // the body, as text
	ResponseFile string `json:"response_file"` // or a file, relative to the case
}

// HookCase is a webhook call.
type HookCase struct {
	Name    string              `json:"name"` // hooks/<name>.lua; "" for hook.lua
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
	// Request a send makes.
	Request *RequestExpectation `json:"request"`
	// Error says the run should fail, with this in the message.
	Error string `json:"error"`
}

// RequestExpectation is what a send should post: method, path, query
// and form fields, headers (only those named).
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

// Run runs the cases under path: a scripts folder (every offer in it) or
// one offer's folder. Offers that do not load are errors; an offer
// without tests/ has no cases.
func Run(ctx context.Context, path string) ([]Result, error) {
	if _, err := os.Stat(filepath.Join(path, "offer.toml")); err == nil {
		return runOffer(ctx, path)
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
		res, err := runOffer(ctx, filepath.Join(path, e.Name()))
		out = append(out, res...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

func runOffer(ctx context.Context, dir string) ([]Result, error) {
	o, errs := host.LoadOffer(dir)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s does not load: %w", dir, errors.Join(errs...))
	}
	files, _ := filepath.Glob(filepath.Join(dir, "tests", "*.json"))
	sort.Strings(files)
	var out []Result
	for _, f := range files {
		out = append(out, runCase(ctx, o, f))
	}
	return out, nil
}

func runCase(ctx context.Context, o *host.Offer, file string) Result {
	res := Result{Offer: o.ID, File: file, Name: strings.TrimSuffix(filepath.Base(file), ".json")}
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
	if kinds != 1 {
		return fail("a case is one of check, hook or send")
	}
	st, err := store.Open(store.Options{InMemory: true, Policies: onePolicy{o}})
	if err != nil {
		return fail("%v", err)
	}
	defer st.Close()
	var leads []*store.Lead
	for _, nl := range c.Leads {
		nl.Offer, nl.By = o.ID, "test"
		l, _, err := st.Add(ctx, nl)
		if err != nil {
			return fail("lead %s: %v", nl.Ext, err)
		}
		leads = append(leads, l)
	}
	var runErr error
	var reply *script.HookReply
	if c.Want.Request != nil && c.Send == nil {
		return fail("expect.request is checked for send cases only")
	}
	if c.Want.Reply != nil && c.Hook == nil {
		return fail("expect.reply is checked for hook cases only")
	}
	switch {
	case c.Check != nil:
		runErr = runCheck(ctx, o, st, leads, c.Check, filepath.Dir(file))
	case c.Hook != nil:
		reply, runErr = runHook(ctx, o, st, c.Hook)
	case c.Send != nil:
		if len(leads) == 0 {
			return fail("a send case needs its lead in leads")
		}
		if diffs := compareRequest(o, leads[0], c.Want.Request); len(diffs) > 0 {
			res.Diffs = append(res.Diffs, diffs...)
		}
		runErr = runSend(ctx, o, st, leads[0], c.Send)
	}
	switch {
	case c.Want.Error != "" && runErr == nil:
		res.Diffs = append(res.Diffs, fmt.Sprintf("the run went well; want an error with %q", c.Want.Error))
	case c.Want.Error != "" && !strings.Contains(runErr.Error(), c.Want.Error):
		res.Diffs = append(res.Diffs, fmt.Sprintf("error %q; want one with %q", runErr, c.Want.Error))
	case c.Want.Error == "" && runErr != nil:
		res.Diffs = append(res.Diffs, fmt.Sprintf("the run failed: %v", runErr))
	}
	res.Diffs = append(res.Diffs, compareLeads(ctx, st, o.ID, c.Want)...)
	if c.Want.Reply != nil {
		res.Diffs = append(res.Diffs, compareReply(reply, c.Want.Reply.Status, c.Want.Reply.JSON, c.Want.Reply.Body)...)
	}
	return res
}

// onePolicy gives the store the offer's edit settings.
type onePolicy struct{ o *host.Offer }

func (p onePolicy) Policy(string) store.OfferPolicy { return p.o.Policy }

func runCheck(ctx context.Context, o *host.Offer, st *store.Store, leads []*store.Lead, c *CheckCase, dir string) error {
	if o.Scripts["check.lua"] == nil {
		return errors.New("the offer has no check.lua")
	}
	body := []byte(c.Response)
	if c.ResponseFile != "" {
		b, err := os.ReadFile(filepath.Join(dir, c.ResponseFile))
		if err != nil {
			return err
		}
		body = b
	}
	format := ""
	if o.Config.Check != nil {
		format = o.Config.Check.Format
	}
	data, err := decode.Decode(format, body)
	if err != nil {
		return fmt.Errorf("the answer does not decode (format %s): %w", decode.FormatName(format), err)
	}
	_, err = o.Pool.RunCheck(ctx, o.Scripts["check.lua"], st, script.Check{Offer: o.ID, Leads: leads, Data: data, Words: o.Words})
	return err
}

func runHook(ctx context.Context, o *host.Offer, st *store.Store, h *HookCase) (*script.HookReply, error) {
	file := "hook.lua"
	if h.Name != "" {
		file = "hooks/" + h.Name + ".lua"
	}
	sc := o.Scripts[file]
	if sc == nil {
		return nil, fmt.Errorf("the offer has no %s", file)
	}
	req := script.HookRequest{Method: h.Method, Query: h.Query, Form: h.Form, JSON: h.JSON, Headers: h.Headers, IP: h.IP}
	if req.Method == "" {
		req.Method = "GET"
	}
	if req.IP == "" {
		req.IP = "203.0.113.1"
	}
	switch {
	case len(h.JSON) > 0:
		req.Body = h.JSON
	case len(h.Form) > 0:
		req.Body = []byte(url.Values(h.Form).Encode())
	}
	res, err := o.Pool.RunHook(ctx, sc, st, o.ID, req, o.Words, nil)
	if err != nil {
		return nil, err
	}
	return &res.Reply, nil
}

func runSend(ctx context.Context, o *host.Offer, st *store.Store, lead *store.Lead, c *SendCase) error {
	if o.Config.Send == nil || o.Scripts["send.lua"] == nil {
		return errors.New("the offer has no [send] and send.lua")
	}
	status := c.Status
	if status == 0 {
		status = 200
	}
	data, derr := decode.Decode(o.Config.Send.Format, []byte(c.Body))
	if derr != nil {
		data = nil // send.lua still sees response.body, as in a real send
	}
	out, err := o.Pool.RunSend(ctx, o.Scripts["send.lua"], st, lead,
		script.SendResponse{Status: status, Body: []byte(c.Body), Data: data, Headers: map[string]string{}}, o.Words, nil)
	if err == nil && out.Retry {
		return errors.New("send.lua asked to retry")
	}
	return err
}

// compareLeads checks the expected leads, found by ext or id.
func compareLeads(ctx context.Context, st *store.Store, offer string, want Expectation) []string {
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

// compareRequest checks the request a send of lead makes.
func compareRequest(o *host.Offer, lead *store.Lead, want *RequestExpectation) []string {
	if want == nil || o.Config.Send == nil {
		return nil
	}
	req := send.Request(o, lead)
	var diffs []string
	u, err := url.Parse(req.URL)
	if err != nil {
		return []string{fmt.Sprintf("request url %q: %v", req.URL, err)}
	}
	if want.Method != "" && req.Method != want.Method {
		diffs = append(diffs, fmt.Sprintf("request method %s, want %s", req.Method, want.Method))
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
	for _, k := range sortedKeys(want.Form) {
		got := ""
		if v := req.Fields[k]; len(v) > 0 {
			got = v[0]
		}
		if got != want.Form[k] {
			diffs = append(diffs, fmt.Sprintf("request field %s is %q, want %q", k, got, want.Form[k]))
		}
	}
	for _, k := range sortedKeys(want.Headers) {
		if req.Headers[k] != want.Headers[k] {
			diffs = append(diffs, fmt.Sprintf("request header %s is %q, want %q", k, req.Headers[k], want.Headers[k]))
		}
	}
	return diffs
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

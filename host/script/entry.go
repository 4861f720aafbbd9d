package script

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"leadhost/host/partner"
	"leadhost/store"
)

// This file holds the entry points other than check.lua (check.go):
// prepare.lua, hooks and send.lua.

// Prepare is the input of prepare.lua (SPEC §2, seed 001): the leads of an
// ID-mode request, or the range of a dates-mode one, and the request.
type Prepare struct {
	Leads    []*store.Lead // ID modes
	From, To time.Time     // dates mode: the range's first and last second
	Location *time.Location
	Request  *partner.Request
	Log      func(kind, msg string)
}

// RunPrepare runs prepare.lua and returns the request as it left it (in
// in.Request's place: what it did is applied there).
func (p *Pool) RunPrepare(ctx context.Context, s *Script, in Prepare) (*partner.Request, error) {
	run := &Run{Ctx: ctx, Script: s.Name, Log: in.Log}
	setup := func(e *Env) error {
		L, g := e.L, e.Globals
		if len(in.Leads) > 0 {
			idl, ide := L.CreateTable(len(in.Leads), 0), e.vm.keyedTable(len(in.Leads))
			for _, l := range in.Leads {
				idl.Append(lua.LNumber(l.ID))
				if l.Ext != "" {
					ide.RawSetString(strconv.FormatUint(l.ID, 10), lua.LString(l.Ext))
				}
			}
			m := IDMacros(in.Leads)
			g.RawSetString("idl", idl)
			g.RawSetString("ide", ide)
			g.RawSetString("idsl", lua.LString(m.Values["idsl"]))
			g.RawSetString("idel", lua.LString(m.Values["idel"]))
		}
		if !in.From.IsZero() {
			for name, val := range DateMacros(in.From, in.To, in.Location) {
				g.RawSetString(name, lua.LString(val))
			}
		}
		g.RawSetString("request", requestTable(L, in.Request))
		e.SetRun(run)
		return nil
	}
	var readErr error
	err := p.Run(ctx, s, setup, func(e *Env, _ []lua.LValue) error {
		t, ok := e.Globals.RawGetString("request").(*lua.LTable)
		if !ok {
			return fmt.Errorf("%s: request is no longer a table", s.Name)
		}
		readErr = readRequest(t, in.Request)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if readErr != nil {
		return nil, fmt.Errorf("%s: request: %w", s.Name, readErr)
	}
	return in.Request, nil
}

// DateMacros are the dates mode's macro values for the range from…to
// (its first and last second) in loc:
// from/to YYYY-MM-DD; ffrom/fto "YYYY-MM-DD HH:MM:SS" (the seed prints
// ГГГГ-ДД-ММ, read as a typo: no CRM takes day before month in an ISO-like
// date); ufrom/uto unix; tom/ftom/utom the end plus one day.
func DateMacros(from, to time.Time, loc *time.Location) map[string]string {
	if loc == nil {
		loc = time.UTC
	}
	f, e := from.In(loc), to.In(loc)
	tom := e.Add(time.Second).Truncate(time.Second) // the range's last second is whole
	const day, full = "2006-01-02", "2006-01-02 15:04:05"
	return map[string]string{
		"from": f.Format(day), "to": e.Format(day),
		"ffrom": f.Format(full), "fto": e.Format(full),
		"ufrom": strconv.FormatInt(f.Unix(), 10), "uto": strconv.FormatInt(e.Unix(), 10),
		"tom": tom.Format(day), "ftom": tom.Format(full), "utom": strconv.FormatInt(tom.Unix(), 10),
	}
}

func requestTable(L *lua.LState, r *partner.Request) *lua.LTable {
	t := L.CreateTable(0, 5)
	t.RawSetString("url", lua.LString(r.URL))
	t.RawSetString("method", lua.LString(r.Method))
	t.RawSetString("body", lua.LString(r.Body))
	h := L.CreateTable(0, len(r.Headers))
	for k, v := range r.Headers {
		h.RawSetString(k, lua.LString(v))
	}
	t.RawSetString("headers", h)
	t.RawSetString("fields", formTable(L, r.Fields))
	return t
}

func readRequest(t *lua.LTable, r *partner.Request) error {
	str := func(key string) (string, error) {
		switch v := t.RawGetString(key).(type) {
		case lua.LString:
			return string(v), nil
		case *lua.LNilType:
			return "", nil
		default:
			return "", fmt.Errorf("%s is a %s, want a string", key, v.Type())
		}
	}
	var err error
	if r.URL, err = str("url"); err != nil {
		return err
	}
	if r.Method, err = str("method"); err != nil {
		return err
	}
	r.Method = strings.ToUpper(r.Method)
	if r.Method != "GET" && r.Method != "POST" {
		return fmt.Errorf("method %q: want GET or POST", r.Method)
	}
	if r.Body, err = str("body"); err != nil {
		return err
	}
	r.Headers = map[string]string{}
	if h, ok := t.RawGetString("headers").(*lua.LTable); ok {
		h.ForEach(func(k, v lua.LValue) { r.Headers[k.String()] = scalarText(v) })
	}
	r.Fields = map[string][]string{}
	if f, ok := t.RawGetString("fields").(*lua.LTable); ok {
		f.ForEach(func(k, v lua.LValue) {
			if arr, ok := v.(*lua.LTable); ok {
				key := strings.TrimSuffix(k.String(), "[]") + "[]"
				list := make([]string, 0, arr.Len())
				for i := 1; i <= arr.Len(); i++ {
					list = append(list, scalarText(arr.RawGetInt(i)))
				}
				r.Fields[key] = list
				return
			}
			r.Fields[k.String()] = []string{scalarText(v)}
		})
	}
	return nil
}

// HookRequest is an inbound webhook call as hook scripts see it (req).
type HookRequest struct {
	Method  string
	Query   map[string][]string
	Form    map[string][]string
	JSON    []byte // the body, when it is JSON
	Headers map[string]string
	IP      string
	Body    []byte
}

// Hook is the input of a hook-like script (hook.lua, hooks/<name>.lua,
// postback.lua): the call, and the offer whose leads it may add and edit.
type Hook struct {
	Store   store.Store
	Offer   string
	Request HookRequest
	Words   *Words                 // nil: StandardWords
	Log     func(kind, msg string) // core.log, print, refused edits; nil drops them
	// Shadow runs the hook as a candidate beside the live version: no
	// request leaves, no lead is added or edited (Run.Shadow), and the
	// result says what it would have done.
	Shadow bool
	// StandIns are the live run's adds, for a shadow run's (Run.StandIns).
	StandIns []AddedLead
	// Seed, for a shadow run, are the leads as the live run found them
	// (its HookResult.Read): the run reads those as they were before the
	// live run's commit, and both versions start from the same leads.
	Seed []*store.Lead
}

// HookReply is what a hook answers: body, status and headers. A hook that
// returns nothing answers 200 {"ok":true}; a table body is sent as JSON.
type HookReply struct {
	Status  int
	Headers map[string]string
	Body    []byte
}

// HookResult is a hook run's reply and what it did to leads.
type HookResult struct {
	Reply   HookReply
	Edits   []store.BatchChange
	Added   []AddedLead // by core.lead.add, in order
	Refused []string
	// Read are the leads a live run read, each as it was before the
	// run's edits, in the order first read: a candidate's shadow run
	// starts from them (Hook.Seed). A clone per lead read, kept whether
	// or not a candidate is staged: a caller cannot forget it.
	Read []*store.Lead
}

// RunHook runs a hook script with req; its edits land together when it
// ends well (leads it adds with core.lead.add land at once, idempotent by
// their key, so that a retried call finds them).
func (p *Pool) RunHook(ctx context.Context, s *Script, in Hook) (HookResult, error) {
	st, offer, req, words, log := in.Store, in.Offer, in.Request, in.Words, in.Log
	run := &Run{Ctx: ctx, Script: s.Name, Offer: offer, Store: st, Batch: st.NewBatch(), Words: orStandard(words), Log: log, MayAdd: true,
		Shadow: in.Shadow, StandIns: in.StandIns}
	var snap *snapshotBatch
	if in.Shadow {
		run.Batch.Seed(in.Seed)
	} else {
		snap = newSnapshotBatch(run.Batch)
		run.Batch = snap
		run.HTTP = p.httpClient()
	}
	defer run.discard()
	var res HookResult
	setup := func(e *Env) error {
		// req's fields are made as the script reads them (lazyreq.go);
		// json is decoded now, so that a body that does not decode fails
		// the call before the script runs.
		t := e.vm.lazyRequest(&req)
		if len(req.JSON) > 0 {
			v, err := FromJSON(e.L, req.JSON)
			if err != nil {
				return fmt.Errorf("request body: %w", err)
			}
			t.RawSetString("json", v)
		}
		e.Globals.RawSetString("req", t)
		e.SetRun(run)
		return nil
	}
	err := p.Run(ctx, s, setup, func(e *Env, rets []lua.LValue) error {
		reply, err := hookReply(e.vm, rets)
		res.Reply = reply
		if err != nil {
			// After the script returned: no line to name, but its file.
			return &RunError{Script: s.Name, Msg: "its reply: " + err.Error()}
		}
		return nil
	})
	res.Refused, res.Added = run.Refused, run.Added
	if snap != nil {
		res.Read = snap.read
	}
	if err != nil {
		return res, err
	}
	res.Edits = run.Batch.Changes()
	if in.Shadow {
		return res, nil
	}
	if _, err := run.Batch.Commit(ctx); err != nil {
		return res, fmt.Errorf("%s: commit: %w", s.Name, err)
	}
	return res, nil
}

func hookReply(v *vm, rets []lua.LValue) (HookReply, error) {
	r := HookReply{Status: http.StatusOK, Headers: map[string]string{}}
	body := lua.LValue(lua.LNil)
	if len(rets) > 0 {
		body = rets[0]
	}
	switch b := body.(type) {
	case *lua.LNilType:
		r.Body = []byte(`{"ok":true}`)
		r.Headers["Content-Type"] = "application/json"
	case lua.LString:
		r.Body = []byte(b)
	case *lua.LTable:
		j, err := v.toJSON(b)
		if err != nil {
			return r, err
		}
		r.Body = j
		r.Headers["Content-Type"] = "application/json"
	case lua.LNumber, lua.LBool:
		r.Body = []byte(scalarText(b))
	default:
		return r, fmt.Errorf("hook returned a %s: want a table (sent as JSON), a string, a number, a boolean or nothing", body.Type())
	}
	if len(rets) > 1 && rets[1] != lua.LNil {
		n, ok := rets[1].(lua.LNumber)
		if !ok {
			return r, fmt.Errorf("hook returned status %q, a %s: want a number 200..599", rets[1].String(), rets[1].Type())
		}
		if n < 200 || n > 599 || float64(n) != math.Trunc(float64(n)) {
			return r, fmt.Errorf("hook returned status %s: want a number 200..599 (1xx is not a final answer)", rets[1].String())
		}
		r.Status = int(n)
	}
	if len(rets) > 2 && rets[2] != lua.LNil {
		h, ok := rets[2].(*lua.LTable)
		if !ok {
			return r, fmt.Errorf("hook returned headers as a %s: want a table of name = value", rets[2].Type())
		}
		var bad error
		v.whole(h).ForEach(func(k, val lua.LValue) {
			name := k.String()
			switch {
			case bad != nil:
			case !validHeaderName(name):
				bad = fmt.Errorf("hook returned header %q: not a header name (letters, digits and !#$%%&'*+-.^_`|~)", name)
			default:
				switch val.(type) {
				case lua.LString, lua.LNumber, lua.LBool:
					text := scalarText(val)
					if strings.ContainsAny(text, "\r\n\x00") {
						bad = fmt.Errorf("hook returned header %s with a line break in its value", name)
					}
					r.Headers[name] = text
				default:
					bad = fmt.Errorf("hook returned header %s as a %s: want text or a number", name, val.Type())
				}
			}
		})
		if bad != nil {
			return r, bad
		}
	}
	return r, nil
}

// validHeaderName says whether name is an HTTP header name (RFC 9110's
// token).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// Send is the input of send.lua: the lead sent and the partner's answer.
type Send struct {
	Store    store.Store
	Lead     *store.Lead
	Response SendResponse
	Words    *Words                 // nil: StandardWords
	Log      func(kind, msg string) // core.log, print, refused edits; nil drops them
	// Shadow runs send.lua as a candidate beside the live version, on
	// Lead as it was before the live run: no request leaves, nothing is
	// committed, and the outcome's Edits say what it would have done.
	Shadow bool
}

// SendResponse is the partner's answer to a sent lead.
type SendResponse struct {
	Status  int
	Headers map[string]string
	Body    []byte
	Data    any // the body decoded by the offer's format
}

// SendOutcome is what send.lua decided, as the seed's send code does: a
// partner id (the lead goes to status 2 with that ext), a rejection (a
// negative number: status 5 with that reason), or neither (retry later).
type SendOutcome struct {
	Ext    string
	Reason store.Reason
	Retry  bool
	// Edits are the run's edits, the outcome's included, as made before
	// the commit.
	Edits []store.BatchChange
}

// RunSend runs send.lua with data, lead and response, and applies its
// outcome to the lead together with any edits it made.
func (p *Pool) RunSend(ctx context.Context, s *Script, in Send) (SendOutcome, error) {
	st, lead, resp, words, log := in.Store, in.Lead, in.Response, in.Words, in.Log
	run := &Run{Ctx: ctx, Script: s.Name, Offer: lead.Offer, Store: st, Batch: st.NewBatch(), Words: orStandard(words),
		Allowed: map[uint64]bool{lead.ID: true}, Log: log, Shadow: in.Shadow}
	if in.Shadow {
		// The lead as the live run found it, not as it left it: both
		// versions' edits start from the same lead.
		run.Batch.Seed([]*store.Lead{lead})
	} else {
		run.HTTP = p.httpClient()
	}
	defer run.discard()
	var out SendOutcome
	setup := func(e *Env) error {
		L, g := e.L, e.Globals
		data, err := toLua(L, resp.Data)
		if err != nil {
			return fmt.Errorf("%s: partner reply: %w", s.Name, err)
		}
		g.RawSetString("data", data)
		g.RawSetString("lead", leadTable(L, lead))
		r := L.CreateTable(0, 3)
		r.RawSetString("status", lua.LNumber(resp.Status))
		r.RawSetString("body", lua.LString(resp.Body))
		h := L.CreateTable(0, len(resp.Headers))
		for k, v := range resp.Headers {
			h.RawSetString(strings.ToLower(k), lua.LString(v))
		}
		r.RawSetString("headers", h)
		g.RawSetString("response", r)
		e.SetRun(run)
		return nil
	}
	err := p.Run(ctx, s, setup, func(_ *Env, rets []lua.LValue) error {
		var ret lua.LValue = lua.LNil
		if len(rets) > 0 {
			ret = rets[0]
		}
		switch v := ret.(type) {
		case *lua.LNilType:
			out.Retry = true
		case lua.LBool:
			if v {
				return fmt.Errorf("send.lua returned true: return the partner's id, a negative reason, or nil/false to retry")
			}
			out.Retry = true
		case lua.LNumber:
			if v < 0 {
				out.Reason = store.Reason(-int(v))
				return nil
			}
			out.Ext = scalarText(v)
		case lua.LString:
			if strings.TrimSpace(string(v)) == "" {
				out.Retry = true
				return nil
			}
			out.Ext = string(v)
		default:
			shown := v.Type().String()
			if b, err := ToJSON(v); err == nil {
				shown += " " + partner.Excerpt(b, 200)
			}
			return fmt.Errorf("send.lua returned a %s: want the partner's id, a negative reason, or nil/false to retry", shown)
		}
		return nil
	})
	if err != nil {
		return SendOutcome{Retry: true}, err
	}
	if !out.Retry {
		p := store.Patch{Offer: lead.Offer, By: run.by()}
		if out.Ext != "" {
			st2, ext := store.StatusProcessing, out.Ext
			p.Status, p.Ext = &st2, &ext
		} else {
			st5, reason := store.StatusCancel, out.Reason
			p.Status, p.Reason = &st5, &reason
		}
		if err := run.Batch.Edit(lead.ID, p); err != nil {
			return out, fmt.Errorf("%s: applying the send outcome: %w", s.Name, err)
		}
	}
	out.Edits = run.Batch.Changes()
	if in.Shadow {
		return out, nil
	}
	cr, err := run.Batch.Commit(ctx)
	if err != nil {
		return out, fmt.Errorf("%s: commit: %w", s.Name, err)
	}
	for _, e := range cr.Refused {
		var re *store.RefusedEdit
		if errors.As(e, &re) && re.LeadID == lead.ID {
			// The lead changed between the run and its commit (another lead
			// took that ext meanwhile, a person edited it): the outcome is
			// not recorded, and the caller must not say it was.
			return out, fmt.Errorf("%s: the send outcome was refused at commit: %w", s.Name, e)
		}
	}
	return out, nil
}

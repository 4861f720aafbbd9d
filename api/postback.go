package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"leadhost/host"
	"leadhost/host/script"
	"leadhost/store"
)

// postback takes /postback/<offer>: a partner telling us a lead's new
// status (SPEC §4). With postback.lua the script decides, as a hook;
// otherwise oid= (our id) or eid= (the partner's) names the lead, status=
// says what became of it — recognised by the lists sta= (approve), stc=
// (cancel), stt= (trash), stw= (processing), sth= (hold) when given, then
// by the offer's words — and reason=, payout=, currency=, comment= go
// with it.
func (s *Server) postback(c *fasthttp.RequestCtx, offerID string) {
	if !c.IsGet() && !c.IsPost() {
		refuseAtDoor(c, fasthttp.StatusMethodNotAllowed, "postbacks take GET or POST")
		c.Response.Header.Set("Allow", "GET, POST")
		return
	}
	o, ok := s.App.Offers.Offer(offerID)
	if !ok || strings.Contains(offerID, "/") {
		refuseAtDoor(c, fasthttp.StatusNotFound, fmt.Sprintf("no offer %q", offerID))
		return
	}
	if o.Config.Postback == nil || o.Config.Postback.Token == "" {
		refuseAtDoor(c, fasthttp.StatusNotFound, fmt.Sprintf("offer %s takes no postbacks ([postback] token is not set)", offerID))
		return
	}
	if !tokenOK(c, o.Config.Postback.Token) {
		refuseAtDoor(c, fasthttp.StatusUnauthorized, "wrong or missing token (?token= or X-Token)")
		return
	}
	if !s.writable(c) {
		return
	}
	req, err := s.hookRequest(c)
	if err != nil {
		writeError(c, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if sc := o.Scripts["postback.lua"]; sc != nil {
		s.runScript(c, o, sc, req)
		return
	}
	// Query, form and a JSON object alike: partners send any of them.
	var fromJSON map[string]any
	if len(req.JSON) > 0 {
		json.Unmarshal(req.JSON, &fromJSON) // not an object: no fields from it
	}
	// The query's first, then the form's, then the JSON's.
	arg := func(name string) string {
		if vs := postbackValues(req.Query[name], req.Form[name], fromJSON[name]); len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	for _, name := range postbackParams {
		if vs := postbackValues(req.Query[name], req.Form[name], fromJSON[name]); len(vs) > 1 {
			writeError(c, fasthttp.StatusBadRequest, fmt.Sprintf("%s given more than once (%q and %q): which one is meant?", name, vs[0], vs[1]))
			return
		}
	}
	// Not the request's context, which fasthttp ends as soon as shutdown
	// begins: an edit half way would be answered 500 though it was made.
	status, err := postbackStatus(s.runContext(), s.App.Store, o, arg)
	if err != nil {
		var pe *postbackError
		switch {
		case errors.As(err, &pe):
			writeError(c, pe.code, pe.msg)
		case errors.Is(err, store.ErrDiskFull):
			s.writable(c) // the disk filled since the door: to be sent again
		case s.stopping():
			writeError(c, fasthttp.StatusServiceUnavailable, "leadhost is stopping: the call was not finished; send it again")
			c.Response.Header.Set("Retry-After", "10")
		default:
			writeError(c, fasthttp.StatusInternalServerError, err.Error())
		}
		return
	}
	writeJSON(c, fasthttp.StatusOK, status)
}

// postbackParams are the parameters a built-in postback reads.
var postbackParams = []string{"oid", "eid", "status", "reason", "comment", "payout", "currency", "sta", "stc", "stt", "stw", "sth"}

// postbackValues are the distinct values a parameter has in the query,
// the form and the JSON object together.
func postbackValues(query, form []string, fromJSON any) []string {
	var out []string
	add := func(v string) {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, v := range query {
		add(v)
	}
	for _, v := range form {
		add(v)
	}
	switch v := fromJSON.(type) {
	case string:
		add(v)
	case float64:
		add(strconv.FormatFloat(v, 'f', -1, 64))
	}
	return out
}

// leadByBoth is the lead a postback names by oid and eid both: they
// must name the same lead, or the partner's idea of it is not ours and
// changing either would be a guess.
func leadByBoth(ctx context.Context, st store.Store, offer string, id uint64, oid, eid string) (*store.Lead, error) {
	byExt, err := st.ByExt(ctx, offer, eid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, badPostback(409, "oid=%s and eid=%s disagree: no lead of offer %s has eid %s", oid, eid, offer, eid)
	}
	if err != nil {
		return nil, err
	}
	if byExt.ID != id {
		return nil, badPostback(409, "oid=%s and eid=%s disagree: eid %s is lead %d", oid, eid, eid, byExt.ID)
	}
	return byExt, nil
}

type postbackError struct {
	code int
	msg  string
}

func (e *postbackError) Error() string { return e.msg }

func badPostback(code int, format string, a ...any) error {
	return &postbackError{code: code, msg: fmt.Sprintf(format, a...)}
}

// postbackReply is what a built-in postback answers.
type postbackReply struct {
	OK     bool         `json:"ok"`
	Lead   uint64       `json:"lead"`
	Status store.Status `json:"status"`
	Reason store.Reason `json:"reason,omitempty"`
}

// postbackStatus applies a built-in postback.
func postbackStatus(ctx context.Context, st store.Store, o *host.Offer, arg func(string) string) (postbackReply, error) {
	var lead *store.Lead
	var err error
	oid, eid := arg("oid"), arg("eid")
	var id uint64
	if oid != "" {
		if id, err = strconv.ParseUint(oid, 10, 64); err != nil {
			return postbackReply{}, badPostback(400, "oid %q is not a lead id", oid)
		}
	}
	switch {
	case oid != "" && eid != "":
		lead, err = leadByBoth(ctx, st, o.ID, id, oid, eid)
	case oid != "":
		lead, err = st.Get(ctx, id)
		if err == nil && lead.Offer != o.ID {
			err = store.ErrNotFound // another offer's lead is not this partner's to change
		}
	case eid != "":
		lead, err = st.ByExt(ctx, o.ID, eid)
	default:
		return postbackReply{}, badPostback(400, "which lead? give oid= (our id) or eid= (yours)")
	}
	if errors.Is(err, store.ErrNotFound) {
		return postbackReply{}, badPostback(404, "no such lead in offer %s", o.ID)
	}
	if err != nil {
		return postbackReply{}, err
	}
	text := arg("status")
	if text == "" {
		return postbackReply{}, badPostback(400, "status is missing")
	}
	words := o.Words
	overrides := map[string][]string{}
	claimed := map[string]string{} // word → the list that says what it means
	for _, l := range []struct{ param, kind string }{{"sta", "approve"}, {"stc", "cancel"}, {"stt", "trash"}, {"stw", "processing"}, {"sth", "hold"}} {
		list := arg(l.param)
		if list == "" {
			continue
		}
		for _, w := range strings.Split(list, ",") {
			key := script.NormalizeWord(w)
			if other, ok := claimed[key]; ok && other != l.param {
				return postbackReply{}, badPostback(400, "%q is in both %s= and %s=: say what it means once", w, other, l.param)
			}
			claimed[key] = l.param
		}
		overrides[l.kind] = strings.Split(list, ",")
	}
	if len(overrides) > 0 {
		if words, err = words.With(overrides); err != nil {
			return postbackReply{}, badPostback(400, "%v", err)
		}
	}
	action, ok := words.Recognize(text)
	if !ok {
		return postbackReply{}, badPostback(422, "status %q is not recognised: send a known word, or say what it means with sta=, stc=, stt=, stw= or sth=", text)
	}
	p := action.Patch()
	p.By, p.Offer = "postback", o.ID
	if r := arg("reason"); r != "" {
		n, err := strconv.Atoi(r)
		if err != nil || n <= 0 {
			return postbackReply{}, badPostback(400, "reason %q is not a reason number", r)
		}
		reason := store.Reason(n)
		p.Reason = &reason
	}
	if c := arg("comment"); c != "" {
		p.Comment = &c
	}
	if pay := arg("payout"); pay != "" {
		m, err := store.ParseMoney(pay)
		if err != nil {
			return postbackReply{}, badPostback(400, "payout %q: %v", pay, err)
		}
		p.Cash = &store.CashPatch{Pay: &m}
		if cur := arg("currency"); cur != "" {
			cc, err := store.ParseCurrency(cur)
			if err != nil {
				return postbackReply{}, badPostback(400, "currency %q: %v", cur, err)
			}
			p.Cash.CC = &cc
		}
	}
	edited, err := st.Edit(ctx, lead.ID, p)
	switch {
	case errors.Is(err, store.ErrRefused):
		return postbackReply{}, badPostback(409, "%v", err)
	case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrNotFound):
		return postbackReply{}, badPostback(400, "%v", err)
	case err != nil:
		return postbackReply{}, err
	}
	return postbackReply{OK: true, Lead: edited.ID, Status: edited.Status, Reason: edited.Reason}, nil
}

// runScript runs a hook-like script (a hook, postback.lua) and replies
// with what it returns.
func (s *Server) runScript(c *fasthttp.RequestCtx, o *host.Offer, sc *script.Script, req script.HookRequest) {
	// Not the request's context: a script begun may finish while the
	// server shuts down, for RunGrace (see Shutdown).
	var logs store.RunLog
	res, err := o.Pool.RunHook(s.runContext(), sc, script.Hook{Store: s.App.Store, Offer: o.ID, Request: req, Words: o.Words,
		Log: func(kind, msg string) {
			logs.Add(kind + ": " + msg)
			s.log().Info("script", "offer", o.ID, "script", sc.Name, "kind", kind, "msg", store.Mask(msg))
		}})
	if lines := logs.Lines(); len(lines) > 0 {
		c.SetUserValue(runLogsKey, lines) // the call's journal entry keeps them
	}
	if err != nil && s.stopping() {
		s.log().Warn("script stopped: leadhost is stopping", "offer", o.ID, "script", sc.Name)
		writeError(c, fasthttp.StatusServiceUnavailable, "leadhost is stopping: the call was not finished; send it again")
		c.Response.Header.Set("Retry-After", "10")
		return
	}
	if err != nil && s.App.Store.ReadOnly() != "" {
		// The disk filled while the script ran (its add or edit failed):
		// the call is to be sent again, as those refused at the door.
		s.writable(c)
		return
	}
	if err != nil {
		s.log().Warn("script failed", "offer", o.ID, "script", sc.Name, "err", store.Mask(err.Error()))
		writeError(c, fasthttp.StatusInternalServerError, forCaller(err.Error()))
		s.App.Shadows.Hook(o, strings.TrimPrefix(sc.Name, o.ID+"/"), req, res, err)
		return
	}
	for k, v := range res.Reply.Headers {
		c.Response.Header.Set(k, v)
	}
	c.SetStatusCode(res.Reply.Status)
	c.SetBody(res.Reply.Body)
	// The offer's candidate (next/), if it has one, gets the same call
	// in shadow, queued: the caller's answer does not wait for it.
	s.App.Shadows.Hook(o, strings.TrimPrefix(sc.Name, o.ID+"/"), req, res, nil)
}

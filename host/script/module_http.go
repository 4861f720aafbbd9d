package script

import (
	"bytes"
	"errors"
	"fmt"
	"leadhost/host/partner"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	lua "github.com/yuin/gopher-lua"
)

// httpDefaultTimeout bounds http.request: a script's request is part of
// a webhook's or a send's answer, so it is short.
const httpDefaultTimeout = 10 * time.Second

// http.request{method=, url=, query={}, headers={}, form={} | json=v |
// body="", timeout=seconds} → response {status, headers (lower-case
// names), body, json (when the answer is JSON)} or nil, "why". A request
// that fails is an answer the script handles (nil, why), not an error:
// partners fail. A destination the fence refuses (see Fence) is an
// error, with the script's file and line. Its deadline is the sooner of
// timeout (10 s) and the run's own.
func (v *vm) httpModule() *lua.LTable {
	return v.moduleTable(map[string]lua.LGFunction{"request": v.httpRequest})
}

func (v *vm) httpRequest(L *lua.LState) int {
	r := v.run
	if r != nil && r.Shadow {
		errorf(L, "http.request: refused in shadow mode (the candidate version in next/ runs beside the live one and sends nothing)")
	}
	if r == nil || r.HTTP == nil {
		errorf(L, "http.request: only hooks and send.lua make requests")
	}
	if !r.live() {
		// Abandoned past its deadline: the caller has answered already,
		// and nothing more leaves on the run's behalf. (The run's context
		// has ended too, so the request would fail on its deadline; the
		// fence says so in the same words as the other modules' refusals.)
		L.Push(lua.LNil)
		L.Push(lua.LString("http.request: the run was stopped"))
		return 2
	}
	t := v.whole(L.CheckTable(1))
	str := func(key string) string {
		switch val := t.RawGetString(key).(type) {
		case *lua.LNilType:
			return ""
		case lua.LString:
			return string(val)
		default:
			errorf(L, "http.request: %s is a %s, want a string", key, val.Type())
			return ""
		}
	}
	target, method, body := str("url"), strings.ToUpper(str("method")), str("body")
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errorf(L, "http.request: url %q: want an absolute http(s) URL", target)
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	if q, ok := t.RawGetString("query").(*lua.LTable); ok {
		extra := encodeForm(L, v.whole(q))
		if extra != "" {
			if u.RawQuery != "" {
				u.RawQuery += "&"
			}
			u.RawQuery += extra
		}
	}
	if h, ok := t.RawGetString("headers").(*lua.LTable); ok {
		v.whole(h).ForEach(func(k, val lua.LValue) { req.Header.Set(k.String(), scalarText(val)) })
	}
	switch form, js := t.RawGetString("form"), t.RawGetString("json"); {
	case form != lua.LNil:
		ft, ok := form.(*lua.LTable)
		if !ok {
			errorf(L, "http.request: form is a %s, want a table", form.Type())
		}
		body = encodeForm(L, v.whole(ft))
		req.Header.SetContentType("application/x-www-form-urlencoded")
	case js != lua.LNil:
		b, err := v.toJSON(js)
		if err != nil {
			errorf(L, "http.request: json: %v", err)
		}
		body = string(b)
		req.Header.SetContentType("application/json")
	}
	if method == "" {
		method = "GET"
		if body != "" {
			method = "POST"
		}
	}
	req.Header.SetMethod(method)
	req.SetRequestURI(u.String())
	if body != "" {
		req.SetBodyString(body)
	}
	timeout := httpDefaultTimeout
	if n, ok := t.RawGetString("timeout").(lua.LNumber); ok && n > 0 {
		timeout = time.Duration(float64(n) * float64(time.Second))
	}
	deadline := time.Now().Add(timeout)
	if d, ok := L.Context().Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	v.meter.release() // a run waiting on a partner computes nothing: its CPU slot is another's meanwhile
	if err := partner.Do(L.Context(), r.HTTP, req, resp, deadline); err != nil {
		var refused *RefusedError
		if errors.As(err, &refused) {
			// Not a partner failing: the script asked for what it may not
			// have, which its author fixes (or the operator allows).
			errorf(L, "http.request: %s", refused)
		}
		L.Push(lua.LNil)
		L.Push(lua.LString(fmt.Sprintf("%s %s: %s", method, target, partner.Describe(err))))
		return 2
	}
	out := L.CreateTable(0, 4)
	out.RawSetString("status", lua.LNumber(resp.StatusCode()))
	headers := L.CreateTable(0, resp.Header.Len())
	resp.Header.VisitAll(func(k, val []byte) { headers.RawSetString(strings.ToLower(string(k)), lua.LString(val)) })
	out.RawSetString("headers", headers)
	b := resp.Body()
	out.RawSetString("body", lua.LString(b))
	if ct := resp.Header.ContentType(); bytes.Contains(ct, []byte("json")) {
		if jv, err := FromJSON(L, b); err == nil {
			out.RawSetString("json", jv)
		}
	}
	L.Push(out)
	return 1
}

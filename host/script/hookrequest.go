package script

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"
)

// ReadHookRequest reads a webhook call as hook scripts see it (req): the
// server's calls, and journaled ones a shadow replay runs again. ip is
// the caller's address as the server worked it out. A body that says it
// is JSON or a form must be one.
func ReadHookRequest(hr *fasthttp.Request, ip string) (HookRequest, error) {
	r := HookRequest{
		Method:  string(hr.Header.Method()),
		Query:   argsMap(hr.URI().QueryArgs(), "token"),
		Headers: headerMap(&hr.Header),
		IP:      ip,
		Body:    append([]byte(nil), hr.Body()...),
	}
	body := bytes.TrimSpace(r.Body)
	if len(body) == 0 {
		return r, nil
	}
	ct, _, err := mime.ParseMediaType(string(hr.Header.ContentType()))
	if err != nil {
		ct = "" // no or an unreadable Content-Type: the body says what it is
	}
	switch {
	case ct == "application/json" || strings.HasSuffix(ct, "+json") || (ct == "" && (body[0] == '{' || body[0] == '[')):
		if !json.Valid(body) {
			return r, errors.New("malformed JSON body")
		}
		if jsonDepth(body) > MaxJSONDepth {
			return r, fmt.Errorf("JSON body nested deeper than %d", MaxJSONDepth)
		}
		r.JSON = r.Body
	case ct == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return r, fmt.Errorf("malformed form body: %v", err)
		}
		r.Form = vals
	}
	return r, nil
}

// jsonDepth is how deep a valid JSON text nests its objects and arrays.
func jsonDepth(b []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// argsMap copies query arguments, leaving out the secret. The names and
// values are cut from one string (built in place) and the values' slices from one array
// (a repeated name's append then copies its own): a call of five
// arguments took 15 allocations, one per string and slice.
func argsMap(a *fasthttp.Args, skip string) map[string][]string {
	n, size := 0, 0
	a.VisitAll(func(k, v []byte) {
		if string(k) != skip {
			n++
			size += len(k) + len(v)
		}
	})
	out := make(map[string][]string, n)
	if n == 0 {
		return out
	}
	var text strings.Builder // its String is the bytes written: one allocation, not two
	text.Grow(size)
	a.VisitAll(func(k, v []byte) {
		if string(k) != skip {
			text.Write(k)
			text.Write(v)
		}
	})
	all, vals := text.String(), make([]string, n)
	i, at := 0, 0
	a.VisitAll(func(k, v []byte) {
		if string(k) == skip {
			return
		}
		name, val := all[at:at+len(k)], all[at+len(k):at+len(k)+len(v)]
		at += len(k) + len(v)
		if prev, ok := out[name]; ok {
			out[name] = append(prev, val)
			return
		}
		vals[i] = val
		out[name] = vals[i : i+1 : i+1]
		i++
	})
	return out
}

// headerMap copies the request's headers, names and values cut from one
// string.
func headerMap(h *fasthttp.RequestHeader) map[string]string {
	n, size := 0, 0
	h.VisitAll(func(k, v []byte) {
		n++
		size += len(k) + len(v)
	})
	out := make(map[string]string, n)
	var text strings.Builder
	text.Grow(size)
	h.VisitAll(func(k, v []byte) {
		text.Write(k)
		text.Write(v)
	})
	all, at := text.String(), 0
	h.VisitAll(func(k, v []byte) {
		if !bytes.EqualFold(k, tokenHeader) {
			out[all[at:at+len(k)]] = all[at+len(k) : at+len(k)+len(v)]
		}
		at += len(k) + len(v)
	})
	return out
}

// tokenHeader carries the offer's token, as ?token= does: neither reaches
// the script, which has no need of the caller's secret and may send or
// log what it reads.
var tokenHeader = []byte("X-Token")

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
		Headers: map[string]string{},
		IP:      ip,
		Body:    append([]byte(nil), hr.Body()...),
	}
	hr.Header.VisitAll(func(k, v []byte) {
		r.Headers[string(k)] = string(v)
	})
	body := bytes.TrimSpace(r.Body)
	ct, _, err := mime.ParseMediaType(string(hr.Header.ContentType()))
	if err != nil {
		ct = "" // no or an unreadable Content-Type: the body says what it is
	}
	switch {
	case len(body) == 0:
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

// argsMap copies query arguments, leaving out the secret.
func argsMap(a *fasthttp.Args, skip string) map[string][]string {
	out := map[string][]string{}
	a.VisitAll(func(k, v []byte) {
		if string(k) != skip {
			out[string(k)] = append(out[string(k)], string(v))
		}
	})
	return out
}

package partner

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/valyala/fasthttp"
)

// Request is a partner request before it is encoded: what a check or a
// send builds from its offer's settings, and what prepare.lua may change.
type Request struct {
	URL     string
	Method  string
	Headers map[string]string
	Fields  map[string][]string // a key "name[]" is an array: name[]=1&name[]=2, or a JSON array
	Body    string              // set by the script to send a body of its own
}

// Encode writes a partner request: on GET the fields join the
// query; on POST they are the body, as a form (name[]=… for arrays) or a
// JSON object (arrays as arrays, every value a string) by bodyFormat. A
// body prepare.lua set travels as it is, as JSON when it looks like JSON
// and no Content-Type says otherwise.
func Encode(hreq *fasthttp.Request, r *Request, bodyFormat string) error {
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
		if r.Body != "" {
			return fmt.Errorf("request body set on a GET: use method POST to send a body")
		}
		if len(r.Fields) > 0 || u.Fragment != "" {
			// A #fragment never reaches the server: the fields go into
			// the query, the fragment is dropped.
			if len(r.Fields) > 0 {
				if u.RawQuery != "" {
					u.RawQuery += "&"
				}
				u.RawQuery += EncodeForm(r.Fields)
			}
			u.Fragment, u.RawFragment = "", ""
			target = u.String()
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
		hreq.SetBodyString(EncodeForm(r.Fields))
		hreq.Header.SetContentType("application/x-www-form-urlencoded")
	}
	hreq.SetRequestURI(target)
	return nil
}

// EncodeForm writes fields as a query string, names sorted so that the
// same request is the same text; arrays (a name ending in []) as
// name[]=a&name[]=b, the brackets left readable as PHP partners write
// them. Checks, sends, postbacks and the scripts' form.encode and
// http.request all encode with it.
func EncodeForm(fields map[string][]string) string {
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

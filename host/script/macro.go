package script

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"leadhost/store"
)

// Macros are the values of one request's {name} macros: single values
// (idsl, from, …) and lists (ids, ide), which a field that is nothing but
// the macro sends as an array.
type Macros struct {
	Values map[string]string
	Lists  map[string][]string
	// Blank are prefixes ("field:") under which a name with no value
	// reads as "": a lead without that field sends an empty value, not
	// the macro's text.
	Blank []string
}

// CheckMacros are the macros a [check] url or field may use (SPEC §3).
var CheckMacros = []string{"idsl", "idel", "ids", "ide", "from", "to", "ffrom", "fto", "ufrom", "uto", "tom", "ftom", "utom"}

// UnknownMacros lists the {name}s in tmpl that are not among known, so
// that a typo fails at load time instead of reaching the partner as text.
// Braces around anything that is not a plain name ({"json":1}) are text.
func UnknownMacros(tmpl string, known []string) []string {
	var out []string
	scanMacros(tmpl, func(name string) {
		if strings.HasPrefix(name, "field:") && len(name) > len("field:") && contains(known, "field:") {
			return
		}
		for _, k := range known {
			if k == name {
				return
			}
		}
		out = append(out, "{"+name+"}")
	})
	return out
}

// scanMacros calls fn for every {name} in tmpl, a name being letters,
// digits, '_', '-' or ':' (for {field:NAME}).
func scanMacros(tmpl string, fn func(name string)) {
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] != '{' {
			continue
		}
		end := strings.IndexByte(tmpl[i+1:], '}')
		if end < 0 {
			return
		}
		name := tmpl[i+1 : i+1+end]
		if isMacroName(name) {
			fn(name)
			i += end + 1
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isMacroName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// lookup returns a macro's text; a list reads as its comma-joined items.
func (m Macros) lookup(name string) (string, bool) {
	if v, ok := m.Values[name]; ok {
		return v, true
	}
	if l, ok := m.Lists[name]; ok {
		return strings.Join(l, ","), true
	}
	for _, p := range m.Blank {
		if strings.HasPrefix(name, p) {
			return "", true
		}
	}
	return "", false
}

// expand replaces the macros of tmpl in one pass, escape applied to each
// value; a value is never expanded again, and a {name} with no value is
// left as it was.
func (m Macros) expand(tmpl string, escape func(string) string) string {
	if strings.IndexByte(tmpl, '{') < 0 {
		return tmpl
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		end := strings.IndexByte(tmpl[i+1:], '}')
		if end < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		name := tmpl[i+1 : i+1+end]
		v, ok := m.lookup(name)
		if !ok || !isMacroName(name) {
			b.WriteString(tmpl[:i+1])
			tmpl = tmpl[i+1:]
			continue
		}
		b.WriteString(tmpl[:i])
		b.WriteString(escape(v))
		tmpl = tmpl[i+2+end:]
	}
}

// ExpandURL fills a URL template. Values are escaped for where they land
// (path or query), so that a list "1,2" or a date "2026-11-01 00:00:00"
// arrives as the same text and never adds a parameter or a path segment
// of its own.
func (m Macros) ExpandURL(tmpl string) string {
	path, query, hasQuery := strings.Cut(tmpl, "?")
	out := m.expand(path, url.PathEscape)
	if hasQuery {
		out += "?" + m.expand(query, url.QueryEscape)
	}
	return out
}

// ExpandText fills a template with the values as they are: for fields,
// which the request encodes later, and for bodies.
func (m Macros) ExpandText(tmpl string) string {
	return m.expand(tmpl, func(s string) string { return s })
}

// ExpandFields fills the field templates into request fields. A field
// whose template is exactly a list macro ({ids}, {ide}) becomes an array
// (key "name[]", sent as name[]=1&name[]=2 or a JSON array); every other
// field one text value.
func (m Macros) ExpandFields(fields map[string]string) map[string][]string {
	out := make(map[string][]string, len(fields))
	for k, tmpl := range fields {
		if name, ok := strings.CutPrefix(tmpl, "{"); ok {
			if name, ok = strings.CutSuffix(name, "}"); ok {
				if list, ok := m.Lists[name]; ok {
					key := strings.TrimSuffix(k, "[]") + "[]"
					out[key] = append(make([]string, 0, len(list)), list...) // never nil: [] in JSON
					continue
				}
			}
		}
		out[k] = []string{m.ExpandText(tmpl)}
	}
	return out
}

// Unfilled lists the macros among known that templates use and m has no
// value for. A request built from them would carry the macro's text
// ("{from}") to the partner: callers refuse it instead.
func (m Macros) Unfilled(known []string, templates ...string) []string {
	var out []string
	for _, tmpl := range templates {
		scanMacros(tmpl, func(name string) {
			if _, ok := m.lookup(name); ok || !contains(known, name) || contains(out, "{"+name+"}") {
				return
			}
			out = append(out, "{"+name+"}")
		})
	}
	return out
}

// CheckMacroError reports the unknown macros of an offer's templates.
func CheckMacroError(where, tmpl string, known []string) error {
	if bad := UnknownMacros(tmpl, known); len(bad) > 0 {
		return fmt.Errorf("%s: unknown macro %s (known: {%s})", where, strings.Join(bad, ", "), strings.Join(known, "}, {"))
	}
	return nil
}

// IDMacros are the ID modes' macros for a request about leads: {idsl}
// {ids} our ids, {idel} {ide} the partner's (leads not sent yet have none
// and are left out of those).
func IDMacros(leads []*store.Lead) Macros {
	ids := make([]string, 0, len(leads))
	exts := make([]string, 0, len(leads))
	for _, l := range leads {
		ids = append(ids, strconv.FormatUint(l.ID, 10))
		if l.Ext != "" {
			exts = append(exts, l.Ext)
		}
	}
	return Macros{
		Values: map[string]string{"idsl": strings.Join(ids, ","), "idel": strings.Join(exts, ",")},
		Lists:  map[string][]string{"ids": ids, "ide": exts},
	}
}

// DatesMacros are the dates mode's macros for the range from…to (its
// first and last second) in loc; see DateMacros.
func DatesMacros(from, to time.Time, loc *time.Location) Macros {
	return Macros{Values: DateMacros(from, to, loc)}
}

// SendMacros are the macros a [send] url or field may use (SPEC §4), and
// {field:NAME} for any field of the lead.
var SendMacros = []string{"id", "offer", "name", "phone", "email", "country", "ip", "ua", "time", "ext", "field:"}

// PostbackMacros are the macros an outgoing [postback] url may use.
var PostbackMacros = []string{"id", "offer", "ext", "status", "stage", "reason", "payout", "currency",
	"flow", "subid", "sub1", "sub2", "sub3", "sub4", "sub5", "field:"}

// LeadMacros are a lead's values for SendMacros: {time} is its creation
// time, unix; {field:NAME} any of its fields ("" when it has none).
func LeadMacros(l *store.Lead) Macros {
	v := map[string]string{
		"id": strconv.FormatUint(l.ID, 10), "offer": l.Offer, "ext": l.Ext,
		"time": strconv.FormatInt(l.Created.Unix(), 10),
	}
	for _, name := range []string{"name", "phone", "email", "country", "ip", "ua"} {
		v[name] = l.Fields[name]
	}
	for k, f := range l.Fields {
		v["field:"+k] = f
	}
	return Macros{Values: v, Blank: []string{"field:"}}
}

// Masking: what the journal, the logs, the error mails and the outbox
// listing show of contacts and secrets. Stored data stays whole; only
// what is shown is masked, here and nowhere else.

package store

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
)

var (
	emailPattern  = regexp.MustCompile(`([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@|%40)([A-Za-z0-9.-]+\.[A-Za-z]{2,})`)
	phonePattern  = regexp.MustCompile(`(?i)(\+|%2B)?\d(?:[\d ()+\-]|%20|%28|%29|%2D)*\d`)
	urlSeparators = strings.NewReplacer("%20", "", "%28", "", "%29", "", "%2D", "", "%2d", "")
	// A date is a real one (month 01-12, day 01-31), so that a phone
	// written 9001-23-45-67 is not taken for one.
	datePattern = regexp.MustCompile(`(?:^|\D)(?:19|20)\d{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?:$|\D)`)
	// dottedPhone is the North American way, 900.123.4567.
	dottedPhone = regexp.MustCompile(`\b\d{3}\.\d{3}\.\d{4}\b`)
	// jsonNumberPhone is a phone sent as a bare JSON number
	// ({"phone":79990001122}): masked, it becomes a string, or the text
	// would no longer be JSON.
	jsonNumberPhone = regexp.MustCompile(`([:\[,]\s*)(\d{10,15})(\s*[,}\]])`)
)

// MaskContacts hides phone numbers and e-mail addresses in text, as the
// journal shows it (SPEC §6): a run of 10 to 15 digits (spaces, dashes,
// brackets and URL-encoding allowed between them; dates left alone)
// keeps its first digit and last two — +7 (999) 000-11-22 → +7***22 —
// and an address its first letter and domain: i***@example.com. What is
// stored stays whole, so that a webhook can be replayed.
func MaskContacts(text string) string {
	text = emailPattern.ReplaceAllString(text, "${1}***${2}${3}")
	if t := strings.TrimSpace(text); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		text = maskJSONNumbers(text)
	}
	text = dottedPhone.ReplaceAllStringFunc(text, func(m string) string { return m[:1] + "***" + m[len(m)-2:] })
	return phonePattern.ReplaceAllStringFunc(text, maskPhone)
}

// maskJSONNumbers masks the phones of JSON text sent as bare numbers,
// as strings. A match ends at the separator after the number, so the
// next one (a list of phones) is matched from that separator on.
func maskJSONNumbers(text string) string {
	var b strings.Builder
	for {
		loc := jsonNumberPhone.FindStringSubmatchIndex(text)
		if loc == nil {
			return b.String() + text
		}
		digits := text[loc[4]:loc[5]]
		b.WriteString(text[:loc[4]])
		if masked := maskPhone(digits); masked != digits {
			b.WriteString(`"` + masked + `"`)
		} else {
			b.WriteString(digits)
		}
		text = text[loc[5]:]
	}
}

func maskPhone(m string) string {
	{
		if loc := datePattern.FindStringIndex(m); loc != nil {
			// A date next to a number ("2026-12-06 79001234567"): the
			// date stays, what is around it is looked at on its own.
			return phonePattern.ReplaceAllStringFunc(m[:loc[0]], maskPhone) + m[loc[0]:loc[1]] +
				phonePattern.ReplaceAllStringFunc(m[loc[1]:], maskPhone)
		}
		sign, rest := "", m
		for _, p := range []string{"+", "%2B"} {
			if strings.HasPrefix(rest, p) {
				sign, rest = p, rest[len(p):]
			}
		}
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, urlSeparators.Replace(rest))
		if len(digits) > 15 && strings.Contains(m, " ") {
			// Two numbers side by side ("…22 +7 …"): each on its own.
			parts := strings.Split(m, " ")
			for i, p := range parts {
				parts[i] = phonePattern.ReplaceAllStringFunc(p, maskPhone)
			}
			return strings.Join(parts, " ")
		}
		if len(digits) < 10 || len(digits) > 15 {
			return m
		}
		if len(digits) == 10 && digits[0] == '1' && digits == m {
			return m // a unix time (2001–2286), not a phone: no 10-digit phone starts with 1
		}
		return sign + digits[:1] + "***" + digits[len(digits)-2:]
	}
}

// secretWords are the words of a name that say its value is a secret:
// one list for query and form parameters, JSON keys and headers. A name
// is cut into words at anything but a letter or a digit (access_token,
// X-Api-Key, client.secret); a word that ends in token, secret, apikey or
// password counts too (accesstoken). keyword or monkey are not key.
var secretWords = map[string]bool{
	"token": true, "secret": true, "key": true, "apikey": true, "sig": true, "signature": true,
	"password": true, "passwd": true, "pass": true, "pwd": true, "auth": true, "authorization": true,
	"cookie": true, "session": true, "sessid": true, "sessionid": true, "credential": true,
	"credentials": true, "bearer": true, "jwt": true, "otp": true, "pin": true, "hash": true,
}

// SecretName says whether a parameter, JSON key or header named name
// carries a secret: the one list the journal, the logs and the reports
// mask by.
func SecretName(name string) bool {
	for _, w := range strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < '0' || r > '9')
	}) {
		if secretWords[w] {
			return true
		}
		for _, suffix := range []string{"token", "secret", "apikey", "password"} {
			if strings.HasSuffix(w, suffix) {
				return true
			}
		}
	}
	return false
}

var (
	// quotedParamPattern is a name='value' or name="value" of a log line
	// or a config, whose value may hold spaces.
	// A value holds no quote of the other kind nor JSON's , : { }, so
	// that a match never runs from one JSON string into the next
	// ({"cb":"…&token=","n":1}).
	quotedParamPattern = regexp.MustCompile(`([A-Za-z0-9_.\-\[\]]+)=('[^'"\n,:{}]*'|"[^'"\n,:{}]*")`)
	// paramPattern is a name=value of a query or a form.
	paramPattern = regexp.MustCompile(`([A-Za-z0-9_.\-\[\]]+)=([^&\s"\\]+)`)
	// escapedJSONPattern is a \"key\": \"value\" (or a number) of JSON
	// kept as a string inside JSON (a partner's answer in a report).
	// The value ends at the first \" that is not the inner string's own
	// escaped quote (\\\"); it holds no bare quote, so that it never runs
	// past its string.
	escapedJSONPattern = regexp.MustCompile(`\\"([^"\\]{1,100})\\"(\s*:\s*)(?:\\"(?:\\\\\\"|\\\\|\\[^"\\]|[^"\\])*\\"|-?\d[\d.eE+-]*)`)
	// jsonPattern is a "key": "value" (or a number) of JSON; escapes in
	// the value are kept whole, so that the masked text stays JSON.
	jsonPattern = regexp.MustCompile(`"([^"\\]{1,100})"(\s*:\s*)(?:"(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*)`)
	// headerPattern is a Name: value line of a request as the journal
	// keeps it.
	headerPattern = regexp.MustCompile(`(?m)^([A-Za-z][A-Za-z0-9_-]{0,63}):[ \t]*[^\r\n]*`)
)

// MaskSecrets hides the values of secret-like names (secretWords) in
// query strings and forms, JSON and header lines.
func MaskSecrets(text string) string {
	text = quotedParamPattern.ReplaceAllStringFunc(text, maskParam)
	text = escapedJSONPattern.ReplaceAllStringFunc(text, func(m string) string {
		sub := escapedJSONPattern.FindStringSubmatch(m)
		if !SecretName(sub[1]) {
			return m
		}
		return `\"` + sub[1] + `\"` + sub[2] + `\"***\"`
	})
	text = paramPattern.ReplaceAllStringFunc(text, maskParam)
	text = jsonPattern.ReplaceAllStringFunc(text, func(m string) string {
		sub := jsonPattern.FindStringSubmatch(m)
		if !SecretName(sub[1]) {
			return m
		}
		return `"` + sub[1] + `"` + sub[2] + `"***"`
	})
	return headerPattern.ReplaceAllStringFunc(text, func(m string) string {
		name := m[:strings.IndexByte(m, ':')]
		if !SecretName(name) {
			return m
		}
		return name + ": ***"
	})
}

// maskParam masks a name=value whose name is a secret's.
func maskParam(m string) string {
	name := m[:strings.IndexByte(m, '=')]
	if !SecretName(name) {
		return m
	}
	return name + "=***"
}

// Mask hides contacts and secrets in text: what the journal shows, and
// what logs, mails and the outbox listing may carry of a request.
func Mask(text string) string {
	return MaskContacts(MaskSecrets(text))
}

// Masked is the item as people are shown it: its last error names the
// partner's URL — its key, the lead's phone when it goes in the query.
func (it FeedItem) Masked() FeedItem {
	it.LastError = Mask(it.LastError)
	return it
}

// MaskAll is texts, each masked, in a new slice (nil for nil).
func MaskAll(texts []string) []string {
	if texts == nil {
		return nil
	}
	out := make([]string, len(texts))
	for i, s := range texts {
		out[i] = Mask(s)
	}
	return out
}

// MaskEdits is edits with every field change's old and new text masked,
// in new slices (nil for nil): what a report or a shadow run shows.
func MaskEdits(edits []BatchChange) []BatchChange {
	if edits == nil {
		return nil
	}
	out := make([]BatchChange, len(edits))
	for i, e := range edits {
		e.Fields = slices.Clone(e.Fields)
		for j := range e.Fields {
			e.Fields[j].Old, e.Fields[j].New = Mask(e.Fields[j].Old), Mask(e.Fields[j].New)
		}
		out[i] = e
	}
	return out
}

// Masked is e as the journal shows it: contacts and secrets masked in
// every text, Detail's strings included (its numbers are left alone, and
// it stays valid JSON).
func (e JournalEntry) Masked() JournalEntry {
	e.Summary, e.Request, e.Response = Mask(e.Summary), Mask(e.Request), Mask(e.Response)
	e.Logs = MaskAll(e.Logs)
	if len(e.Detail) > 0 {
		var v any
		if json.Unmarshal(e.Detail, &v) == nil {
			if b, err := json.Marshal(maskStrings(v)); err == nil {
				e.Detail = b
			}
		}
	}
	return e
}

func maskStrings(v any) any {
	switch v := v.(type) {
	case string:
		return Mask(v)
	case []any:
		for i := range v {
			v[i] = maskStrings(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = maskStrings(v[k])
		}
	}
	return v
}

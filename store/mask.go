// Masking: what the journal, the logs, the error mails and the outbox
// listing show of contacts and secrets. Stored data stays whole; only
// what is shown is masked, here and nowhere else.

package store

import (
	"encoding/json"
	"regexp"
	"strings"
)

var (
	emailPattern  = regexp.MustCompile(`([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@|%40)([A-Za-z0-9.-]+\.[A-Za-z]{2,})`)
	phonePattern  = regexp.MustCompile(`(?i)(\+|%2B)?\d(?:[\d ()+\-]|%20|%28|%29|%2D)*\d`)
	urlSeparators = strings.NewReplacer("%20", "", "%28", "", "%29", "", "%2D", "", "%2d", "")
	datePattern   = regexp.MustCompile(`(?:^|\D)\d{4}-\d{2}-\d{2}(?:$|\D)`)
)

// MaskContacts hides phone numbers and e-mail addresses in text, as the
// journal shows it (SPEC §6): a run of 10 to 15 digits (spaces, dashes,
// brackets and URL-encoding allowed between them; dates left alone)
// keeps its first digit and last two — +7 (999) 000-11-22 → +7***22 —
// and an address its first letter and domain: i***@example.com. What is
// stored stays whole, so that a webhook can be replayed.
func MaskContacts(text string) string {
	text = emailPattern.ReplaceAllString(text, "${1}***${2}${3}")
	return phonePattern.ReplaceAllStringFunc(text, maskPhone)
}

func maskPhone(m string) string {
	{
		if datePattern.MatchString(m) {
			return m
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

// secretParam finds the values of parameters that carry secrets in URLs
// and forms (a partner's key=, token=).
var secretParam = regexp.MustCompile(`(?i)\b((?:api_?)?key|token|secret|password|passwd|pass|auth)=[^&\s"\\]+`)

// Mask hides contacts and secrets (key=, token=, … values) in text: what
// the journal shows, and what logs, mails and the outbox listing may
// carry of a partner's URL.
func Mask(text string) string {
	return secretParam.ReplaceAllString(MaskContacts(text), "${1}=***")
}

// Masked is e as the journal shows it: contacts and secrets masked in
// every text, Detail's strings included (its numbers are left alone, and
// it stays valid JSON).
func (e JournalEntry) Masked() JournalEntry {
	e.Summary, e.Request, e.Response = Mask(e.Summary), Mask(e.Request), Mask(e.Response)
	if len(e.Logs) > 0 {
		logs := make([]string, len(e.Logs))
		for i, l := range e.Logs {
			logs[i] = Mask(l)
		}
		e.Logs = logs
	}
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

package host

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

// DefaultMaxResponse is the largest partner answer read: a status answer
// for a few hundred leads is kilobytes, so megabytes mean a wrong URL or a
// broken partner, and reading on would only cost memory.
const DefaultMaxResponse = 8 << 20

// NewPartnerClient is the HTTP client for partner APIs. Redirects are not
// followed (Client.Do never does): a 3xx from a status API is a changed
// or wrong URL, and reported as such instead of silently asking elsewhere.
// Connections are reused per host; a response over maxBody bytes is an
// error (fasthttp.ErrBodyTooLarge) without reading the rest.
func NewPartnerClient(maxBody int) *fasthttp.Client {
	if maxBody <= 0 {
		maxBody = DefaultMaxResponse
	}
	return &fasthttp.Client{
		Name:                   "leadhost",
		MaxResponseBodySize:    maxBody,
		MaxConnsPerHost:        64,
		MaxIdleConnDuration:    30 * time.Second,
		MaxConnWaitTimeout:     5 * time.Second,
		ReadTimeout:            2 * time.Minute, // the per-request deadline is shorter; this bounds a stuck read
		WriteTimeout:           time.Minute,
		DisablePathNormalizing: true, // partners' URLs go out as written
	}
}

// DescribeHTTPError words the partner client's errors for people reading
// a report or a log.
func DescribeHTTPError(err error) string {
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout):
		return "no answer in time"
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return "answer too large"
	}
	return err.Error()
}

// Excerpt returns at most n bytes of b as text, cut on a rune boundary,
// saying how much was left out: what reports keep of a request or answer.
func Excerpt(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes more)", b[:cut], len(b)-cut)
}

// FormatName is an answer format as people read it: "" is json.
func FormatName(format string) string {
	if format == "" {
		return "json"
	}
	return format
}

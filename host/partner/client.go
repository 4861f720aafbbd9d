// Package partner is leadhost's one HTTP stack for talking to partners:
// the status checks, the sends, the outgoing postbacks and the scripts'
// http.request all make their client here, encode their requests and
// forms here (the same fields are the same text everywhere), describe a
// failed request here and cut what the journal keeps of a body here.
package partner

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

// DefaultConnsPerHost is how many connections a client keeps open to one
// partner at most.
const DefaultConnsPerHost = 64

// IdleConnReuse is how long an idle connection to a partner may wait
// to be reused. A server closes idle connections after its keep-alive
// (gunicorn 2 s, Node and Apache 5 s, nginx 75 s), and a request written
// on a connection it has just closed fails with no way to tell whether
// the partner read it: a send would be held "in doubt". Under the
// shortest of those, a closed connection is not reused; sends are seconds
// apart anyway, and the requests of one check run come back to back.
const IdleConnReuse = time.Second

// NewClient is the HTTP client for partner APIs. Redirects are not
// followed (Client.Do never does): a 3xx from a status API is a changed
// or wrong URL, and reported as such instead of silently asking elsewhere.
// Connections are reused per host, at most connsPerHost (0: the default);
// a response over DefaultMaxResponse bytes is an error
// (fasthttp.ErrBodyTooLarge) without reading the rest.
func NewClient(connsPerHost int) *fasthttp.Client {
	if connsPerHost <= 0 {
		connsPerHost = DefaultConnsPerHost
	}
	return &fasthttp.Client{
		Name:                   "leadhost",
		MaxResponseBodySize:    DefaultMaxResponse,
		MaxConnsPerHost:        connsPerHost,
		MaxIdleConnDuration:    IdleConnReuse,
		MaxConnWaitTimeout:     5 * time.Second,
		ReadTimeout:            2 * time.Minute, // the per-request deadline is shorter; this bounds a stuck read
		WriteTimeout:           time.Minute,
		DisablePathNormalizing: true, // partners' URLs go out as written
	}
}

// Describe words a failed partner request for people reading a report,
// a log or a script's "nil, why".
func Describe(err error) string {
	switch {
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout):
		return "no answer in time"
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return fmt.Sprintf("answer over %d MiB", DefaultMaxResponse>>20)
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

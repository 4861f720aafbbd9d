package api

import (
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/api/guesslimit"
	"leadhost/host/app"
)

// guard is the admin API's door (and /metrics'): a caller that sent too
// many wrong bearer tokens lately (guesslimit: five within ten minutes)
// is answered 429 with Retry-After, its token unread; otherwise the
// rules of adminRefusal decide, and a token shown to a request they
// refuse counts against its caller (a right one clears the count). A
// request without an Authorization header guesses nothing, and a wrong
// token on a request served without one (a loopback read with no
// api_token set) is no guess either. It says whether it answered.
func (s *Server) guard(c *fasthttp.RequestCtx, what string) bool {
	shown := present(&c.Request.Header, "Authorization")
	var caller string
	now := time.Now()
	if shown {
		caller = app.SourceOf(s.clientIP(c).String())
		// A read served without a token whatever it shows (no api_token
		// set, a direct loopback read) is not held back: serving it says
		// nothing about the token.
		if wait := s.guesses.Wait(caller, now); wait > 0 && (s.APIToken != "" || s.tokenlessRefusal(c) != "") {
			wait = wait.Round(time.Second)
			refuseAtDoor(c, fasthttp.StatusTooManyRequests, fmt.Sprintf("%s: %d wrong tokens from your address within %d minutes; try again in %v",
				what, guesslimit.Tries, int(guesslimit.Window/time.Minute), wait))
			c.Response.Header.Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
			return true
		}
	}
	why := s.adminRefusal(c)
	switch {
	case why != "":
		if shown {
			s.guesses.Failed(caller, now)
		}
		refuseAtDoor(c, fasthttp.StatusUnauthorized, what+": "+why)
		c.Response.Header.Set("WWW-Authenticate", `Bearer realm="leadhost"`)
		return true
	case shown && ((s.APIToken != "" && bearer(c, s.APIToken)) || (s.LocalToken != "" && bearer(c, s.LocalToken))):
		s.guesses.Succeeded(caller)
	}
	return false
}

package api

import (
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/api/guesslimit"
	"leadhost/host/app"
)

// refuseGuesser answers a caller that sent too many wrong bearer tokens
// lately (guesslimit: five within ten minutes) with 429 and Retry-After,
// its token unread, and says so; otherwise it counts the request's
// token, right or wrong, and the rules of adminRefusal follow. A request
// without an Authorization header guesses nothing and is not counted.
func (s *Server) refuseGuesser(c *fasthttp.RequestCtx, what string) bool {
	if !present(&c.Request.Header, "Authorization") {
		return false
	}
	caller := app.SourceOf(s.clientIP(c).String())
	now := time.Now()
	if wait := s.guesses.Wait(caller, now); wait > 0 {
		wait = wait.Round(time.Second)
		writeError(c, fasthttp.StatusTooManyRequests, fmt.Sprintf("%s: %d wrong tokens from your address within %d minutes; try again in %v",
			what, guesslimit.Tries, int(guesslimit.Window/time.Minute), wait))
		c.Response.Header.Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
		return true
	}
	if (s.APIToken != "" && bearer(c, s.APIToken)) || (s.APIToken == "" && s.LocalToken != "" && bearer(c, s.LocalToken)) {
		s.guesses.Succeeded(caller)
	} else {
		s.guesses.Failed(caller, now)
	}
	return false
}

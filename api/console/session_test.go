package console

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// A session lasts sessionTTL from its sign-in, whichever node reads it.
func TestSessionExpires(t *testing.T) {
	var s sessions
	signedIn := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	cookie := s.start("the-token", signedIn)
	for _, tc := range []struct {
		after time.Duration
		open  bool
	}{
		{0, true},
		{sessionTTL - time.Second, true},
		{sessionTTL, false},
		{sessionTTL + time.Hour, false},
	} {
		var c fasthttp.RequestCtx
		c.Request.Header.SetCookie(sessionCookie, cookie)
		var other sessions // another node
		if got := other.get(&c, "the-token", signedIn.Add(tc.after)) != nil; got != tc.open {
			t.Errorf("%v after sign-in: open %v, want %v", tc.after, got, tc.open)
		}
	}
}

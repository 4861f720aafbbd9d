package partner

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"leadhost/host/hosttest"

	"github.com/valyala/fasthttp"
)

// Do gives the partner's answer when it comes, and gives up when its
// context ends first: a stopping host does not wait for a partner's
// deadline. A request given up on leaves the caller free to reuse its
// request and response at once (run with -race).
func TestDoStopsWithItsContext(t *testing.T) {
	release := make(chan struct{})
	p := hosttest.StartPartner(t, func(w http.ResponseWriter, _ int, r hosttest.Request) {
		if r.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "answer to "+r.Path)
	})
	t.Cleanup(func() { close(release) })
	c := NewClient(0)
	for _, tc := range []struct {
		name, path  string
		cancelAfter time.Duration // 0: never
		want        string        // the answer's body; "" for ctx's error
	}{
		{"an answer in time", "/fast", 0, "answer to /fast"},
		{"an answer before the context ends", "/fast", time.Minute, "answer to /fast"},
		{"no answer: given up when the context ends", "/slow", 50 * time.Millisecond, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.cancelAfter > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.cancelAfter)
				defer cancel()
			}
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			req.SetRequestURI(p.URL + tc.path)
			err := Do(ctx, c, req, resp, time.Now().Add(time.Minute))
			switch {
			case tc.want == "" && !errors.Is(err, context.DeadlineExceeded):
				t.Fatalf("Do = %v; want the context's error", err)
			case tc.want != "" && (err != nil || string(resp.Body()) != tc.want):
				t.Fatalf("Do = %v, %q; want %q", err, resp.Body(), tc.want)
			}
			// The caller's objects are its own again, whatever happened.
			fasthttp.ReleaseRequest(req)
			fasthttp.ReleaseResponse(resp)
		})
	}
}

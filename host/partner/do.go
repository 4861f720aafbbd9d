package partner

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Do makes req to its partner by deadline, reading the answer into resp,
// and gives up as soon as ctx ends (the host stopping, a person's run
// cancelled): fasthttp takes a deadline but no context, and a partner
// that does not answer must not hold a stopping host until its deadline.
//
// A request given up on goes on in the background on copies of req and
// resp until its deadline (fasthttp cannot cut it short), so that the
// caller may release its own at once; it returns ctx's error. A request
// that may not be abandoned (a send whose fate must be known) takes a ctx
// that never ends.
func Do(ctx context.Context, c *fasthttp.Client, req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time) error {
	if ctx.Done() == nil {
		return c.DoDeadline(req, resp, deadline)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	inner, answer := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.CopyTo(inner)
	var abandoned atomic.Bool
	done := make(chan error, 1)
	go func() {
		err := c.DoDeadline(inner, answer, deadline)
		if abandoned.Swap(true) {
			// Nobody waits for it any more: the copies are ours alone.
			fasthttp.ReleaseRequest(inner)
			fasthttp.ReleaseResponse(answer)
			return
		}
		done <- err
	}()
	select {
	case err := <-done:
		answer.CopyTo(resp)
		fasthttp.ReleaseRequest(inner)
		fasthttp.ReleaseResponse(answer)
		return err
	case <-ctx.Done():
		if abandoned.Swap(true) {
			// It finished as ctx ended: take its answer after all.
			err := <-done
			answer.CopyTo(resp)
			fasthttp.ReleaseRequest(inner)
			fasthttp.ReleaseResponse(answer)
			return err
		}
		return ctx.Err()
	}
}

package cases

import (
	"sync"

	"github.com/valyala/fasthttp"
)

// Canned is a partner faked at the HTTP client: a fasthttp.RoundTripper
// that answers every request with one recorded answer, without a network,
// and keeps each request as it would have left (headers, body and all).
type Canned struct {
	Status int
	Body   []byte
	mu     sync.Mutex
	got    []*fasthttp.Request
}

// Client is a partner client whose every request Canned answers.
func (c *Canned) Client() *fasthttp.Client {
	return &fasthttp.Client{Transport: c}
}

// RoundTrip keeps a copy of req and answers it.
func (c *Canned) RoundTrip(_ *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (bool, error) {
	kept := &fasthttp.Request{}
	req.CopyTo(kept)
	c.mu.Lock()
	c.got = append(c.got, kept)
	c.mu.Unlock()
	resp.SetStatusCode(c.Status)
	resp.SetBody(c.Body)
	return false, nil
}

// Requests are the requests answered so far, oldest first.
func (c *Canned) Requests() []*fasthttp.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*fasthttp.Request(nil), c.got...)
}

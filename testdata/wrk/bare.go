// Bare is the fasthttp handler leadhost's webhook is measured against
// (testdata/wrk/run.sh): it parses the same query and answers JSON.
package main

import (
	"fmt"
	"os"
	"sync/atomic"

	"github.com/valyala/fasthttp"
)

func main() {
	var n atomic.Uint64
	h := func(c *fasthttp.RequestCtx) {
		q := c.QueryArgs()
		if string(q.Peek("token")) != "bench" || len(q.Peek("order")) == 0 || len(q.Peek("phone")) == 0 {
			c.SetStatusCode(401)
			return
		}
		c.SetContentType("application/json")
		fmt.Fprintf(c, `{"ok":true,"lead":%d,"created":true}`, n.Add(1))
	}
	if err := fasthttp.ListenAndServe(os.Args[1], h); err != nil {
		panic(err)
	}
}

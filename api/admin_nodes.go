package api

import (
	"github.com/valyala/fasthttp"
)

// listNodes is GET /api/nodes: the nodes sharing this serve's store,
// alive and those dead or gone within the hour, with the versions they
// run and the leases they hold; on Badger, this serve alone.
func (s *Server) listNodes(c *fasthttp.RequestCtx, _ []string) (int, any, error) {
	nodes, err := s.App.Nodes(c)
	if err != nil {
		return 0, nil, err
	}
	return 200, listOf(nodes, ""), nil
}

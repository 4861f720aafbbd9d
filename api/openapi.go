package api

import (
	_ "embed"
	"encoding/json"

	"github.com/valyala/fasthttp"
)

// openAPIDocument is the admin API v1 described in OpenAPI 3.1: every
// route of adminRoutes, its parameters and its answers. A test holds the
// routes' real answers to it.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPI is GET /api/openapi.json.
func (s *Server) openAPI(*fasthttp.RequestCtx, []string) (int, any, error) {
	return 200, json.RawMessage(openAPIDocument), nil
}

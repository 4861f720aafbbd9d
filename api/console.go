package api

import (
	"bytes"
	"context"
	"strings"

	"github.com/valyala/fasthttp"

	"leadhost/api/console"
	"leadhost/store"
)

// ui is the operator's console at /ui/ (package console), made on first
// use with this server's access rules: the admin token, or with none the
// admin API's rule for clients without one (adminRefusal) and serve's
// local token for changes.
func (s *Server) ui() *console.Console {
	s.uiOnce.Do(func() {
		access := console.Access{
			Token:      s.APIToken,
			AdminToken: s.APIToken != "",
			Refusal:    s.adminRefusal,
			Secure:     s.secure,
			Host:       s.requestedHost,
			Replay: func(c *fasthttp.RequestCtx, id string) (int, string, error) {
				_, v, err := s.replay(c, []string{id})
				if err != nil {
					return 0, "", err
				}
				r := v.(replayView)
				return r.Status, r.Body, nil
			},
			StatusOf: statusOf,
			Client:   s.clientIP,
		}
		if access.Token == "" {
			access.Token = s.LocalToken
		}
		s.console = console.New(s.runContext(), s.App, access, s.log())
		if s.Metrics != nil {
			s.console.Counts = func(ctx context.Context) (map[string]map[store.Status]int, error) {
				if counts, ok := s.Metrics.LeadCounts(); ok {
					return counts, nil
				}
				return s.App.Store.CountLeads(ctx)
			}
		}
	})
	return s.console
}

// requestedHost is the host the browser asked for: the Host header, or
// a trusted proxy's X-Forwarded-Host (its first, the client's) when it
// passes the request on under another (nginx's proxy_pass sets Host to
// the upstream's address).
func (s *Server) requestedHost(c *fasthttp.RequestCtx) string {
	if s.trusted(c.RemoteIP()) {
		if fwd := c.Request.Header.Peek("X-Forwarded-Host"); len(fwd) > 0 {
			first, _, _ := strings.Cut(string(fwd), ",")
			return strings.TrimSpace(first)
		}
	}
	return string(c.Host())
}

// secure says whether the request came over TLS: to this server, or to
// a trusted proxy that says so (X-Forwarded-Proto: https, or Forwarded
// proto=https). Anyone else's word on it is not taken.
func (s *Server) secure(c *fasthttp.RequestCtx) bool {
	if c.IsTLS() {
		return true
	}
	if !s.trusted(c.RemoteIP()) {
		return false
	}
	if bytes.EqualFold(bytes.TrimSpace(c.Request.Header.Peek("X-Forwarded-Proto")), []byte("https")) {
		return true
	}
	for _, line := range c.Request.Header.PeekAll("Forwarded") {
		for _, part := range strings.FieldsFunc(string(line), func(r rune) bool { return r == ',' || r == ';' }) {
			if strings.EqualFold(strings.TrimSpace(part), "proto=https") {
				return true
			}
		}
	}
	return false
}

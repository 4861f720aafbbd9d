package api

import (
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"leadhost/host/app"
	"leadhost/store"
)

// ClientHeader names the admin API's caller when it is leadhost's own CLI
// talking to a running serve: history then says "cli", as when the CLI
// opens the database itself.
const ClientHeader = "X-Leadhost-Client"

// writerOf is who a lead change through the admin API is by.
func writerOf(c *fasthttp.RequestCtx) string {
	if string(c.Request.Header.Peek(ClientHeader)) == app.ByCLI {
		return app.ByCLI
	}
	return app.ByAPI
}

func parseLeadID(text string) (uint64, error) {
	id, err := strconv.ParseUint(text, 10, 64)
	if err != nil || id == 0 {
		return 0, badRequest("%q is not a lead id", text)
	}
	return id, nil
}

// listLeads is GET /api/leads?offer=&status=&ext=&contact=&limit=&cursor=
// (app.FindLeads).
func (s *Server) listLeads(c *fasthttp.RequestCtx, _ []string) (int, any, error) {
	a := c.QueryArgs()
	statuses, err := statusFilter(string(a.Peek("status")))
	if err != nil {
		return 0, nil, err
	}
	limit, err := pageLimit(c)
	if err != nil {
		return 0, nil, err
	}
	page, err := s.App.FindLeads(c, app.LeadFilter{Offer: string(a.Peek("offer")), Statuses: statuses,
		Ext: string(a.Peek("ext")), Contact: string(a.Peek("contact")), Cursor: string(a.Peek("cursor")), Limit: limit})
	if err != nil {
		return 0, nil, err
	}
	return 200, listOf(page.Leads, page.Next), nil
}

// statusFilter reads ?status=: statuses by number or name, comma-separated.
func statusFilter(text string) (store.StatusSet, error) {
	var set store.StatusSet
	for _, word := range strings.Split(text, ",") {
		if word = strings.TrimSpace(word); word == "" {
			continue
		}
		st, err := store.ParseStatus(word)
		if err != nil {
			return 0, badRequest("status %q: want 1..12 or a name (new, processing, …, deleted), comma-separated", word)
		}
		set |= store.Statuses(st)
	}
	return set, nil
}

// createLead is POST /api/leads with a lead as JSON.
func (s *Server) createLead(c *fasthttp.RequestCtx, _ []string) (int, any, error) {
	l, created, err := s.App.AddLead(c, c.PostBody(), writerOf(c))
	if err != nil {
		return 0, nil, err
	}
	if !created {
		return 200, l, nil // its key named an existing lead
	}
	return 201, l, nil
}

// getLead is GET /api/leads/<id>.
func (s *Server) getLead(c *fasthttp.RequestCtx, p []string) (int, any, error) {
	id, err := parseLeadID(p[0])
	if err != nil {
		return 0, nil, err
	}
	l, err := s.App.Store.Get(c, id)
	return 200, l, err
}

// patchLead is PATCH /api/leads/<id> with the core.lead.edit fields.
func (s *Server) patchLead(c *fasthttp.RequestCtx, p []string) (int, any, error) {
	id, err := parseLeadID(p[0])
	if err != nil {
		return 0, nil, err
	}
	l, err := s.App.EditLead(c, id, c.PostBody(), writerOf(c))
	return 200, l, err
}

// leadHistory is GET /api/leads/<id>/history: every change, oldest first.
func (s *Server) leadHistory(c *fasthttp.RequestCtx, p []string) (int, any, error) {
	id, err := parseLeadID(p[0])
	if err != nil {
		return 0, nil, err
	}
	h, err := s.App.Store.History(c, id)
	return 200, listOf(h, ""), err
}

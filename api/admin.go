package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"leadhost/host"
	"leadhost/host/check"
	"leadhost/host/shadow"
	"leadhost/store"
)

// adminRoute is one route of the admin API v1: a method, a path under
// /api/ whose {names} match one segment each, and its handler. The table
// adminRoutes is the API (a function, not a variable, since replay calls
// back into the router); GET /api/openapi.json describes the same routes, and
// a test holds the two together.
type adminRoute struct {
	method, path string
	handle       func(s *Server, c *fasthttp.RequestCtx, p []string) (int, any, error)
}

func adminRoutes() []adminRoute {
	return []adminRoute{
		{"GET", "leads", (*Server).listLeads},
		{"POST", "leads", (*Server).createLead},
		{"GET", "leads/{id}", (*Server).getLead},
		{"PATCH", "leads/{id}", (*Server).patchLead},
		{"GET", "leads/{id}/history", (*Server).leadHistory},
		{"GET", "offers", (*Server).listOffers},
		{"GET", "offers/{offer}", (*Server).getOffer},
		{"POST", "offers/{offer}/check", (*Server).checkNow},
		{"POST", "offers/{offer}/dry-run", (*Server).dryRun},
		{"GET", "offers/{offer}/shadow", (*Server).shadowView},
		{"POST", "offers/{offer}/shadow/replay", (*Server).shadowReplay},
		{"POST", "offers/{offer}/promote", (*Server).promote},
		{"GET", "journal", (*Server).listJournal},
		{"GET", "journal/{id}", (*Server).journalEntry},
		{"POST", "journal/{id}/replay", (*Server).replay},
		{"GET", "outbox/{outbox}", (*Server).listOutbox},
		{"POST", "outbox/{outbox}/{lead}/{rev}/release", (*Server).release},
		{"POST", "outbox/{outbox}/{lead}/{rev}/drop", (*Server).drop},
		{"GET", "backup", (*Server).backup},
		{"GET", "verify", (*Server).verify},
		{"GET", "nodes", (*Server).listNodes},
		{"GET", "openapi.json", (*Server).openAPI},
	}
}

// match says whether path (split) fits the route's path, and the values
// of its {names} in order.
func (r adminRoute) match(parts []string) ([]string, bool) {
	pattern := strings.Split(r.path, "/")
	if len(pattern) != len(parts) {
		return nil, false
	}
	var params []string
	for i, seg := range pattern {
		switch {
		case strings.HasPrefix(seg, "{"):
			if parts[i] == "" {
				return nil, false
			}
			params = append(params, parts[i])
		case seg != parts[i]:
			return nil, false
		}
	}
	return params, true
}

// admin serves /api/… (SPEC §5). Callers show a bearer token (APIToken);
// with none set, see adminRefusal for who is served. A path the API has
// with another method is 405 with the methods it takes.
func (s *Server) admin(c *fasthttp.RequestCtx, path string) {
	if s.guard(c, "admin API") {
		return
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	method := string(c.Method())
	var allowed []string
	for _, r := range adminRoutes() {
		params, ok := r.match(parts)
		if !ok {
			continue
		}
		if r.method != method {
			allowed = append(allowed, r.method)
			continue
		}
		status, body, err := r.handle(s, c, params)
		if err != nil {
			writeAPIError(c, err)
			return
		}
		if _, ok := body.(streamed); ok {
			c.SetStatusCode(status)
			return
		}
		writeJSON(c, status, body)
		return
	}
	if len(allowed) > 0 {
		sort.Strings(allowed)
		writeError(c, fasthttp.StatusMethodNotAllowed, fmt.Sprintf("/api/%s takes %s, not %s", strings.Trim(path, "/"), strings.Join(allowed, " or "), method))
		c.Response.Header.Set("Allow", strings.Join(allowed, ", ")) // after writeError, which resets the response
		return
	}
	writeError(c, fasthttp.StatusNotFound, fmt.Sprintf("no route %s /api/%s (see GET /api/openapi.json)", method, strings.Trim(path, "/")))
}

// list is the one envelope of every list the admin API answers: the items
// and the cursor of the next page ("" when this page is the last).
type list[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next"`
}

// listOf makes the envelope, never with a null items.
func listOf[T any](items []T, next string) list[T] {
	if items == nil {
		items = []T{}
	}
	return list[T]{Items: items, Next: next}
}

// APIError is an error with the HTTP status it is answered with; its
// message is the user's words (Caddy's APIError is the model).
type APIError struct {
	HTTPStatus int
	Err        error
}

func (e *APIError) Error() string { return e.Err.Error() }
func (e *APIError) Unwrap() error { return e.Err }

// badRequest is a 400 with a message.
func badRequest(format string, args ...any) error {
	return &APIError{HTTPStatus: fasthttp.StatusBadRequest, Err: fmt.Errorf(format, args...)}
}

// statusOf is the HTTP status an error is answered with: its own for an
// APIError, else by the store's sentinel it wraps.
func statusOf(err error) int {
	var ae *APIError
	switch {
	case errors.As(err, &ae):
		return ae.HTTPStatus
	case errors.Is(err, store.ErrNotFound):
		return fasthttp.StatusNotFound
	case errors.Is(err, store.ErrInvalid):
		return fasthttp.StatusBadRequest
	case errors.Is(err, store.ErrRefused), errors.Is(err, store.ErrExists), errors.Is(err, check.ErrBusy), errors.Is(err, shadow.ErrBusy), errors.Is(err, host.ErrNoCandidate):
		return fasthttp.StatusConflict
	case errors.Is(err, check.ErrStopping), errors.Is(err, store.ErrDiskFull):
		return fasthttp.StatusServiceUnavailable
	}
	return fasthttp.StatusInternalServerError
}

// writeAPIError answers err: one place decides how an error looks to a
// client, in the words the CLI uses for it (store.Describe).
func writeAPIError(c *fasthttp.RequestCtx, err error) {
	writeError(c, statusOf(err), store.Describe(err))
}

func writeJSON(c *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(c, fasthttp.StatusInternalServerError, err.Error())
		return
	}
	c.SetStatusCode(status)
	c.SetContentType(jsonContentType)
	c.SetBody(b)
}

// pageLimit reads ?limit= (1..1000; 0 when absent, for the default).
func pageLimit(c *fasthttp.RequestCtx) (int, error) {
	l := string(c.QueryArgs().Peek("limit"))
	if l == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 || n > 1000 {
		return 0, badRequest("limit %q: want 1..1000", l)
	}
	return n, nil
}

// unknownOffer is the answer to a filter naming an offer that is
// neither in the scripts folder nor in what was listed: most likely a
// typo (a removed offer's leads and entries are still listed).
func (s *Server) unknownOffer(id string) error {
	return badRequest("offer %q: no such offer, and nothing stored under that name matches (offers: %s)", id, strings.Join(s.App.Offers.IDs(), ", "))
}

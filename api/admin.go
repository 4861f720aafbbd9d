package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/host"
	"leadhost/host/app"
	"leadhost/host/check"
	"leadhost/store"
)

// admin serves /api/… (SPEC §5). Callers show a bearer token (APIToken);
// with none set, only loopback clients are served.
func (s *Server) admin(c *fasthttp.RequestCtx, path string) {
	if !s.adminAllowed(c) {
		writeError(c, fasthttp.StatusUnauthorized, "admin API: a valid Authorization: Bearer token is needed (with no --api-token set: a direct loopback client, not through a proxy or a web page)")
		c.Response.Header.Set("WWW-Authenticate", `Bearer realm="leadhost"`)
		return
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	method := string(c.Method())
	route := func(m string, n int) bool { return method == m && len(parts) == n }
	switch {
	case parts[0] == "leads" && route("GET", 1):
		s.listLeads(c)
	case parts[0] == "leads" && route("POST", 1):
		s.createLead(c)
	case parts[0] == "leads" && route("GET", 2):
		s.withLead(c, parts[1], func(id uint64) (any, error) { return s.App.Store.Get(c, id) })
	case parts[0] == "leads" && route("PATCH", 2):
		s.patchLead(c, parts[1])
	case parts[0] == "leads" && route("GET", 3) && parts[2] == "history":
		s.withLead(c, parts[1], func(id uint64) (any, error) { return s.App.Store.History(c, id) })
	case parts[0] == "offers" && route("GET", 1):
		s.listOffers(c)
	case parts[0] == "offers" && route("GET", 2):
		s.offer(c, parts[1])
	case parts[0] == "offers" && route("POST", 3) && parts[2] == "check":
		s.checkNow(c, parts[1])
	case parts[0] == "offers" && route("POST", 3) && parts[2] == "dry-run":
		s.dryRun(c, parts[1])
	case parts[0] == "journal" && route("GET", 1):
		s.listJournal(c)
	case parts[0] == "journal" && route("GET", 2):
		s.journalEntry(c, parts[1])
	case parts[0] == "journal" && route("POST", 3) && parts[2] == "replay":
		s.replay(c, parts[1])
	case parts[0] == "outbox" && route("GET", 2):
		s.outbox(c, parts[1])
	case parts[0] == "outbox" && route("POST", 5) && parts[4] == "release":
		s.release(c, parts[1], parts[2], parts[3])
	default:
		writeError(c, fasthttp.StatusNotFound, fmt.Sprintf("no route %s /api/%s", method, strings.Trim(path, "/")))
	}
}

// adminAllowed says whether the caller may use the admin API: with a
// token, whoever shows it; without one, loopback clients only — and not
// through a proxy on this host (it connects from loopback on behalf of
// anyone) nor from a web page (a browser on this host could be made to
// post to us).
func (s *Server) adminAllowed(c *fasthttp.RequestCtx) bool {
	if s.APIToken != "" {
		auth := c.Request.Header.Peek("Authorization")
		if len(auth) < 7 || !bytes.EqualFold(auth[:7], []byte("Bearer ")) {
			return false
		}
		return subtle.ConstantTimeCompare(bytes.TrimSpace(auth[7:]), []byte(s.APIToken)) == 1
	}
	h := &c.Request.Header
	if len(h.Peek("X-Forwarded-For")) > 0 || len(h.Peek("Forwarded")) > 0 || len(h.Peek("X-Real-Ip")) > 0 || len(h.Peek("Origin")) > 0 {
		return false
	}
	return c.RemoteIP().IsLoopback()
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

// storeError answers a store error with its fitting code, in the words
// the CLI uses for it (store.Describe).
func storeError(c *fasthttp.RequestCtx, err error) {
	status := fasthttp.StatusInternalServerError
	switch {
	case errors.Is(err, store.ErrNotFound):
		status = fasthttp.StatusNotFound
	case errors.Is(err, store.ErrInvalid):
		status = fasthttp.StatusBadRequest
	case errors.Is(err, store.ErrRefused), errors.Is(err, store.ErrExists):
		status = fasthttp.StatusConflict
	}
	writeError(c, status, store.Describe(err))
}

func parseID(c *fasthttp.RequestCtx, text string) (uint64, bool) {
	id, err := strconv.ParseUint(text, 10, 64)
	if err != nil || id == 0 {
		writeError(c, fasthttp.StatusBadRequest, fmt.Sprintf("%q is not a lead id", text))
		return 0, false
	}
	return id, true
}

func (s *Server) withLead(c *fasthttp.RequestCtx, text string, fn func(uint64) (any, error)) {
	id, ok := parseID(c, text)
	if !ok {
		return
	}
	v, err := fn(id)
	if err != nil {
		storeError(c, err)
		return
	}
	writeJSON(c, fasthttp.StatusOK, v)
}

// listLeads is GET /api/leads?offer=&status=&ext=&limit=&cursor=.
func (s *Server) listLeads(c *fasthttp.RequestCtx) {
	a := c.QueryArgs()
	q := store.Query{Offer: string(a.Peek("offer")), Cursor: string(a.Peek("cursor"))}
	if q.Offer == "" {
		writeError(c, fasthttp.StatusBadRequest, "offer= is required: leads are listed per offer")
		return
	}
	if ext := string(a.Peek("ext")); ext != "" {
		l, err := s.App.Store.ByExt(c, q.Offer, ext)
		if errors.Is(err, store.ErrNotFound) {
			writeJSON(c, fasthttp.StatusOK, store.Page{Leads: []*store.Lead{}})
			return
		}
		if err != nil {
			storeError(c, err)
			return
		}
		writeJSON(c, fasthttp.StatusOK, store.Page{Leads: []*store.Lead{l}})
		return
	}
	for _, text := range strings.Split(string(a.Peek("status")), ",") {
		if text == "" {
			continue
		}
		n, err := strconv.Atoi(text)
		if err != nil || n < 1 || n > 12 {
			writeError(c, fasthttp.StatusBadRequest, fmt.Sprintf("status %q: want 1..12, comma-separated", text))
			return
		}
		q.Statuses |= store.Statuses(store.Status(n))
	}
	limit, ok := pageLimit(c)
	if !ok {
		return
	}
	q.Limit = limit
	page, err := s.App.Store.List(c, q)
	if err != nil {
		storeError(c, err)
		return
	}
	if page.Leads == nil {
		page.Leads = []*store.Lead{}
	}
	writeJSON(c, fasthttp.StatusOK, page)
}

// createLead is POST /api/leads with a lead as JSON.
func (s *Server) createLead(c *fasthttp.RequestCtx) {
	l, created, err := s.App.AddLead(c, c.PostBody(), writerOf(c))
	if err != nil {
		storeError(c, err)
		return
	}
	status := fasthttp.StatusCreated
	if !created {
		status = fasthttp.StatusOK // its key named an existing lead
	}
	writeJSON(c, status, l)
}

// patchLead is PATCH /api/leads/<id> with the core.lead.edit fields.
func (s *Server) patchLead(c *fasthttp.RequestCtx, text string) {
	id, ok := parseID(c, text)
	if !ok {
		return
	}
	l, err := s.App.EditLead(c, id, c.PostBody(), writerOf(c))
	if err != nil {
		storeError(c, err)
		return
	}
	writeJSON(c, fasthttp.StatusOK, l)
}

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

// offerView is an offer as the API shows it.
type offerView struct {
	ID        string           `json:"id"`
	Name      string           `json:"name,omitempty"`
	Version   uint64           `json:"version,omitempty"`
	Loaded    time.Time        `json:"loaded,omitzero"`
	Files     []string         `json:"files,omitempty"`
	Modes     []host.CheckMode `json:"modes,omitempty"`
	Errors    []string         `json:"errors,omitempty"` // load problems: the version above keeps running
	Schedules []check.Schedule `json:"schedules,omitempty"`
}

func (s *Server) view(o *host.Offer, id string) offerView {
	v := offerView{ID: id}
	if o != nil {
		v.Name, v.Version, v.Loaded, v.Modes = o.Config.Name, o.Version, o.Loaded, o.Modes
		v.Files = append(v.Files, "offer.toml")
		for name := range o.Scripts {
			v.Files = append(v.Files, name)
		}
		sort.Strings(v.Files)
	}
	for _, e := range s.App.Offers.Errors()[id] {
		v.Errors = append(v.Errors, e.Error())
	}
	for _, sc := range s.App.Checks.Schedules() {
		if sc.Offer == id {
			v.Schedules = append(v.Schedules, sc)
		}
	}
	return v
}

// listOffers is GET /api/offers: loaded offers and those that do not load.
func (s *Server) listOffers(c *fasthttp.RequestCtx) {
	seen := map[string]bool{}
	out := []offerView{}
	for _, o := range s.App.Offers.Offers() {
		seen[o.ID] = true
		out = append(out, s.view(o, o.ID))
	}
	for id := range s.App.Offers.Errors() {
		if !seen[id] {
			out = append(out, s.view(nil, id))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	writeJSON(c, fasthttp.StatusOK, out)
}

func (s *Server) offer(c *fasthttp.RequestCtx, id string) {
	o, ok := s.App.Offers.Offer(id)
	if !ok && len(s.App.Offers.Errors()[id]) == 0 {
		writeError(c, fasthttp.StatusNotFound, fmt.Sprintf("no offer %q", id))
		return
	}
	writeJSON(c, fasthttp.StatusOK, s.view(o, id))
}

// checkNow is POST /api/offers/<offer>/check?mode=…[&dry=1].
func (s *Server) checkNow(c *fasthttp.RequestCtx, id string) {
	dry := string(c.QueryArgs().Peek("dry"))
	rep, err := s.App.CheckNow(context.Background(), id, string(c.QueryArgs().Peek("mode")), dry == "1" || dry == "true")
	if errors.Is(err, check.ErrBusy) {
		writeError(c, fasthttp.StatusConflict, err.Error()+": try again when it ends")
		return
	}
	if err != nil {
		storeError(c, err)
		return
	}
	status := fasthttp.StatusOK
	if rep.Err != nil {
		status = fasthttp.StatusBadGateway // the run happened; the partner or the handler failed
	}
	writeJSON(c, status, rep)
}

// dryRun is POST /api/offers/<offer>/dry-run?mode=… with a partner answer.
func (s *Server) dryRun(c *fasthttp.RequestCtx, id string) {
	if len(c.PostBody()) == 0 {
		writeError(c, fasthttp.StatusBadRequest, "post the partner's answer as the body")
		return
	}
	rep, err := s.App.DryRunAnswer(context.Background(), id, string(c.QueryArgs().Peek("mode")), append([]byte(nil), c.PostBody()...))
	if err != nil {
		storeError(c, err)
		return
	}
	status := fasthttp.StatusOK
	if rep.Err != nil {
		status = fasthttp.StatusUnprocessableEntity
	}
	writeJSON(c, status, rep)
}

// listJournal is GET /api/journal?offer=&kind=&status=&since=&limit=&cursor=[&raw=1].
func (s *Server) listJournal(c *fasthttp.RequestCtx) {
	a := c.QueryArgs()
	q := store.JournalQuery{Offer: string(a.Peek("offer")), Kind: string(a.Peek("kind")), Status: string(a.Peek("status")), Cursor: string(a.Peek("cursor"))}
	if since := string(a.Peek("since")); since != "" {
		if d, err := time.ParseDuration(since); err == nil {
			q.Since = time.Now().Add(-d)
		} else if t, err := time.Parse(time.RFC3339, since); err == nil {
			q.Since = t
		} else {
			writeError(c, fasthttp.StatusBadRequest, fmt.Sprintf("since %q: want a duration (1h) or an RFC 3339 time", since))
			return
		}
	}
	limit, ok := pageLimit(c)
	if !ok {
		return
	}
	q.Limit = limit
	entries, next, err := s.App.Store.JournalList(c, q)
	if err != nil {
		storeError(c, err)
		return
	}
	raw := string(a.Peek("raw")) == "1"
	out := make([]store.JournalEntry, 0, len(entries))
	for _, e := range entries {
		if !raw {
			e = e.Masked()
		}
		out = append(out, e)
	}
	writeJSON(c, fasthttp.StatusOK, map[string]any{"entries": out, "next": next})
}

// entryFor reads the journal entry a path names, or answers why not.
func (s *Server) entryFor(c *fasthttp.RequestCtx, text string) (*store.JournalEntry, bool) {
	id, err := strconv.ParseUint(text, 10, 64)
	if err != nil {
		writeError(c, fasthttp.StatusBadRequest, fmt.Sprintf("%q is not a journal id", text))
		return nil, false
	}
	e, err := s.App.Store.JournalGet(c, id)
	if err != nil {
		storeError(c, err)
		return nil, false
	}
	return e, true
}

func (s *Server) journalEntry(c *fasthttp.RequestCtx, text string) {
	e, ok := s.entryFor(c, text)
	if !ok {
		return
	}
	if string(c.QueryArgs().Peek("raw")) != "1" {
		*e = e.Masked()
	}
	writeJSON(c, fasthttp.StatusOK, e)
}

// replay is POST /api/journal/<id>/replay: a journaled webhook or
// postback runs again as it came (the same token, query and body), and
// its answer comes back. An idempotency key in the script makes it the
// same lead, not a new one.
func (s *Server) replay(c *fasthttp.RequestCtx, text string) {
	e, ok := s.entryFor(c, text)
	if !ok {
		return
	}
	id := e.ID
	if e.Kind != "hook" && e.Kind != "postback" {
		writeError(c, fasthttp.StatusBadRequest, fmt.Sprintf("journal entry %d is a %s: only webhooks and postbacks replay", id, e.Kind))
		return
	}
	if e.Request == "" {
		writeError(c, fasthttp.StatusConflict, fmt.Sprintf("journal entry %d kept no request (the call was refused before its token was checked)", id))
		return
	}
	var req fasthttp.Request
	if err := req.Read(bufio.NewReader(strings.NewReader(e.Request))); err != nil {
		writeError(c, fasthttp.StatusUnprocessableEntity, fmt.Sprintf("journal entry %d: the kept request does not parse: %v", id, err))
		return
	}
	// Only what the entry says it is: a webhook or postback of its offer.
	path := string(req.URI().Path())
	rest, isKind := strings.CutPrefix(path, "/"+e.Kind+"/")
	offerID, _, _ := strings.Cut(rest, "/")
	if !isKind || offerID != e.Offer {
		writeError(c, fasthttp.StatusConflict, fmt.Sprintf("journal entry %d: the kept request (%s) is not a %s of offer %s", id, path, e.Kind, e.Offer))
		return
	}
	// The journal keeps requests without their token; the offer's current
	// one goes back in.
	if o, ok := s.App.Offers.Offer(offerID); ok {
		if token := offerToken(o, e.Kind); token != "" {
			req.URI().QueryArgs().Set("token", token)
		}
	}
	// From a documentation address, not loopback: a replay is not a local
	// caller, and scripts see that it is not the partner's first call.
	var rc fasthttp.RequestCtx
	rc.Init(&req, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1)}, nil)
	s.Handle(&rc)
	writeJSON(c, fasthttp.StatusOK, map[string]any{
		"replayed": id, "status": rc.Response.StatusCode(),
		"content_type": string(rc.Response.Header.ContentType()), "body": string(rc.Response.Body()),
	})
}

// outbox is GET /api/outbox/<send|postback>: what waits to go out and
// what is held for a person (a send in doubt), oldest first.
func (s *Server) outbox(c *fasthttp.RequestCtx, name string) {
	feed, err := s.App.Store.Feed(name)
	if err != nil {
		writeError(c, fasthttp.StatusNotFound, fmt.Sprintf("no outbox %q (send, postback)", name))
		return
	}
	pending, err := feed.Pending(c, 1000)
	if err != nil {
		storeError(c, err)
		return
	}
	held, err := feed.Held(c, 1000)
	if err != nil {
		storeError(c, err)
		return
	}
	if pending == nil {
		pending = []store.FeedItem{}
	}
	if held == nil {
		held = []store.FeedItem{}
	}
	if string(c.QueryArgs().Peek("raw")) != "1" {
		// A failed send's error names its URL: the partner's key, the
		// lead's phone when it goes in the query.
		for _, items := range [][]store.FeedItem{pending, held} {
			for i := range items {
				items[i].LastError = store.Mask(items[i].LastError)
			}
		}
	}
	writeJSON(c, fasthttp.StatusOK, map[string]any{"pending": pending, "held": held})
}

// release is POST /api/outbox/<send|postback>/<lead>/<rev>/release: a
// held item goes back to be delivered, once a person has checked.
func (s *Server) release(c *fasthttp.RequestCtx, name, leadText, revText string) {
	feed, err := s.App.Store.Feed(name)
	if err != nil {
		writeError(c, fasthttp.StatusNotFound, fmt.Sprintf("no outbox %q (send, postback)", name))
		return
	}
	id, ok := parseID(c, leadText)
	if !ok {
		return
	}
	rev, err := strconv.ParseUint(revText, 10, 32)
	if err != nil {
		writeError(c, fasthttp.StatusBadRequest, fmt.Sprintf("%q is not a revision", revText))
		return
	}
	if err := feed.Release(c, id, uint32(rev)); err != nil {
		storeError(c, err)
		return
	}
	writeJSON(c, fasthttp.StatusOK, map[string]any{"released": id, "rev": rev})
}

// pageLimit reads ?limit= (1..1000; 0 when absent, for the default),
// answering 400 itself when it is anything else.
func pageLimit(c *fasthttp.RequestCtx) (n int, ok bool) {
	l := string(c.QueryArgs().Peek("limit"))
	if l == "" {
		return 0, true
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 || n > 1000 {
		writeError(c, fasthttp.StatusBadRequest, fmt.Sprintf("limit %q: want 1..1000", l))
		return 0, false
	}
	return n, true
}

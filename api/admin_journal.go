package api

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/store"
)

// listJournal is GET /api/journal?offer=&kind=&status=&since=&limit=&cursor=[&raw=1].
func (s *Server) listJournal(c *fasthttp.RequestCtx, _ []string) (int, any, error) {
	a := c.QueryArgs()
	q := store.JournalQuery{Offer: string(a.Peek("offer")), Cursor: string(a.Peek("cursor"))}
	var err error
	if kind := string(a.Peek("kind")); kind != "" {
		if q.Kind, err = store.ParseJournalKind(kind); err != nil {
			return 0, nil, err
		}
	}
	if status := string(a.Peek("status")); status != "" {
		if q.Status, err = store.ParseJournalStatus(status); err != nil {
			return 0, nil, err
		}
	}
	if since := string(a.Peek("since")); since != "" {
		if q.Since, err = store.ParseSince(since, time.Now()); err != nil {
			return 0, nil, err
		}
	}
	if q.Limit, err = pageLimit(c); err != nil {
		return 0, nil, err
	}
	entries, next, err := s.App.Store.JournalList(c, q)
	if err != nil {
		return 0, nil, err
	}
	if q.Offer != "" && len(entries) == 0 && q.Cursor == "" && !s.App.Offers.Known(q.Offer) {
		return 0, nil, s.unknownOffer(q.Offer)
	}
	if string(a.Peek("raw")) != "1" {
		for i := range entries {
			entries[i] = entries[i].Masked()
		}
	}
	return 200, listOf(entries, next), nil
}

// entryFor reads the journal entry a path names.
func (s *Server) entryFor(c *fasthttp.RequestCtx, text string) (*store.JournalEntry, error) {
	id, err := strconv.ParseUint(text, 10, 64)
	if err != nil {
		return nil, badRequest("%q is not a journal id", text)
	}
	return s.App.Store.JournalGet(c, id)
}

// journalEntry is GET /api/journal/<id>[?raw=1].
func (s *Server) journalEntry(c *fasthttp.RequestCtx, p []string) (int, any, error) {
	e, err := s.entryFor(c, p[0])
	if err != nil {
		return 0, nil, err
	}
	if string(c.QueryArgs().Peek("raw")) != "1" {
		*e = e.Masked()
	}
	return 200, e, nil
}

// replayView is what a replay answers: the entry replayed and the reply
// the webhook or postback gave this time.
type replayView struct {
	Replayed    uint64 `json:"replayed,string"`
	Status      int    `json:"status"`
	ContentType string `json:"content_type"`
	Body        string `json:"body"`
}

// replay is POST /api/journal/<id>/replay: a journaled webhook or
// postback runs again as it came (the same query and body, the offer's
// current token), and its answer comes back. An idempotency key in the
// script makes it the same lead, not a new one.
func (s *Server) replay(c *fasthttp.RequestCtx, p []string) (int, any, error) {
	e, err := s.entryFor(c, p[0])
	if err != nil {
		return 0, nil, err
	}
	id := e.ID
	if e.Kind != store.KindHook && e.Kind != store.KindPostback {
		return 0, nil, badRequest("journal entry %d is a %s: only webhooks and postbacks replay", id, e.Kind)
	}
	if e.Request == "" {
		return 0, nil, &APIError{fasthttp.StatusConflict, fmt.Errorf("journal entry %d kept no request (the call was refused before its token was checked)", id)}
	}
	var req fasthttp.Request
	if err := req.Read(bufio.NewReader(strings.NewReader(e.Request))); err != nil {
		return 0, nil, &APIError{fasthttp.StatusUnprocessableEntity, fmt.Errorf("journal entry %d: the kept request does not parse: %v", id, err)}
	}
	// Only what the entry says it is: a webhook or postback of its offer.
	path := string(req.URI().Path())
	rest, isKind := strings.CutPrefix(path, "/"+string(e.Kind)+"/")
	offerID, _, _ := strings.Cut(rest, "/")
	if !isKind || offerID != e.Offer {
		return 0, nil, &APIError{fasthttp.StatusConflict, fmt.Errorf("journal entry %d: the kept request (%s) is not a %s of offer %s", id, path, e.Kind, e.Offer)}
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
	return 200, replayView{Replayed: id, Status: rc.Response.StatusCode(),
		ContentType: string(rc.Response.Header.ContentType()), Body: string(rc.Response.Body())}, nil
}

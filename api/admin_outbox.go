package api

import (
	"fmt"
	"strconv"

	"github.com/valyala/fasthttp"

	"leadhost/store"
)

// outboxItem is an outbox item as the admin API lists it: pending (waits
// to go out), paused (waits for its offer, not loaded now: a deploy took
// its folder away for a moment) or held (for a person: a send in doubt).
type outboxItem struct {
	store.FeedItem
	State string `json:"state"`
}

// listOutbox is GET /api/outbox/<send|postback>[?state=pending|paused|held]:
// what waits to go out and what is held, oldest first.
func (s *Server) listOutbox(c *fasthttp.RequestCtx, p []string) (int, any, error) {
	feed, err := s.outboxFeed(p[0])
	if err != nil {
		return 0, nil, err
	}
	state := string(c.QueryArgs().Peek("state"))
	if state != "" && state != "pending" && state != "paused" && state != "held" {
		return 0, nil, badRequest("state %q: want pending, paused or held", state)
	}
	raw := string(c.QueryArgs().Peek("raw")) == "1"
	var items []outboxItem
	for _, part := range []struct {
		state string
		read  func() ([]store.FeedItem, error)
	}{
		{"pending", func() ([]store.FeedItem, error) { return feed.Pending(c, 1000) }},
		{"held", func() ([]store.FeedItem, error) { return feed.Held(c, 1000) }},
	} {
		if state != "" && state != part.state && !(state == "paused" && part.state == "pending") {
			continue
		}
		got, err := part.read()
		if err != nil {
			return 0, nil, err
		}
		for _, it := range got {
			if !raw {
				it = it.Masked()
			}
			itemState := part.state
			if _, err := s.App.Offer(it.Offer); itemState == "pending" && err != nil {
				itemState = "paused"
			}
			if state != "" && state != itemState {
				continue
			}
			items = append(items, outboxItem{FeedItem: it, State: itemState})
		}
	}
	return 200, listOf(items, ""), nil
}

func (s *Server) outboxFeed(name string) (store.Feed, error) {
	feed, err := s.App.Store.Feed(name)
	if err != nil {
		return nil, &APIError{fasthttp.StatusNotFound, fmt.Errorf("no outbox %q (send, postback)", name)}
	}
	return feed, nil
}

// releaseView is what a release answers.
type releaseView struct {
	Released uint64 `json:"released"`
	Rev      uint32 `json:"rev"`
}

// release is POST /api/outbox/<send|postback>/<lead>/<rev>/release: a
// held item goes back to be delivered, once a person has checked
// (app.ReleaseHeld: journaled, as the console's Release).
func (s *Server) release(c *fasthttp.RequestCtx, p []string) (int, any, error) {
	id, rev, err := s.heldItemOf(p)
	if err != nil {
		return 0, nil, err
	}
	if _, err := s.App.ReleaseHeld(c, p[0], id, rev, writerOf(c)); err != nil {
		return 0, nil, err
	}
	return 200, releaseView{Released: id, Rev: rev}, nil
}

// dropView is what a drop answers.
type dropView struct {
	Dropped uint64 `json:"dropped"`
	Rev     uint32 `json:"rev"`
}

// drop is POST /api/outbox/<send|postback>/<lead>/<rev>/drop: a held item
// is removed for good, never delivered; the lead stays as it is
// (app.DropHeld: journaled, as the console's Drop).
func (s *Server) drop(c *fasthttp.RequestCtx, p []string) (int, any, error) {
	id, rev, err := s.heldItemOf(p)
	if err != nil {
		return 0, nil, err
	}
	if _, err := s.App.DropHeld(c, p[0], id, rev, writerOf(c)); err != nil {
		return 0, nil, err
	}
	return 200, dropView{Dropped: id, Rev: rev}, nil
}

// heldItemOf reads a held item's path, <outbox>/<lead>/<rev>: the
// outbox first, so that an unknown one is a 404 whatever follows.
func (s *Server) heldItemOf(p []string) (lead uint64, rev uint32, err error) {
	if _, err := s.outboxFeed(p[0]); err != nil {
		return 0, 0, err
	}
	if lead, err = parseLeadID(p[1]); err != nil {
		return 0, 0, err
	}
	r, err := strconv.ParseUint(p[2], 10, 32)
	if err != nil {
		return 0, 0, badRequest("%q is not a revision", p[2])
	}
	return lead, uint32(r), nil
}

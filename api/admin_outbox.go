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
				// A failed send's error names its URL: the partner's key,
				// the lead's phone when it goes in the query.
				it.LastError = store.Mask(it.LastError)
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

func (s *Server) outboxFeed(name string) (*store.Feed, error) {
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
// held item goes back to be delivered, once a person has checked.
func (s *Server) release(c *fasthttp.RequestCtx, p []string) (int, any, error) {
	feed, err := s.outboxFeed(p[0])
	if err != nil {
		return 0, nil, err
	}
	id, err := parseLeadID(p[1])
	if err != nil {
		return 0, nil, err
	}
	rev, err := strconv.ParseUint(p[2], 10, 32)
	if err != nil {
		return 0, nil, badRequest("%q is not a revision", p[2])
	}
	if err := feed.Release(c, id, uint32(rev)); err != nil {
		return 0, nil, err
	}
	return 200, releaseView{Released: id, Rev: uint32(rev)}, nil
}

package api

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/host"
	"leadhost/host/app"
	"leadhost/host/check"
	"leadhost/host/script"
	"leadhost/host/send"
)

// offerView is an offer as the admin API shows it.
type offerView struct {
	ID      string    `json:"id"`
	Name    string    `json:"name,omitempty"`
	Version uint64    `json:"version,omitempty"` // 0: it never loaded
	Loaded  time.Time `json:"loaded,omitzero"`
	Files   []string  `json:"files,omitempty"`
	// Modes are the check modes the offer runs; Schedules when each runs
	// next and how its last run went.
	Modes     []host.Mode      `json:"modes,omitempty"`
	Errors    []string         `json:"errors,omitempty"` // load problems: the version above keeps running
	Schedules []check.Schedule `json:"schedules,omitempty"`
	// Outboxes say what of the offer waits for a person, and whether its
	// partner's circuit is open, in each outbox it uses.
	Outboxes []outboxState `json:"outboxes,omitempty"`
	// Nodes are, when the nodes sharing the store run different versions
	// of the offer, each live node's.
	Nodes []app.NodeOfferVersion `json:"nodes,omitempty"`
}

// outboxState is an offer's part of one outbox.
type outboxState struct {
	Outbox      string    `json:"outbox"`
	Held        int       `json:"held"`
	CircuitOpen bool      `json:"circuit_open"`
	OpenUntil   time.Time `json:"open_until,omitzero"`
}

func (s *Server) view(o *host.Offer, id string) offerView {
	v := offerView{ID: id}
	if o != nil {
		v.Name, v.Version, v.Loaded = o.Config.Name, o.Version, o.Loaded
		v.Files = append(v.Files, "offer.toml")
		for name := range o.Scripts {
			v.Files = append(v.Files, name)
		}
		sort.Strings(v.Files)
		for _, m := range o.Modes {
			v.Modes = append(v.Modes, m.Name)
		}
	}
	if problems := s.App.Offers.Problems(id); len(problems) > 0 {
		v.Errors = problems
	}
	for _, sc := range s.App.Checks.Schedules() {
		if sc.Offer == id {
			v.Schedules = append(v.Schedules, sc)
		}
	}
	if o != nil {
		v.Outboxes = s.outboxStates(o)
	}
	return v
}

// outboxStates is the offer's part of each outbox it uses: sends with
// [send], outgoing postbacks with a [postback] url.
func (s *Server) outboxStates(o *host.Offer) []outboxState {
	var out []outboxState
	for _, ob := range s.App.Outboxes() {
		uses := (ob.Name == send.Feed && o.Config.Send != nil) ||
			(ob.Name == send.PostbackFeed && o.Config.ReportsChanges())
		if !uses {
			continue
		}
		st := outboxState{Outbox: ob.Name}
		st.CircuitOpen, st.OpenUntil = ob.Sender.Circuit(o.ID)
		if !st.CircuitOpen {
			st.OpenUntil = time.Time{}
		}
		st.OpenUntil = st.OpenUntil.UTC()
		if held, err := ob.Held(context.Background()); err == nil {
			st.Held = held[o.ID]
		}
		out = append(out, st)
	}
	return out
}

// listOffers is GET /api/offers: loaded offers and those that do not load.
func (s *Server) listOffers(c *fasthttp.RequestCtx, _ []string) (int, any, error) {
	versions, err := s.App.OfferVersions(c)
	if err != nil {
		return 0, nil, err
	}
	seen := map[string]bool{}
	var out []offerView
	for _, o := range s.App.Offers.Offers() {
		seen[o.ID] = true
		v := s.view(o, o.ID)
		v.Nodes = versions[o.ID]
		out = append(out, v)
	}
	for id := range s.App.Offers.Errors() {
		if !seen[id] {
			out = append(out, s.view(nil, id))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return 200, listOf(out, ""), nil
}

// getOffer is GET /api/offers/<offer>.
func (s *Server) getOffer(c *fasthttp.RequestCtx, p []string) (int, any, error) {
	o, ok := s.App.Offers.Offer(p[0])
	if !ok {
		if _, failing := s.App.Offers.Errors()[p[0]]; !failing {
			_, err := s.App.Offer(p[0])
			return 0, nil, err
		}
	}
	versions, err := s.App.OfferVersions(c)
	if err != nil {
		return 0, nil, err
	}
	v := s.view(o, p[0])
	v.Nodes = versions[p[0]]
	return 200, v, nil
}

// checkNow is POST /api/offers/<offer>/check?mode=…[&dry=1][&leads=1,2][&raw=1]: 200 with
// the run's report (masked as the journal is, unless raw=1); 502 with it when the partner failed the run, 500
// when the offer's script raised (its file:line in the report's error).
// The run ends with the request: when the server shuts down (the request
// context's Done), or at app.CheckNowLimit.
func (s *Server) checkNow(c *fasthttp.RequestCtx, p []string) (int, any, error) {
	req := app.CheckRequest{Mode: string(c.QueryArgs().Peek("mode"))}
	switch text := string(c.QueryArgs().Peek("dry")); text {
	case "", "0", "false":
	case "1", "true":
		req.Dry = true
	default:
		return 0, nil, badRequest("dry %q: want 1 or true (a dry run), or 0 or false", text)
	}
	var err error
	if req.Leads, err = app.ParseLeadIDs(string(c.QueryArgs().Peek("leads"))); err != nil {
		return 0, nil, err
	}
	rep, err := s.App.CheckNow(c, p[0], req)
	if err != nil {
		return 0, nil, err
	}
	if string(c.QueryArgs().Peek("raw")) != "1" {
		rep = rep.Masked()
	}
	var scriptErr *script.RunError
	switch {
	case errors.As(rep.Err, &scriptErr):
		return fasthttp.StatusInternalServerError, rep, nil // check.lua or prepare.lua raised: the offer's script, file:line
	case rep.Err != nil:
		return fasthttp.StatusBadGateway, rep, nil // the run happened; the partner failed it
	}
	return 200, rep, nil
}

// dryRun is POST /api/offers/<offer>/dry-run?mode=…[&leads=1,2][&raw=1] with a partner's
// answer as the body: 200 with the edits check.lua would make (masked
// unless raw=1), 422 when
// the answer does not decode or the handler fails on it.
func (s *Server) dryRun(c *fasthttp.RequestCtx, p []string) (int, any, error) {
	if len(c.PostBody()) == 0 {
		return 0, nil, badRequest("post the partner's answer as the body")
	}
	leads, err := app.ParseLeadIDs(string(c.QueryArgs().Peek("leads")))
	if err != nil {
		return 0, nil, err
	}
	ctx, cancel := context.WithTimeout(c, app.CheckNowLimit)
	defer cancel()
	rep, err := s.App.DryRunAnswer(ctx, p[0], string(c.QueryArgs().Peek("mode")), append([]byte(nil), c.PostBody()...), leads)
	if err != nil {
		return 0, nil, err
	}
	if string(c.QueryArgs().Peek("raw")) != "1" {
		rep = rep.Masked()
	}
	if rep.Err != nil {
		return fasthttp.StatusUnprocessableEntity, rep, nil
	}
	return 200, rep, nil
}

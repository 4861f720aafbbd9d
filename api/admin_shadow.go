package api

import (
	"context"
	"strconv"

	"github.com/valyala/fasthttp"

	"leadhost/host/app"
	"leadhost/host/shadow"
)

// shadowView is GET /api/offers/<offer>/shadow[?raw=1]: the offer's
// candidate (next/), if it stages one, with its load problems, and how it
// compared with the live version on the live inputs since serve started:
// counts and the recent differences side by side, contacts masked as in
// the journal unless raw=1.
func (s *Server) shadowView(c *fasthttp.RequestCtx, p []string) (int, any, error) {
	v, err := s.App.Shadow(c, p[0])
	if err != nil {
		return 0, nil, err
	}
	return 200, maskedUnlessRaw(c, v), nil
}

// maskedUnlessRaw is v masked, unless the call asks for it raw (raw=1),
// as the journal's routes answer.
func maskedUnlessRaw(c *fasthttp.RequestCtx, v *app.ShadowView) *app.ShadowView {
	if string(c.QueryArgs().Peek("raw")) == "1" {
		return v
	}
	return v.Masked()
}

// shadowReplay is POST /api/offers/<offer>/shadow/replay?last=K[&raw=1]: the
// candidate and the live version run over the offer's last K journaled
// inputs (webhooks and postbacks as they came, check answers kept
// whole), nothing committed, sent or journaled; 409 when the offer has
// no candidate that loads, or a replay of it is running (one at a time).
func (s *Server) shadowReplay(c *fasthttp.RequestCtx, p []string) (int, any, error) {
	last := 100
	if text := string(c.QueryArgs().Peek("last")); text != "" {
		n, err := strconv.Atoi(text)
		if err != nil || n < 1 || n > shadow.MaxReplay {
			return 0, nil, badRequest("last %q: want 1..%d", text, shadow.MaxReplay)
		}
		last = n
	}
	ctx, cancel := context.WithTimeout(c, app.CheckNowLimit)
	defer cancel()
	v, err := s.App.ShadowReplay(ctx, p[0], last)
	if err != nil {
		return 0, nil, err
	}
	return 200, maskedUnlessRaw(c, v), nil
}

// promote is POST /api/offers/<offer>/promote: the offer's candidate
// (next/) goes live (app.Promote); 409 when it has none, or one that
// does not load.
func (s *Server) promote(c *fasthttp.RequestCtx, p []string) (int, any, error) {
	done, err := s.App.Promote(c, p[0], writerOf(c))
	if err != nil {
		return 0, nil, err
	}
	return 200, done, nil
}

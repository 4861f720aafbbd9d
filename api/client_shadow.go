package api

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"leadhost/host"
	"leadhost/host/app"
	"leadhost/store"
)

// Shadow is GET /api/offers/<offer>/shadow?raw=1: the view as the app
// gives it, unmasked, as App.Shadow; the CLI masks what it prints
// unless told not to.
func (c *Client) Shadow(ctx context.Context, offer string) (*app.ShadowView, error) {
	if !host.ValidOfferID(offer) {
		return nil, fmt.Errorf("no offer %q is loaded: %w", offer, store.ErrNotFound)
	}
	var v app.ShadowView
	if _, err := c.do(ctx, "GET", "/api/offers/"+url.PathEscape(offer)+"/shadow?raw=1", nil, "", &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// ShadowReplay is POST /api/offers/<offer>/shadow/replay?last=K&raw=1,
// unmasked as Shadow.
func (c *Client) ShadowReplay(ctx context.Context, offer string, last int) (*app.ShadowView, error) {
	if !host.ValidOfferID(offer) {
		return nil, fmt.Errorf("no offer %q is loaded: %w", offer, store.ErrNotFound)
	}
	var v app.ShadowView
	if _, err := c.do(ctx, "POST", "/api/offers/"+url.PathEscape(offer)+"/shadow/replay?raw=1&last="+strconv.Itoa(last), nil, "", &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Promote is POST /api/offers/<offer>/promote.
func (c *Client) Promote(ctx context.Context, offer, by string) (host.Promoted, error) {
	if !host.ValidOfferID(offer) {
		return host.Promoted{}, fmt.Errorf("no offer %q is loaded: %w", offer, store.ErrNotFound)
	}
	var p host.Promoted
	_, err := c.do(ctx, "POST", "/api/offers/"+url.PathEscape(offer)+"/promote", nil, by, &p)
	return p, err
}

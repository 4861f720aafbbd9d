package app

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"leadhost/store"
)

// Who changes a lead or a held item by hand, as history and the journal
// name them.
const (
	ByCLI     = "cli"
	ByAPI     = "api"
	ByConsole = "console"
)

// AddLead stores the lead input describes (JSON: the shape of POST
// /api/leads and `leadhost lead add`) for a person (by: ByCLI, ByAPI).
// The offer must be loaded: its policy, outbox and postbacks apply as to
// any new lead. created is false when input's key names an existing lead,
// which is returned.
func (a *App) AddLead(ctx context.Context, input []byte, by string) (l *store.Lead, created bool, err error) {
	nl, err := store.DecodeNewLead(bytes.NewReader(input))
	if err == nil {
		if _, ok := a.Offers.Offer(nl.Offer); !ok {
			if nl.Offer == "" {
				err = fmt.Errorf("lead: offer is required (offers: %s): %w", strings.Join(a.Offers.IDs(), ", "), store.ErrInvalid)
			} else {
				err = fmt.Errorf("lead: no offer %q is loaded (offers: %s): %w", nl.Offer, strings.Join(a.Offers.IDs(), ", "), store.ErrInvalid)
			}
		}
	}
	if err == nil {
		nl.By = by
		l, created, err = a.Store.Add(ctx, nl)
	}
	if err != nil {
		a.Store.Record(refusedEntry(by, "add", a.knownOffer(nl.Offer), input, err))
		return nil, false, err
	}
	if created {
		a.recordAction(leadEntry(by, "added", l, input))
	}
	return l, created, nil
}

// EditLead applies the patch input describes (JSON: the core.lead.edit
// fields, as PATCH /api/leads/<id> and `leadhost lead edit` take them)
// under the edit rules.
func (a *App) EditLead(ctx context.Context, id uint64, input []byte, by string) (*store.Lead, error) {
	before, err := a.Store.Get(ctx, id)
	if err != nil {
		return nil, err // no such lead: nothing to record of it
	}
	p, err := store.DecodePatch(bytes.NewReader(input))
	if err == nil && p.Empty() {
		err = fmt.Errorf("the patch has no fields: %w", store.ErrInvalid)
	}
	var l *store.Lead
	if err == nil {
		p.By = by
		l, err = a.Store.Edit(ctx, id, p)
	}
	if err != nil {
		a.Store.Record(refusedEntry(by, fmt.Sprintf("edit of lead %d", id), before.Offer, input, err))
		return nil, err
	}
	if l.Rev != before.Rev {
		a.recordAction(leadEntry(by, "edited", l, input))
	}
	return l, nil
}

// knownOffer is id when it names a loaded offer, else "": a made-up name
// must not become a journal index entry.
func (a *App) knownOffer(id string) string {
	if _, ok := a.Offers.Offer(id); ok {
		return id
	}
	return ""
}

// LeadWithHistory is a lead with every change it went through.
func (a *App) LeadWithHistory(ctx context.Context, id uint64) (*store.Lead, error) {
	l, err := a.Store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if l.History, err = a.Store.History(ctx, id); err != nil {
		return nil, err
	}
	return l, nil
}

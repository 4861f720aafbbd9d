package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"leadhost/store"
)

// LeadFilter is what a person finds leads by, in the admin API's GET
// /api/leads and on the console's Leads page.
type LeadFilter struct {
	Offer    string          // required unless Contact is given
	Statuses store.StatusSet // empty: every status
	Ext      string          // the partner's id within Offer: one lead at most
	Contact  string          // a phone or an e-mail, in any offer unless Offer is set
	Cursor   string          // the previous page's Next
	Limit    int             // 0: the store's default page
}

// FindLeads returns one page of the leads f names. A filter that cannot
// name any lead (no offer and no contact, an offer never loaded, a
// contact that is neither a phone nor an e-mail) is store.ErrInvalid,
// worded for the person who typed it.
func (a *App) FindLeads(ctx context.Context, f LeadFilter) (store.Page, error) {
	if f.Offer == "" && f.Contact == "" {
		return store.Page{}, fmt.Errorf("offer= is required: leads are listed per offer, or found by contact= (a phone or an e-mail) in every offer: %w", store.ErrInvalid)
	}
	if f.Offer != "" {
		_, loaded := a.Offers.Offer(f.Offer)
		if _, failing := a.Offers.Errors()[f.Offer]; !loaded && !failing {
			return store.Page{}, fmt.Errorf("offer %q: no such offer (offers: %s): %w", f.Offer, strings.Join(a.Offers.IDs(), ", "), store.ErrInvalid)
		}
	}
	if f.Ext == "" {
		return a.Store.List(ctx, store.Query{Offer: f.Offer, Contact: f.Contact, Statuses: f.Statuses, Cursor: f.Cursor, Limit: f.Limit})
	}
	if f.Offer == "" {
		return store.Page{}, fmt.Errorf("ext= needs offer=: a partner's id is unique within one offer: %w", store.ErrInvalid)
	}
	l, err := a.Store.ByExt(ctx, f.Offer, f.Ext)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Page{}, nil
	case err != nil:
		return store.Page{}, err
	case f.Statuses != 0 && !f.Statuses.Has(l.Status):
		return store.Page{}, nil
	}
	if f.Contact != "" {
		if page, err := a.Store.List(ctx, store.Query{Offer: f.Offer, Contact: f.Contact, Statuses: f.Statuses, Limit: 1000}); err != nil || !hasLead(page.Leads, l.ID) {
			return store.Page{}, err
		}
	}
	return store.Page{Leads: []*store.Lead{l}}, nil
}

func hasLead(leads []*store.Lead, id uint64) bool {
	for _, l := range leads {
		if l.ID == id {
			return true
		}
	}
	return false
}

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
// name any lead (no offer and no contact, an offer that is neither
// loaded nor has leads matching, a contact that is neither a phone nor
// an e-mail) is store.ErrInvalid, worded for the person who typed it.
// An offer whose folder was removed still has its leads listed.
func (a *App) FindLeads(ctx context.Context, f LeadFilter) (store.Page, error) {
	if f.Offer == "" && f.Contact == "" {
		return store.Page{}, fmt.Errorf("offer= is required: leads are listed per offer, or found by contact= (a phone or an e-mail) in every offer: %w", store.ErrInvalid)
	}
	page, err := a.findLeads(ctx, f)
	if err == nil && f.Offer != "" && len(page.Leads) == 0 && f.Cursor == "" && !a.Offers.Known(f.Offer) {
		// Most likely a typo; a removed offer's leads are still listed.
		return page, fmt.Errorf("offer %q: no such offer, and nothing stored under that name matches (offers: %s): %w", f.Offer, strings.Join(a.Offers.IDs(), ", "), store.ErrInvalid)
	}
	return page, err
}

// findLeads is FindLeads for any offer name, known or not.
func (a *App) findLeads(ctx context.Context, f LeadFilter) (store.Page, error) {
	if f.Ext == "" {
		return a.Store.List(ctx, store.Query{Offer: f.Offer, Contact: f.Contact, Statuses: f.Statuses, Cursor: f.Cursor, Limit: f.Limit})
	}
	if f.Offer == "" {
		return store.Page{}, fmt.Errorf("ext= needs offer=: a partner's id is unique within one offer: %w", store.ErrInvalid)
	}
	if f.Contact != "" {
		if _, err := store.ContactKey(f.Contact); err != nil {
			return store.Page{}, err
		}
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
	if f.Contact != "" && !hasContact(l, f.Contact) {
		return store.Page{}, nil // hasContact's key was checked above
	}
	return store.Page{Leads: []*store.Lead{l}}, nil
}

// hasContact says whether l's phone or e-mail is the contact typed, by
// the keys the contact index files them under (store.ContactKey).
func hasContact(l *store.Lead, contact string) bool {
	want, err := store.ContactKey(contact)
	if err != nil {
		return false
	}
	for _, field := range []string{"phone", "email"} {
		if k, err := store.ContactKey(l.Fields[field]); err == nil && k == want {
			return true
		}
	}
	return false
}

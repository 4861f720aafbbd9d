package storetest

import (
	"errors"
	"slices"
	"testing"

	"leadhost/store"
)

// testContact: a person's phone or e-mail, typed any usual way, finds
// their leads (Query.Contact) in every offer or one, with a status
// filter and paging, and nobody else's.
func testContact(t *testing.T, b Backend) {
	f := open(t, b, store.Options{})
	add := func(offer, phone, email string) uint64 {
		return f.add(store.NewLead{Offer: offer, Fields: map[string]string{"phone": phone, "email": email}}).ID
	}
	a := add("shop", "+7 (999) 000-11-22", "Ivan@Example.com")
	c := add("shop", "89990001122", "")
	d := add("course", "999-000-11-22", "other@example.com")
	e := add("course", "+7 999 000 11 23", "ivan@example.com")
	add("shop", "", "")
	add("shop", "12-34", "not an address")
	f.edit(c, store.Patch{Status: ptr(store.StatusCancel), By: "api"})

	for _, tc := range []struct {
		name string
		q    store.Query
		want []uint64
	}{
		{"phone with +7 and brackets", store.Query{Contact: "+7 (999) 000-11-22"}, []uint64{a, c, d}},
		{"phone with 8", store.Query{Contact: "8 999 000 11 22"}, []uint64{a, c, d}},
		{"bare national number", store.Query{Contact: "9990001122"}, []uint64{a, c, d}},
		{"one offer", store.Query{Contact: "9990001122", Offer: "course"}, []uint64{d}},
		{"one status", store.Query{Contact: "9990001122", Statuses: store.Statuses(store.StatusCancel)}, []uint64{c}},
		{"another phone", store.Query{Contact: "+79990001123"}, []uint64{e}},
		{"e-mail in any case", store.Query{Contact: " IVAN@example.COM "}, []uint64{a, e}},
		{"nobody", store.Query{Contact: "nobody@example.com"}, nil},
		{"paged", store.Query{Contact: "9990001122", Limit: 2}, []uint64{a, c, d}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []uint64
			for _, l := range listAll(t, f, tc.q) {
				got = append(got, l.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("leads %v, want %v", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"12-34", "not a contact", "@example.com", "ivan@"} {
		if _, err := f.s.List(f.ctx, store.Query{Contact: bad}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("contact %q: %v, want ErrInvalid", bad, err)
		}
	}
}

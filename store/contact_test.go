package store

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// TestListByContact: a person's phone or e-mail, typed any usual way,
// finds their leads in every offer, and only theirs.
func TestListByContact(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t, Options{})
	add := func(offer, phone, email string) uint64 {
		return mustAdd(t, s, NewLead{Offer: offer, Fields: map[string]string{"phone": phone, "email": email}}).ID
	}
	a := add("shop", "+7 (999) 000-11-22", "Ivan@Example.com")
	b := add("shop", "89990001122", "")
	c := add("course", "999-000-11-22", "other@example.com")
	d := add("course", "+7 999 000 11 23", "ivan@example.com")
	add("shop", "", "")
	if _, err := s.Edit(ctx, b, Patch{Status: ptr(StatusCancel), By: "api"}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		q    Query
		want []uint64
	}{
		{"phone with +7 and brackets", Query{Contact: "+7 (999) 000-11-22"}, []uint64{a, b, c}},
		{"phone with 8", Query{Contact: "8 999 000 11 22"}, []uint64{a, b, c}},
		{"bare national number", Query{Contact: "9990001122"}, []uint64{a, b, c}},
		{"one offer", Query{Contact: "9990001122", Offer: "course"}, []uint64{c}},
		{"one status", Query{Contact: "9990001122", Statuses: Statuses(StatusCancel)}, []uint64{b}},
		{"another phone", Query{Contact: "+79990001123"}, []uint64{d}},
		{"e-mail in any case", Query{Contact: " IVAN@example.COM "}, []uint64{a, d}},
		{"nobody", Query{Contact: "nobody@example.com"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := s.List(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint64
			for _, l := range page.Leads {
				got = append(got, l.ID)
			}
			if !slices.Equal(got, tc.want) || page.Next != "" {
				t.Errorf("leads %v (next %q), want %v", got, page.Next, tc.want)
			}
		})
	}

	t.Run("pages", func(t *testing.T) {
		var got []uint64
		q := Query{Contact: "9990001122", Limit: 2}
		for {
			page, err := s.List(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range page.Leads {
				got = append(got, l.ID)
			}
			if page.Next == "" {
				break
			}
			q.Cursor = page.Next
		}
		if want := []uint64{a, b, c}; !slices.Equal(got, want) {
			t.Errorf("paged leads %v, want %v", got, want)
		}
	})

	for _, bad := range []string{"12-34", "not a contact", "@example.com", "ivan@"} {
		if _, err := s.List(ctx, Query{Contact: bad}); !errors.Is(err, ErrInvalid) {
			t.Errorf("contact %q: %v, want ErrInvalid", bad, err)
		}
	}
	mustVerify(t, s)
}

// TestContactIndexBuiltForOldStore: a store made before the contact index
// existed gets it on open, and Verify finds the index whole.
func TestContactIndexBuiltForOldStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, NoSync: true, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for range 3 {
		ids = append(ids, mustAdd(t, s, NewLead{Offer: "shop", Fields: map[string]string{"phone": "+7 999 000 11 22"}}).ID)
	}
	// As a store of the version before: no entries, no mark.
	if err := s.db.DropPrefix([]byte{kindContact}, contactIndexed); err != nil {
		t.Fatal(err)
	}
	if probs, err := s.Verify(ctx); err != nil || len(probs) != 3 {
		t.Fatalf("verify without the index: %v, %v; want 3 missing entries", probs, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(Options{Dir: dir, NoSync: true, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	page, err := s.List(ctx, Query{Contact: "89990001122"})
	if err != nil || len(page.Leads) != 3 {
		t.Fatalf("after reopen: %d leads, %v; want %v", len(page.Leads), err, ids)
	}
	mustVerify(t, s)
	if err := s.db.View(func(txn *badger.Txn) error { _, err := txn.Get(contactIndexed); return err }); err != nil {
		t.Errorf("index mark after build: %v", err)
	}
}

// TestAddContactsWritesTheIndexKeys: a new lead's contact keys, made in
// place, are the keys contactKey makes of leadContacts, which edits,
// Verify and the index's backfill use.
func TestAddContactsWritesTheIndexKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, phone, email string }{
		{"both", "+7 (999) 000-11-22", "Ivan@Example.com"},
		{"neither", "", ""},
		{"phone only", "89990001122", ""},
		{"e-mail only, spaced", "", "  ivan@example.com\t"},
		{"short phone", "12345", "not an e-mail"},
		{"21 digits", "123456789012345678901", "a@b"},
		{"20 digits", "12345678901234567890", "@example.com"},
		{"7 digits", "1234567", "ivan@"},
		{"e-mail with a space", "x", "ivan petrov@example.com"},
		{"unicode e-mail", "", "ИВАН@Пример.рф"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &Lead{ID: 42, Fields: map[string]string{"phone": tc.phone, "email": tc.email}}
			var want [][]byte
			for _, c := range leadContacts(l) {
				want = append(want, contactKey(c, l.ID))
			}
			w := &stepWriter{g: &group{c: &committer{}}}
			addContacts(w, l)
			var got [][]byte
			for _, wr := range w.writes {
				got = append(got, wr.key)
			}
			if !slices.EqualFunc(got, want, func(a, b []byte) bool { return string(a) == string(b) }) {
				t.Errorf("keys %q, want %q", got, want)
			}
		})
	}
}

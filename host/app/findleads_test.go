package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"leadhost/store"
)

// A partner's id and a contact together find the lead only when it has
// that contact; a contact that is neither a phone nor an e-mail is bad
// input, as without ext.
func TestFindLeadsByExtAndContact(t *testing.T) {
	t.Parallel()
	scripts := t.TempDir()
	os.MkdirAll(filepath.Join(scripts, "shop"), 0o755)
	os.WriteFile(filepath.Join(scripts, "shop", "offer.toml"), []byte("name = \"shop\"\n"), 0o644)
	ctx := context.Background()
	a, err := Open(ctx, Config{InMemory: true, Scripts: scripts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	l, _, err := a.Store.Add(ctx, store.NewLead{Offer: "shop", Ext: "E1", Fields: map[string]string{"phone": "+7 999 000-11-22", "email": "Ivan@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		contact string
		found   bool
		err     error
	}{
		{"8 (999) 000 11 22", true, nil},
		{"IVAN@example.com", true, nil},
		{"+7 999 000-11-23", false, nil},
		{"12-34", false, store.ErrInvalid},
	} {
		page, err := a.FindLeads(ctx, LeadFilter{Offer: "shop", Ext: "E1", Contact: tc.contact})
		if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("contact %q: err %v, want %v", tc.contact, err, tc.err)
		}
		if found := len(page.Leads) == 1 && page.Leads[0].ID == l.ID; found != tc.found {
			t.Errorf("contact %q: found %v, want %v", tc.contact, found, tc.found)
		}
	}
}

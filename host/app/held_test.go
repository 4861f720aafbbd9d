package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"leadhost/host/hosttest"
	"leadhost/store"
)

// Releasing or dropping a held item is journaled as a person's action
// (kind lead, under the lead's offer): who, which item, and what was
// known of it; one that is not held, or an unknown outbox, is not found
// and journals nothing.
func TestReleaseAndDropHeldAreJournaled(t *testing.T) {
	t.Parallel()
	scripts := t.TempDir()
	os.MkdirAll(filepath.Join(scripts, "shop"), 0o755)
	// Never sent: the test does not run the outbox.
	os.WriteFile(filepath.Join(scripts, "shop", "offer.toml"), []byte("[send]\nurl = \"http://127.0.0.1:1/order\"\n"), 0o644)
	os.WriteFile(filepath.Join(scripts, "shop", "send.lua"), []byte("return data.id\n"), 0o644)
	ctx := context.Background()
	a, err := Open(ctx, Config{InMemory: true, Scripts: scripts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	feed, _ := a.Store.Feed("send")
	hold := func() store.FeedItem {
		t.Helper()
		l, _, err := a.Store.Add(ctx, store.NewLead{Offer: "shop"})
		if err != nil {
			t.Fatal(err)
		}
		items, _ := feed.Pending(ctx, 100)
		for _, it := range items {
			if it.LeadID == l.ID {
				if err := feed.Hold(ctx, it, "in doubt: timeout"); err != nil {
					t.Fatal(err)
				}
				return it
			}
		}
		t.Fatalf("lead %d is not in the send outbox", l.ID)
		return store.FeedItem{}
	}
	do := map[string]func(context.Context, string, uint64, uint32, string) (store.FeedItem, error){
		"released": a.ReleaseHeld, "dropped": a.DropHeld,
	}
	for _, tc := range []struct {
		name, verb, outbox, by string
		held                   bool
	}{
		{"released by the API", "released", "send", ByAPI, true},
		{"dropped from the console", "dropped", "send", ByConsole, true},
		{"release of nothing held", "released", "send", ByAPI, false},
		{"drop of nothing held", "dropped", "send", ByConsole, false},
		{"drop in an unknown outbox", "dropped", "mail", ByAPI, true},
	} {
		var it store.FeedItem
		if tc.held {
			it = hold()
		} else {
			it = store.FeedItem{Event: store.Event{LeadID: 999, Rev: 1}}
		}
		before, _, _ := a.Store.JournalList(ctx, store.JournalQuery{Kind: store.KindLead})
		got, err := do[tc.verb](ctx, tc.outbox, it.LeadID, it.Rev, tc.by)
		if tc.held && tc.outbox == "send" {
			if err != nil || got.LeadID != it.LeadID || got.LastError != "in doubt: timeout" {
				t.Errorf("%s: %+v, %v; want the item as held", tc.name, got, err)
				continue
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v, want not found", tc.name, err)
		}
		if !tc.held || tc.outbox != "send" {
			continue // nothing journaled: counted at the end
		}
		var after []store.JournalEntry
		hosttest.Eventually(t, tc.name+": journaled", func() bool {
			after, _, _ = a.Store.JournalList(ctx, store.JournalQuery{Kind: store.KindLead})
			return len(after) > len(before)
		})
		e := after[0]
		want := fmt.Sprintf("held send of lead %d (rev %d) %s by %s", it.LeadID, it.Rev, tc.verb, tc.by)
		var detail store.FeedItem
		json.Unmarshal(e.Detail, &detail)
		if e.Summary != want || e.Offer != "shop" || e.Status != store.JournalOK || detail.LastError != "in doubt: timeout" {
			t.Errorf("%s: journaled %q (offer %q, %s, detail %s); want %q", tc.name, e.Summary, e.Offer, e.Status, e.Detail, want)
		}
	}
	// The journal is written in order: once a last entry is in, every
	// earlier one is, and only the release and the drop are a person's.
	if err := a.Store.RecordWritten(store.JournalEntry{Kind: store.KindReload, Status: store.JournalOK, Summary: "marker"}); err != nil {
		t.Fatal(err)
	}
	if all, _, _ := a.Store.JournalList(ctx, store.JournalQuery{Kind: store.KindLead}); len(all) != 2 {
		for _, e := range all {
			t.Log(e.Summary)
		}
		t.Errorf("%d entries of a person's action, want 2 (the release and the drop)", len(all))
	}
}

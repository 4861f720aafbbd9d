package api

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"leadhost/host/app"
	"leadhost/host/hosttest"
	"leadhost/store"
)

// A held send dropped through the API is gone for good: not held, not
// pending, never sent, while one released beside it reaches the partner;
// both are journaled as the API's doing. Dropping what is not held is
// 404, a GET of the route 405 with Allow.
func TestDropAndReleaseHeldSendsThroughTheAPI(t *testing.T) {
	t.Parallel()
	partner := hosttest.StartPartner(t, hosttest.Answer(200, `{"id":"P-1"}`))
	a := openSendingApp(t, partner.URL)
	ctx := context.Background()
	feed, _ := a.Store.Feed("send")
	var held []store.FeedItem
	for range 2 {
		l, _, err := a.Store.Add(ctx, store.NewLead{Offer: "shop"})
		if err != nil {
			t.Fatal(err)
		}
		items, _ := feed.Pending(ctx, 10)
		for _, it := range items {
			if it.LeadID == l.ID {
				if err := feed.Hold(ctx, it, "in doubt: no answer in time"); err != nil {
					t.Fatal(err)
				}
				held = append(held, it)
			}
		}
	}
	if len(held) != 2 {
		t.Fatalf("held %d sends, want 2", len(held))
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); a.Sends.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	base := serve(t, &Server{App: a, Log: slog.New(slog.DiscardHandler), LocalToken: localToken})
	dropped, released := held[0], held[1]
	item := func(it store.FeedItem, verb string) string {
		return fmt.Sprintf("%s/api/outbox/send/%d/%d/%s", base, it.LeadID, it.Rev, verb)
	}

	code, _, body := call(t, "POST", item(dropped, "drop"), "", nil, asLocal)
	if want := fmt.Sprintf(`{"dropped":%d,"rev":%d}`, dropped.LeadID, dropped.Rev); code != 200 || string(body) != want {
		t.Fatalf("drop: %d %s, want 200 %s", code, body, want)
	}
	if code, _, body := call(t, "POST", item(released, "release"), "", nil, asLocal); code != 200 {
		t.Fatalf("release: %d %s", code, body)
	}
	// The partner's id lands on the lead, then the item is acknowledged:
	// two writes, so both are waited for.
	hosttest.Eventually(t, "the released send reaching the partner and leaving the outbox", func() bool {
		l, err := a.Store.Get(ctx, released.LeadID)
		p, _ := feed.Pending(ctx, 10)
		return err == nil && l.Ext == "P-1" && len(p) == 0
	})
	if n := len(partner.Requests()); n != 1 {
		t.Errorf("the partner got %d requests, want 1 (the released send; not the dropped one)", n)
	}
	if h, _ := feed.Held(ctx, 10); len(h) != 0 {
		t.Errorf("still held after drop and release: %+v", h)
	}
	if p, _ := feed.Pending(ctx, 10); len(p) != 0 {
		t.Errorf("pending after drop and release: %+v", p)
	}
	if l, err := a.Store.Get(ctx, dropped.LeadID); err != nil || l.Status != store.StatusNew || l.Ext != "" {
		t.Errorf("the dropped send's lead changed: %+v %v", l, err)
	}

	for _, want := range []string{
		fmt.Sprintf("held send of lead %d (rev %d) dropped by api", dropped.LeadID, dropped.Rev),
		fmt.Sprintf("held send of lead %d (rev %d) released by api", released.LeadID, released.Rev),
	} {
		hosttest.Eventually(t, "the journal entry "+want, func() bool {
			entries, _, _ := a.Store.JournalList(ctx, store.JournalQuery{Offer: "shop", Kind: store.KindLead})
			for _, e := range entries {
				if e.Summary == want && e.Status == store.JournalOK {
					return true
				}
			}
			return false
		})
	}

	for _, tc := range []struct {
		name, method, url string
		code              int
		want              string
	}{
		{"drop twice", "POST", item(dropped, "drop"), 404, "no held item for lead"},
		{"drop of a released item", "POST", item(released, "drop"), 404, "no held item for lead"},
		{"drop in an unknown outbox", "POST", base + "/api/outbox/mail/1/1/drop", 404, `no outbox \"mail\"`},
		{"drop by GET", "GET", item(dropped, "drop"), 405, "takes POST, not GET"},
		{"drop by DELETE", "DELETE", item(dropped, "drop"), 405, "takes POST, not DELETE"},
	} {
		code, header, body := call(t, tc.method, tc.url, "", nil, asLocal)
		if code != tc.code || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, code, body, tc.code, tc.want)
		}
		if tc.code == 405 && header.Get("Allow") != "POST" {
			t.Errorf("%s: Allow %q, want POST", tc.name, header.Get("Allow"))
		}
	}
}

// openSendingApp opens the api tests' offers with the shop's sends going
// to partner, its outbox polled often; the test runs the outbox.
func openSendingApp(t *testing.T, partner string) *app.App {
	t.Helper()
	scripts := t.TempDir()
	dir := filepath.Join(scripts, "shop")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lua, err := os.ReadFile("testdata/scripts/shop/send.lua")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "send.lua"), lua, 0o644)
	os.WriteFile(filepath.Join(dir, "offer.toml"), []byte("[send]\nurl = \""+partner+"/order\"\n"), 0o644)
	a, err := app.Open(context.Background(), app.Config{InMemory: true, Scripts: scripts, SendPoll: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if errs := a.Offers.Errors(); len(errs) > 0 {
		t.Fatalf("offers do not load: %v", errs)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"leadhost/host/app"
	"leadhost/store"
)

// heldScripts is an offer whose sends go to a port nobody listens on: its
// leads queue in the send outbox, where the test holds them.
func heldScripts(t *testing.T) string {
	t.Helper()
	scripts := t.TempDir()
	os.MkdirAll(filepath.Join(scripts, "shop"), 0o755)
	os.WriteFile(filepath.Join(scripts, "shop", "offer.toml"), []byte("[send]\nurl = \"http://127.0.0.1:1/order\"\n"), 0o644)
	os.WriteFile(filepath.Join(scripts, "shop", "send.lua"), []byte("return data.id\n"), 0o644)
	return scripts
}

// holdSends adds n leads of shop and holds their sends, as a send in
// doubt is held; it returns the held items.
func holdSends(t *testing.T, data, scripts string, n int) []store.FeedItem {
	t.Helper()
	ctx := context.Background()
	a, err := app.Open(ctx, app.Config{Data: data, Scripts: scripts, OneShot: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	feed, _ := a.Store.Feed("send")
	for i := range n {
		if _, _, err := a.Store.Add(ctx, store.NewLead{Offer: "shop", Fields: map[string]string{"phone": "7999000112" + strconv.Itoa(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	items, _ := feed.Pending(ctx, 100)
	for _, it := range items {
		if err := feed.Hold(ctx, it, "in doubt: the partner did not answer within 30s (phone=79990001120)"); err != nil {
			t.Fatal(err)
		}
	}
	if len(items) != n {
		t.Fatalf("%d items in the send outbox, want %d", len(items), n)
	}
	return items
}

// `leadhost held` lists what the outboxes hold, masked, and release or
// drop let one go — on the data folder itself and through a serve that
// holds it, with the same words; each is journaled as the CLI's.
func TestHeldCommands(t *testing.T) {
	t.Parallel()
	for _, through := range []string{"folder", "serve"} {
		t.Run(through, func(t *testing.T) {
			t.Parallel()
			data, scripts := filepath.Join(t.TempDir(), "data"), heldScripts(t)
			items := holdSends(t, data, scripts, 3)
			if through == "serve" {
				startTestHost(t, data, scripts)
			}
			dirs := []string{"--data", data, "--scripts", scripts}
			held := func(args ...string) (int, string, string) {
				return leadhost(t, "", append(append([]string{"held"}, args...), dirs...)...)
			}
			code, out, errOut := held()
			if code != exitOK || strings.Count(out, "\nsend ") != 3 || !strings.Contains(out, "in doubt: the partner did not answer") || !strings.Contains(out, "3 held") {
				t.Fatalf("held: exit %d\n%s%s", code, out, errOut)
			}
			if strings.Contains(out, "79990001120") {
				t.Errorf("held shows a phone unmasked:\n%s", out)
			}
			lead, rev := strconv.FormatUint(items[0].LeadID, 10), strconv.FormatUint(uint64(items[0].Rev), 10)
			if code, out, errOut := held("release", "send", lead, rev); code != exitOK || !strings.Contains(out, "released: the send of lead "+lead) {
				t.Errorf("release: exit %d %s%s", code, out, errOut)
			}
			other := strconv.FormatUint(items[1].LeadID, 10)
			if code, out, errOut := held("drop", "send", other, rev); code != exitOK || !strings.Contains(out, "dropped: the send of lead "+other) {
				t.Errorf("drop: exit %d %s%s", code, out, errOut)
			}
			for _, tc := range []struct {
				args   []string
				code   int
				stderr string
			}{
				{[]string{"release", "send", lead, rev}, exitError, "not found"},
				{[]string{"drop", "mail", lead, rev}, exitUsage, `outbox "mail": want send or postback`},
				{[]string{"release", "send", "x", "1"}, exitUsage, "is not a lead id and a revision"},
				{[]string{"release", "send"}, exitUsage, "needs OUTBOX LEAD REV"},
			} {
				if code, _, errOut := held(tc.args...); code != tc.code || !strings.Contains(errOut, tc.stderr) {
					t.Errorf("held %v: exit %d %q, want %d %q", tc.args, code, errOut, tc.code, tc.stderr)
				}
			}
			if code, out, _ := held("--json"); code != exitOK || strings.Count(out, `"lead_id"`) != 1 {
				t.Errorf("after one release and one drop, held --json lists:\n%s", out)
			}
			// What the journal says of them: `leadhost journal` on the
			// folder, or through the serve holding it.
			_, journal, errOut := leadhost(t, "", "journal", "--kind", "lead", "--json", "--data", data)
			for _, want := range []string{"released", "dropped", "cli"} {
				if !strings.Contains(journal, want) {
					t.Errorf("the journal does not say %q of the CLI's release and drop:\n%s%s", want, journal, errOut)
				}
			}
		})
	}
}

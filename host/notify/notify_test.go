package notify

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"leadhost/host/hosttest"
	"leadhost/store"
)

func failure(offer string, kind store.JournalKind, i int) store.JournalEntry {
	return store.JournalEntry{At: time.Now(), Offer: offer, Kind: kind, Status: "error",
		Summary: fmt.Sprintf("lead %d: POST https://partner.example/order?key=PARTNER-SECRET: status 503 (phone 79990001122)", i)}
}

// A partner failing for three windows gets one grouped mail per window,
// not one per failure, with counts and the latest examples (phones
// masked); a success after brings one "recovered" mail.
func TestGroupedMailsAndRecovery(t *testing.T) {
	t.Parallel()
	box, addr := hosttest.StartMailbox(t)
	window := 400 * time.Millisecond
	n := New(Settings{Server: addr, From: "leadhost@example.com", To: []string{"ops@example.com"}}, window, slog.New(slog.DiscardHandler))
	// 60 failures of the send kind and 3 of check, spread over 3 windows.
	end := time.Now().Add(3*window - 50*time.Millisecond)
	observed := 0
	for i := 0; time.Now().Before(end); i++ {
		n.Observe(failure("acme", "send", i))
		observed++
		if i%20 == 0 {
			n.Observe(failure("acme", "check", i))
			observed++
		}
		time.Sleep(3 * window / 60)
	}
	time.Sleep(window + 100*time.Millisecond)
	mails := box.Mails()
	if len(mails) < 3 || len(mails) > 4 {
		t.Fatalf("%d mails for 3 windows of failures, want 3 or 4:\n%s", len(mails), strings.Join(mails, "\n---\n"))
	}
	first := mails[0]
	for _, want := range []string{"to ops@example.com", "Subject: [leadhost] acme: ", "errors (check, send)", "send: ", "failed, the first at", "7***22"} {
		if !strings.Contains(first, want) {
			t.Errorf("the first mail lacks %q:\n%s", want, first)
		}
	}
	if strings.Contains(first, "79990001122") || strings.Contains(first, "PARTNER-SECRET") {
		t.Errorf("a phone or the partner's key in the mail:\n%s", first)
	}
	total := 0
	for _, m := range mails {
		var k int
		if _, err := fmt.Sscanf(m[strings.Index(m, "Offer acme: "):], "Offer acme: %d failed", &k); err != nil {
			t.Fatalf("no count in:\n%s", m)
		}
		total += k
	}
	if total != observed {
		t.Errorf("the mails count %d failures, want all %d", total, observed)
	}

	// A webhook that works says nothing about sends and checks: no mail.
	n.Observe(store.JournalEntry{At: time.Now(), Offer: "acme", Kind: "hook", Status: "ok"})
	n.Observe(store.JournalEntry{At: time.Now(), Offer: "acme", Kind: "send", Status: "ok"})
	time.Sleep(window + 100*time.Millisecond)
	if got := box.Mails()[len(mails):]; len(got) != 0 {
		t.Fatalf("recovered while checks still fail: %q", got)
	}
	n.Observe(store.JournalEntry{At: time.Now(), Offer: "acme", Kind: "check", Status: "ok"})
	n.Observe(store.JournalEntry{At: time.Now(), Offer: "acme", Kind: "send", Status: "ok"})
	time.Sleep(window + 100*time.Millisecond)
	mails = box.Mails()[len(mails):]
	if len(mails) != 1 || !strings.Contains(mails[0], "Subject: [leadhost] acme recovered") {
		t.Errorf("after recovery: %q", mails)
	}
	n.Close(context.Background())
}

// Offers are mailed separately; an offer may have its own recipients.
func TestPerOfferSettings(t *testing.T) {
	t.Parallel()
	box, addr := hosttest.StartMailbox(t)
	n := New(Settings{Server: addr, From: "leadhost@example.com", To: []string{"ops@example.com"}}, time.Hour, slog.New(slog.DiscardHandler))
	n.For = func(offer string) (Settings, time.Duration, bool) {
		if offer == "vip" {
			return Settings{To: []string{"vip-team@example.com"}}, 0, true
		}
		return Settings{}, 0, false
	}
	n.Observe(failure("vip", "hook", 1))
	n.Observe(failure("plain", "hook", 2))
	n.Close(context.Background()) // sends what is pending, ignoring windows
	mails := box.Mails()
	joined := strings.Join(mails, "\n")
	if len(mails) != 2 || !strings.Contains(joined, "to vip-team@example.com") || !strings.Contains(joined, "to ops@example.com") {
		t.Errorf("mails: %q", mails)
	}
}

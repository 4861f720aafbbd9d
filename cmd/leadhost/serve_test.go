package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"leadhost/host/hosttest"
	"leadhost/store"
)

// offerumCall is one request a fake partner received.
type offerumCall = hosttest.Request

// startOfferum starts a fake Offerum webmaster API (or any partner) on
// 127.0.0.1; reply gives the status and body of the n-th call (from 1).
func startOfferum(t *testing.T, reply func(n int) (int, string)) *hosttest.Partner {
	return hosttest.StartPartner(t, func(w http.ResponseWriter, n int, _ hosttest.Request) {
		status, body := reply(n)
		w.WriteHeader(status)
		io.WriteString(w, body)
	})
}

// exampleSecrets stand in for the placeholders the examples ship, as an
// operator would set them.
var exampleSecrets = strings.NewReplacer("change-me-to-a-long-random-string", "gc-test-token", "YOUR_API_KEY", "test-api-key", "YOUR_FLOW", "test-flow")

// exampleScripts copies the named example offers into a scripts folder of
// the test, Offerum's address replaced by partner's.
func exampleScripts(t *testing.T, partner string, offers ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "scripts")
	for _, offer := range offers {
		from, to := filepath.Join("../../scripts", offer), filepath.Join(dir, offer)
		if err := os.MkdirAll(to, 0o755); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(from)
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(from, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			b = []byte(strings.ReplaceAll(string(b), "https://api.offerrum.com", partner))
			b = []byte(exampleSecrets.Replace(string(b))) // serve refuses the placeholders
			if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// startTestHost starts serve on 127.0.0.1:0; stop ends it and waits.
func startTestHost(t *testing.T, data, scripts string) (h *runningHost, stop func()) {
	t.Helper()
	return startLoggingTestHost(t, data, scripts, slog.New(slog.DiscardHandler))
}

func startLoggingTestHost(t *testing.T, data, scripts string, log *slog.Logger) (h *runningHost, stop func()) {
	t.Helper()
	return startConfiguredTestHost(t, hostConfig{listen: "127.0.0.1:0", data: data, scripts: scripts, log: log})
}

// startConfiguredTestHost starts serve with cfg, its outboxes quick.
func startConfiguredTestHost(t *testing.T, cfg hostConfig) (h *runningHost, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg.sendBackoff, cfg.sendPoll = 200*time.Millisecond, 50*time.Millisecond
	h, err := startHost(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); h.wait() }) }
	t.Cleanup(stop)
	return h, stop
}

func getcourseCall(t *testing.T, h *runningHost) (int, map[string]any) {
	t.Helper()
	path, err := os.ReadFile("../../scripts/getcourse-offerum/testdata/getcourse-call.txt")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + h.addr.String() + exampleSecrets.Replace(strings.TrimSpace(string(path))))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("reply is not JSON: %v", err)
	}
	return resp.StatusCode, body
}

func leadStatus(t *testing.T, st store.Store, id uint64) *store.Lead {
	t.Helper()
	l, err := st.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Seed 000 end to end: Getcourse calls our URL, a lead is born, Offerum
// receives exactly the seed's fields as a form POST, and the lead is in
// status 2 with Offerum's id. The same call again makes nothing new.
func TestGetcourseToOfferum(t *testing.T) {
	t.Parallel()
	of := startOfferum(t, func(n int) (int, string) { return 200, fmt.Sprintf(`{"status":"ok","id":%d}`, 777000+n) })
	scripts := exampleScripts(t, of.URL, "getcourse-offerum")
	data := filepath.Join(t.TempDir(), "data")
	h, stop := startTestHost(t, data, scripts)

	code, reply := getcourseCall(t, h)
	if code != 200 || reply["ok"] != true || reply["lead"] != float64(1) || reply["created"] != true {
		t.Fatalf("hook replied %d %v", code, reply)
	}
	hosttest.Eventually(t, "the lead sent", func() bool { return leadStatus(t, h.st, 1).Status == store.StatusProcessing })
	l := leadStatus(t, h.st, 1)
	if l.Ext != "777001" || l.Fields["order"] != "GC-100500" || l.Fields["phone"] != "79990001122" || l.Fields["email"] != "ivan@example.com" {
		t.Errorf("lead %+v", l)
	}
	calls := of.Requests()
	if len(calls) != 1 {
		t.Fatalf("offerum got %d calls", len(calls))
	}
	c := calls[0]
	if c.Method != "POST" || c.Path != "/webmaster/order/" || c.ContentType != "application/x-www-form-urlencoded" {
		t.Errorf("offerum got %s %s (%s)", c.Method, c.Path, c.ContentType)
	}
	wantQuery := url.Values{"key": {"test-api-key"}, "flow": {"test-flow"}, "source": {"getcourse"}, "subid": {"getcourse"}}
	if c.Query.Encode() != wantQuery.Encode() {
		t.Errorf("query %v, want %v", c.Query, wantQuery)
	}
	wantForm := url.Values{"default_country": {"RU"}, "phone": {"79990001122"}, "name": {"Иван"},
		"user_ip": {"203.0.113.7"}, "user_agent": {"Mozilla/5.0"}, "order_time": {fmt.Sprint(l.Created.Unix())}}
	if c.Form.Encode() != wantForm.Encode() {
		t.Errorf("body %v\nwant %v", c.Form, wantForm)
	}

	// The journal has the call as it came (to replay it) and the send.
	hosttest.Eventually(t, "the hook and the send journaled", func() bool {
		hooks, _, _ := h.st.JournalList(context.Background(), store.JournalQuery{Offer: "getcourse-offerum", Kind: "hook"})
		sends, _, _ := h.st.JournalList(context.Background(), store.JournalQuery{Kind: "send"})
		return len(hooks) == 1 && strings.Contains(hooks[0].Request, "GET /hook/getcourse-offerum?order=GC-100500") &&
			!strings.Contains(hooks[0].Request, "gc-test-token") &&
			strings.Contains(hooks[0].Response, `"created":true`) && len(sends) == 1 && sends[0].Status == "ok"
	})

	// Getcourse calls again (a retry, a double click): the same lead.
	code, reply = getcourseCall(t, h)
	if code != 200 || reply["lead"] != float64(1) || reply["created"] != false {
		t.Fatalf("repeated call replied %d %v", code, reply)
	}
	// And after a restart, nothing is sent again.
	stop()
	h, stop = startTestHost(t, data, scripts)
	time.Sleep(300 * time.Millisecond) // a few outbox polls
	if n := len(of.Requests()); n != 1 {
		t.Errorf("offerum got %d calls in all, want 1", n)
	}
	if page, _ := h.st.List(context.Background(), store.Query{Offer: "getcourse-offerum"}); len(page.Leads) != 1 {
		t.Errorf("%d leads, want 1", len(page.Leads))
	}
	stop()
	code, out, errOut := leadhost(t, "", "journal", "--data", data, "--offer", "getcourse-offerum")
	if code != exitOK || !strings.Contains(out, "hook") || !strings.Contains(out, "GET /hook/getcourse-offerum → 200") {
		t.Errorf("journal: %d\n%s%s", code, out, errOut)
	}
	code, out, _ = leadhost(t, "", "journal", "--data", data, "--kind", "hook", "--json", "--limit", "1")
	if code != exitOK || strings.Contains(out, "000-11-22") || !strings.Contains(out, `phone=%2B7***22`) {
		t.Errorf("journal --json does not mask the phone: %s", out)
	}
}

// Offerum down, failing or answering garbage: the lead stays new, is
// retried with growing waits, survives a restart of leadhost in the
// middle, and is sent exactly once when Offerum comes back.
func TestOfferumFailures(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var times []time.Time
	healthyFrom := 5
	of := startOfferum(t, func(n int) (int, string) {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		switch {
		case n >= healthyFrom:
			return 200, `{"status":"ok","id":555}`
		case n%2 == 1:
			return 500, `<html>Internal Server Error</html>`
		default:
			return 200, `<html>garbage</html>`
		}
	})
	scripts := exampleScripts(t, of.URL, "getcourse-offerum")
	data := filepath.Join(t.TempDir(), "data")
	h, stop := startTestHost(t, data, scripts)
	if code, reply := getcourseCall(t, h); code != 200 {
		t.Fatalf("hook replied %d %v", code, reply)
	}
	hosttest.Eventually(t, "two failed attempts", func() bool { return len(of.Requests()) >= 2 })
	if l := leadStatus(t, h.st, 1); l.Status != store.StatusNew || l.Ext != "" {
		t.Fatalf("after failures the lead is %+v", l)
	}
	stop() // leadhost restarts between attempts
	h, _ = startTestHost(t, data, scripts)
	hosttest.Eventually(t, "the lead sent after the restart", func() bool { return leadStatus(t, h.st, 1).Status == store.StatusProcessing })
	time.Sleep(300 * time.Millisecond)
	calls := of.Requests()
	if len(calls) != healthyFrom {
		t.Errorf("offerum got %d calls, want %d (4 failures, 1 success, nothing twice)", len(calls), healthyFrom)
	}
	if l := leadStatus(t, h.st, 1); l.Ext != "555" {
		t.Errorf("lead %+v", l)
	}
	mu.Lock()
	defer mu.Unlock()
	// Waits grow: base 200 ms, doubling, with jitter between half and all.
	if gap := times[2].Sub(times[1]); gap < 150*time.Millisecond {
		t.Errorf("second retry after %s: no backoff", gap)
	}
}

// A failed send is logged with its URL, and the partner's key in it is
// masked: logs are read by more people than the key is meant for.
func TestSendLogsMaskTheKey(t *testing.T) {
	t.Parallel()
	of := startOfferum(t, func(int) (int, string) { return 500, `<html>Internal Server Error</html>` })
	scripts := exampleScripts(t, of.URL, "getcourse-offerum")
	toml, err := os.ReadFile(filepath.Join(scripts, "getcourse-offerum", "offer.toml"))
	if err != nil || !strings.Contains(string(toml), "key=test-api-key") {
		t.Fatalf("the example's send url has no key=test-api-key to mask (%v)", err)
	}
	var logs hosttest.SyncBuffer
	h, stop := startLoggingTestHost(t, filepath.Join(t.TempDir(), "data"), scripts, slog.New(slog.NewTextHandler(&logs, nil)))
	if code, reply := getcourseCall(t, h); code != 200 {
		t.Fatalf("hook replied %d %v", code, reply)
	}
	hosttest.Eventually(t, "a failed send logged", func() bool { return strings.Contains(logs.String(), "outcome=retry") })
	stop()
	if got := logs.String(); strings.Contains(got, "test-api-key") || !strings.Contains(got, "key=***") {
		t.Errorf("the log:\n%s", got)
	}
}

// Offerum does not take the order ("flow is paused"): send.lua logs why
// and asks to retry. The reason is in the send's journal entry (its
// summary, which mails and logs show, and its logs), not only "send.lua
// asked to retry".
func TestSendScriptReasonIsJournaled(t *testing.T) {
	t.Parallel()
	of := startOfferum(t, func(int) (int, string) { return 200, `{"status":"error","error":"flow is paused"}` })
	scripts := exampleScripts(t, of.URL, "getcourse-offerum")
	h, _ := startTestHost(t, filepath.Join(t.TempDir(), "data"), scripts)
	if code, reply := getcourseCall(t, h); code != 200 {
		t.Fatalf("hook replied %d %v", code, reply)
	}
	var sent store.JournalEntry
	hosttest.Eventually(t, "the send journaled", func() bool {
		entries, _, _ := h.st.JournalList(context.Background(), store.JournalQuery{Kind: store.KindSend})
		if len(entries) > 0 {
			sent = entries[len(entries)-1]
		}
		return len(entries) > 0
	})
	const why = "offerum did not take the order: flow is paused"
	if sent.Status != store.JournalError || !strings.Contains(sent.Summary, why) || len(sent.Logs) != 1 || !strings.Contains(sent.Logs[0], why) {
		t.Errorf("send entry: status %s, summary %q, logs %q; want the reason in both", sent.Status, sent.Summary, sent.Logs)
	}
}

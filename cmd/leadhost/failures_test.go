package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"leadhost/host/hosttest"
	"leadhost/host/notify"
	"leadhost/store"
)

// An operator learns of each failure with its reason, everywhere: a
// partner that answers 500 to a send, a tracker that answers 404 to the
// outgoing postback, a webhook whose script raises. Each is a journal
// entry with the reason, an error metric, a WARN line in the log, and the
// three are in one grouped mail (a real SMTP server on 127.0.0.1) that
// names each reason.
func TestFailuresAreVisibleWithTheirReasons(t *testing.T) {
	t.Parallel()
	partner := startOfferum(t, func(int) (int, string) { return 500, `<html>Internal Server Error</html>` })
	tracker := startOfferum(t, func(int) (int, string) { return 404, `no such click` })
	scripts := parityScripts(t, partner.URL, tracker.URL)
	if err := os.MkdirAll(filepath.Join(scripts, "parity", "hooks"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(scripts, "parity", "hooks", "boom.lua"), []byte("\nerror(\"the form changed: no phone field\")\n"), 0o644)
	box, smtpAddr := hosttest.StartMailbox(t)
	var logs hosttest.SyncBuffer
	h, _ := startConfiguredTestHost(t, hostConfig{listen: "127.0.0.1:0", data: filepath.Join(t.TempDir(), "data"), scripts: scripts,
		log: slog.New(slog.NewTextHandler(&logs, nil)), mailWindow: 2 * time.Second,
		mail: notify.Settings{Server: smtpAddr, From: "leadhost@localhost", To: []string{"ops@example.com"}}})
	base := "http://" + h.addr.String()

	if code, body := httpCall(t, "POST", base+"/hook/parity?token=parity-hook", `{"key":"k1","fields":{"phone":"79990009999"}}`); code != 200 {
		t.Fatalf("hook: %d %s", code, body)
	}
	if code, body := httpCall(t, "GET", base+"/hook/parity/boom?token=parity-hook", ""); code != 500 {
		t.Fatalf("the raising hook: %d %s", code, body)
	}

	reasons := map[store.JournalKind]string{
		store.KindSend:        "status 500",
		store.KindPostbackOut: "status 404: no such click",
		store.KindHook:        "parity/hooks/boom.lua:2: the form changed: no phone field",
	}
	for kind, why := range reasons {
		hosttest.Eventually(t, string(kind)+" journaled as an error with its reason", func() bool {
			entries, _, _ := h.st.JournalList(context.Background(), store.JournalQuery{Kind: kind, Status: store.JournalError})
			return len(entries) > 0 && strings.Contains(entries[len(entries)-1].Summary, why)
		})
	}
	hosttest.Eventually(t, "one mail", func() bool { return len(box.Mails()) > 0 })
	mail := box.Mails()[0]
	for kind, why := range reasons {
		if !strings.Contains(mail, why) {
			t.Errorf("the mail does not name the %s's reason %q:\n%s", kind, why, mail)
		}
	}
	if n := len(box.Mails()); n != 1 {
		t.Errorf("%d mails within the window, want one grouped", n)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`leadhost_errors_total{kind="send",offer="parity"}`, `leadhost_errors_total{kind="postback-out",offer="parity"}`,
		`leadhost_errors_total{kind="hook",offer="parity"}`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, want := range []string{"level=WARN msg=send", "level=WARN msg=postback-out", "level=WARN msg=\"script failed\""} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log has no %q line", want)
		}
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"leadhost/api"
	"leadhost/host/hosttest"
	"leadhost/store"
)

// slowScripts copies testdata/shutdown (an offer whose partner is
// partnerURL) into a scripts folder of the test.
func slowScripts(t *testing.T, partnerURL string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "scripts")
	from := filepath.Join("testdata", "shutdown", "slow")
	to := filepath.Join(dir, "slow")
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b = []byte(strings.ReplaceAll(string(b), "PARTNER", partnerURL))
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A stopping serve waits for nothing that would not end by itself: a
// check run a person started through the admin API, whose partner does
// not answer, stops at once; a webhook whose script loops is stopped
// after api.RunGrace and answered 503 with Retry-After, not cut without
// an answer; the check's request is given up check.StopGrace after the
// stop. The stop ends well before the check's 30 s request timeout or the
// hook's 30 s script timeout (it took 59 s before).
func TestShutdownIsBounded(t *testing.T) {
	release := make(chan struct{})
	partner := hosttest.StartPartner(t, func(w http.ResponseWriter, _ int, _ hosttest.Request) {
		select { // a partner that never answers (until the test ends)
		case <-release:
		case <-time.After(2 * time.Minute):
		}
	})
	t.Cleanup(func() { close(release) })
	data := t.TempDir()
	h, stop := startTestHost(t, data, slowScripts(t, partner.URL))
	base := "http://" + h.addr.String()

	l, _, err := h.app.AddLead(context.Background(), []byte(`{"offer":"slow","key":"k0","fields":{"phone":"79990001122"}}`), "test")
	if err != nil {
		t.Fatal(err)
	}
	type answer struct {
		status     int
		retryAfter string
		body       string
		err        error
	}
	call := func(method, url string) <-chan answer {
		out := make(chan answer, 1)
		go func() {
			req, _ := http.NewRequest(method, url, nil)
			req.Header.Set("Authorization", "Bearer "+h.localToken) // a change through the admin API
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				out <- answer{err: err}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			out <- answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(b)}
		}()
		return out
	}
	checked := call("POST", fmt.Sprintf("%s/api/offers/slow/check?mode=processing&leads=%d", base, l.ID))
	hooked := call("GET", base+"/hook/slow?token=slow-token&key=k1")
	hosttest.Eventually(t, "the partner is asked and the hook has added its lead", func() bool {
		return len(partner.Requests()) == 1 && leadsOf(t, h.st, "slow") == 2
	})

	stopped := make(chan struct{})
	began := time.Now()
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(api.RunGrace + 10*time.Second):
		t.Fatalf("serve still stopping %s after it was asked to (hook grace %s)", time.Since(began).Round(time.Second), api.RunGrace)
	}
	t.Logf("stopped in %s", time.Since(began).Round(10*time.Millisecond))

	hook := <-hooked
	if hook.err != nil || hook.status != 503 || hook.retryAfter == "" || !strings.Contains(hook.body, "stopping") {
		t.Fatalf("hook cut by the stop: %d Retry-After %q %s %v; want 503 with Retry-After, saying leadhost is stopping", hook.status, hook.retryAfter, hook.body, hook.err)
	}
	check := <-checked
	if check.err != nil {
		t.Fatalf("the check run's caller got no answer: %v", check.err)
	}
	var rep struct {
		Stopped bool `json:"stopped"`
	}
	if err := json.Unmarshal([]byte(check.body), &rep); err != nil || !rep.Stopped {
		t.Fatalf("check run answered %d %s; want its report, stopped", check.status, check.body)
	}

	// What the hook added before it was stopped is kept, and its call is
	// in the journal with the 503 the caller got.
	st, err := store.Open(store.Options{Dir: data, GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n := leadsOf(t, st, "slow"); n != 2 {
		t.Fatalf("%d leads after the stop; want the one added before and the stopped hook's", n)
	}
	entries, _, err := st.JournalList(context.Background(), store.JournalQuery{Offer: "slow", Kind: store.KindHook})
	if err != nil || len(entries) != 1 || !strings.Contains(entries[0].Summary, "503") {
		t.Fatalf("journal of the stopped hook: %+v %v", entries, err)
	}
}

// leadsOf counts an offer's leads.
func leadsOf(t *testing.T, st store.Store, offer string) int {
	t.Helper()
	counts, err := st.CountLeads(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range counts[offer] {
		n += c
	}
	return n
}

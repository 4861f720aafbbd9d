package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"leadhost/host"
	"leadhost/host/app"
	"leadhost/host/hosttest"
	"leadhost/store"
)

// shopWithCandidates serves a copy of testdata/scripts (shop, crm) with
// its shadow runs working; stage writes shop's next/hook.lua and reloads.
func shopWithCandidates(t *testing.T) (base string, a *app.App, stage func(hook string)) {
	t.Helper()
	scripts := t.TempDir()
	err := filepath.WalkDir("testdata/scripts", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel("testdata/scripts", p)
		b, err := os.ReadFile(p)
		if err == nil {
			os.MkdirAll(filepath.Dir(filepath.Join(scripts, rel)), 0o755)
			err = os.WriteFile(filepath.Join(scripts, rel), b, 0o644)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(scripts, "crm", host.NextDir))
	a = openApp(t, scripts)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go a.Shadows.Run(ctx)
	// Hot reload as serve runs it: a promote's files are seen by the
	// watcher too, not only by the promote's own reload.
	go a.Offers.Watch(ctx, nil, host.WatchOptions{Debounce: time.Millisecond})
	stage = func(hook string) {
		t.Helper()
		next := filepath.Join(scripts, "shop", host.NextDir)
		os.MkdirAll(next, 0o755)
		if err := os.WriteFile(filepath.Join(next, "hook.lua"), []byte(hook), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Offers.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	return serve(t, &Server{App: a, Log: slog.New(slog.DiscardHandler), LocalToken: localToken}), a, stage
}

// contractCall makes a call and holds its answer to the document.
func contractCall(t *testing.T, method, url string, want int, into any) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if method != "GET" {
		req.Header.Set("Authorization", "Bearer "+localToken)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, url, resp.StatusCode, body, want)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if ok, errs := openAPIValidator(t).ValidateHttpResponse(req, resp); !ok {
		for _, e := range errs {
			t.Errorf("%s %s answers %d against the document: %s %s", method, url, want, e.Message, e.Reason)
		}
	}
	if into != nil {
		decodeJSON(t, body, into)
	}
	return body
}

func order(t *testing.T, base, id string) (int, string) {
	t.Helper()
	code, _, body := call(t, "POST", base+"/hook/shop?token=s3cret", "application/json", strings.NewReader(`{"order":"`+id+`","phone":"79990001122"}`), nil)
	return code, string(body)
}

// A candidate hook that calls http.request gets a Lua error naming shadow
// mode, shown beside the live reply, while the live hook answers; a
// broken candidate shows its error with file:line, cannot be promoted,
// and the live offer keeps working; a replay over the journal compares
// again and commits nothing.
func TestShadowOverTheAPI(t *testing.T) {
	t.Parallel()
	base, a, stage := shopWithCandidates(t)
	ctx := context.Background()

	stage("local o = req.json or {}\nlocal r = http.request{url = 'http://127.0.0.1:1/'}\nreturn {lead = 0}\n")
	if code, body := order(t, base, "A1"); code != 200 || !strings.Contains(body, `"lead":1`) {
		t.Fatalf("live hook: %d %s", code, body)
	}
	if err := a.Shadows.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	var v app.ShadowView
	contractCall(t, "GET", base+"/api/offers/shop/shadow", 200, &v)
	if v.Candidate == nil || v.Candidate.Version == 0 || v.Counts.Compared != 1 || v.Counts.Differing != 1 || len(v.Differences) != 1 {
		t.Fatalf("shadow view %+v", v)
	}
	d := v.Differences[0]
	if !strings.Contains(d.Candidate.Error, "shop/next/hook.lua:2:") || !strings.Contains(d.Candidate.Error, "shadow mode") || !strings.Contains(d.Live.Reply, `"lead":1`) {
		t.Errorf("difference %+v: want the candidate's shadow-mode error at line 2 beside the live reply", d)
	}
	if n := countLeads(t, a.Store); n != 1 {
		t.Errorf("%d leads: the candidate added some", n)
	}
	// The live side's added lead carries the phone: masked unless raw=1.
	if body := contractCall(t, "GET", base+"/api/offers/shop/shadow", 200, nil); strings.Contains(string(body), "79990001122") {
		t.Errorf("the shadow view shows the phone unmasked: %s", body)
	}
	if body := contractCall(t, "GET", base+"/api/offers/shop/shadow?raw=1", 200, nil); !strings.Contains(string(body), "79990001122") {
		t.Errorf("raw=1: the phone is not there: %s", body)
	}

	stage("return = 1\n")
	v = app.ShadowView{}
	contractCall(t, "GET", base+"/api/offers/shop/shadow", 200, &v)
	if v.Candidate == nil || v.Candidate.Version != 0 || len(v.Candidate.Problems) != 1 || !strings.HasPrefix(v.Candidate.Problems[0], "shop/next/hook.lua:1:") {
		t.Errorf("broken candidate: %+v", v.Candidate)
	}
	if code, body := order(t, base, "A2"); code != 200 {
		t.Errorf("the live hook with a broken candidate: %d %s", code, body)
	}
	if body := contractCall(t, "POST", base+"/api/offers/shop/promote", 409, nil); !strings.Contains(string(body), "shop/next/hook.lua:1:") {
		t.Errorf("promote of a broken candidate: %s", body)
	}
	contractCall(t, "POST", base+"/api/offers/shop/shadow/replay?last=5", 409, nil)

	stage(strings.Replace(mustRead(t, "testdata/scripts/shop/hook.lua"), "created = created }", "created = created, v = 2 }", 1))
	hosttest.Eventually(t, "both webhooks journaled", func() bool {
		es, _, _ := a.Store.JournalList(ctx, store.JournalQuery{Kind: store.KindHook})
		return len(es) == 2
	})
	v = app.ShadowView{}
	contractCall(t, "POST", base+"/api/offers/shop/shadow/replay?last=5", 200, &v)
	if !v.Replay || v.Counts.Compared != 2 || v.Counts.Differing != 2 || len(v.Differences) != 2 || v.Differences[0].Rows[0].What != "reply" {
		t.Errorf("replay: %+v", v)
	}
	if n := countLeads(t, a.Store); n != 2 {
		t.Errorf("%d leads after the replay, want the 2 the live hook added", n)
	}
	contractCall(t, "POST", base+"/api/offers/shop/shadow/replay?last=0", 400, nil)
	contractCall(t, "GET", base+"/api/offers/nope/shadow", 404, nil)
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Promote under load: webhooks from 4 goroutines all along, none fails,
// and every call answered after the promote is the new version's.
func TestPromoteUnderLoad(t *testing.T) {
	t.Parallel()
	base, _, stage := shopWithCandidates(t)
	stage(strings.Replace(mustRead(t, "testdata/scripts/shop/hook.lua"), "created = created }", "created = created, v = 2 }", 1))
	var (
		sent, failed atomic.Int64
		promoted     atomic.Bool
		oldAfter     atomic.Int64 // answers by the old version to calls made after the promote returned
		lastFailure  atomic.Value
	)
	stop := hosttest.Load(4, func(g, i int) bool {
		after := promoted.Load()
		code, body := order(t, base, fmt.Sprintf("g%d-%d", g, i))
		sent.Add(1)
		if code != 200 {
			failed.Add(1)
			lastFailure.Store(fmt.Sprintf("%d %s", code, body))
		}
		if after && !strings.Contains(body, `"v":2`) {
			oldAfter.Add(1)
		}
		return true
	})
	hosttest.Eventually(t, "load running", func() bool { return sent.Load() > 50 })
	var p host.Promoted
	contractCall(t, "POST", base+"/api/offers/shop/promote", 200, &p)
	promoted.Store(true)
	n := sent.Load()
	hosttest.Eventually(t, "calls after the promote", func() bool { return sent.Load() > n+50 })
	stop()
	if failed.Load() > 0 {
		t.Errorf("%d of %d webhooks failed during the promote, the last: %v", failed.Load(), sent.Load(), lastFailure.Load())
	}
	if oldAfter.Load() > 0 {
		t.Errorf("%d calls made after the promote answered by the old version", oldAfter.Load())
	}
	if strings.Join(p.Files, ",") != "hook.lua" {
		t.Errorf("promoted %+v", p)
	}
	t.Logf("%d webhooks, none failed", sent.Load())
	var v app.ShadowView
	contractCall(t, "GET", base+"/api/offers/shop/shadow", 200, &v)
	if v.Candidate != nil {
		t.Errorf("a candidate after promote: %+v", v.Candidate)
	}
}

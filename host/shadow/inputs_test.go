package shadow

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"leadhost/host"
	"leadhost/host/script"
	"leadhost/store"
)

// stage writes an offer's files (paths in the scripts folder) and loads
// them, the candidate with them.
func stage(t testing.TB, files map[string]string) *host.Registry {
	t.Helper()
	dir := t.TempDir()
	for path, src := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, path), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reg := host.NewRegistry(dir)
	if _, err := reg.Reload(); err != nil {
		t.Fatal(err)
	}
	return reg
}

func openStore(t testing.TB) store.Store {
	t.Helper()
	st, err := store.Open(store.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

const token = "[hook]\ntoken = \"a-long-token-for-the-tests\"\n"

// liveHook runs the live version's hook as api.runScript does, and hands
// it over.
func liveHook(t *testing.T, s *Shadow, o *host.Offer, st store.Store, file string, req script.HookRequest) (script.HookResult, error) {
	t.Helper()
	res, err := o.Pool.RunHook(context.Background(), o.Scripts[file], script.Hook{Store: st, Offer: o.ID, Request: req})
	s.Hook(o, file, req, res, err)
	return res, err
}

// Hooks the candidate runs the same as the live version never differ:
// not when they edit a lead the live run's commit already changed (the
// candidate starts from the leads as the live run found them), not when
// both raise the same error from their own files. And an input of a
// script the candidate does not stage is neither run nor counted.
func TestSameHookDoesNotDiffer(t *testing.T) {
	t.Parallel()
	const edit = "core.lead.edit(tonumber(req.query.id), {status = 5, comment = 'cancelled'})\nreturn {ok = true}\n"
	const raise = "if not req.query.order then error('order is missing') end\nreturn {ok = true}\n"
	for _, tc := range []struct {
		name     string
		files    map[string]string
		file     string
		compared int64
	}{
		{"an edit of a lead", map[string]string{"pb/offer.toml": token, "pb/hook.lua": edit,
			"pb/next/hook.lua": "-- the same script, a comment added\n" + edit}, "hook.lua", 1},
		{"the same error", map[string]string{"pb/offer.toml": token, "pb/hook.lua": raise,
			"pb/next/hook.lua": raise + "-- a new last line: the behaviour is the same\n"}, "hook.lua", 1},
		{"a hook the candidate does not stage", map[string]string{"pb/offer.toml": token, "pb/hook.lua": edit,
			"pb/postback.lua": edit, "pb/next/postback.lua": "error('not this one')\n"}, "hook.lua", 0},
		{"offer.toml staged: every script", map[string]string{"pb/offer.toml": token, "pb/hook.lua": edit,
			"pb/next/offer.toml": token + "\n# staged\n"}, "hook.lua", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := openStore(t)
			lead, _, err := st.Add(ctx, store.NewLead{Offer: "pb", Status: store.StatusProcessing})
			if err != nil {
				t.Fatal(err)
			}
			reg := stage(t, tc.files)
			o, ok := reg.Offer("pb")
			if !ok {
				t.Fatalf("offer not loaded: %v", reg.Problems("pb"))
			}
			if _, err := reg.LoadedCandidate("pb"); err != nil {
				t.Fatal(err)
			}
			s := New(st, reg, 0, nil)
			runCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			go s.Run(runCtx)
			liveHook(t, s, o, st, tc.file, script.HookRequest{Method: "GET", Query: map[string][]string{"id": {strconv.FormatUint(lead.ID, 10)}}})
			if err := s.Idle(ctx); err != nil {
				t.Fatal(err)
			}
			c, diffs := s.Status("pb")
			if c.Differing != 0 {
				t.Errorf("reported as differing: %+v %+v", c, diffs[0].Rows)
			}
			if c.Compared != tc.compared {
				t.Errorf("compared %d, want %d", c.Compared, tc.compared)
			}
		})
	}
}

// A candidate that loops never slows the live path: its runs take no
// live slot and stop after RunTimeout, not the candidate's timeout; after
// MaxTimeouts in a row it is shadowed no more, and its counts say why.
// Meaningful with -cpu 2 (one live slot).
func TestLoopingCandidateDoesNotSlowTheLivePath(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := openStore(t)
	reg := stage(t, map[string]string{
		"pb/offer.toml":      "timeout = \"10s\"\n" + token,
		"pb/next/offer.toml": "timeout = \"1m\"\n" + token,
		"pb/hook.lua":        "local n = 0 for i = 1, 300000 do n = n + i end\nreturn {ok = true}\n",
		"pb/next/hook.lua":   "local n = 0 while true do n = n + 1 end\n", // a mistake: runs to its deadline
	})
	o, _ := reg.Offer("pb")
	req := script.HookRequest{Method: "GET"}
	timed := func() time.Duration {
		start := time.Now()
		if _, err := o.Pool.RunHook(ctx, o.Scripts["hook.lua"], script.Hook{Store: st, Offer: "pb", Request: req}); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	alone := timed()
	s := New(st, reg, 0, nil)
	go s.Run(ctx)
	for range MaxTimeouts + 2 {
		liveHook(t, s, o, st, "hook.lua", req)
	}
	time.Sleep(200 * time.Millisecond) // the candidate is computing
	beside := timed()
	t.Logf("live hook alone %v, beside the candidate %v", alone, beside)
	if beside > 5*alone+time.Second {
		t.Errorf("the live hook took %v beside a looping candidate, %v alone", beside, alone)
	}
	idle, stop := context.WithTimeout(ctx, time.Duration(MaxTimeouts+1)*(RunTimeout+time.Second))
	defer stop()
	if err := s.Idle(idle); err != nil {
		t.Fatalf("the shadow runs did not stop at their deadline: %v", err)
	}
	c, _ := s.Status("pb")
	if c.Compared != MaxTimeouts || !strings.Contains(c.Stopped, "shadowed no more") {
		t.Errorf("counts %+v, want %d compared and stopped", c, MaxTimeouts)
	}
	if s.wants("pb", "hook.lua") {
		t.Error("the stopped candidate is still wanted")
	}
	s.Reset("pb") // the candidate changed
	if !s.wants("pb", "hook.lua") {
		t.Error("a reset candidate is not shadowed again")
	}
}

// A candidate whose offer.toml reads answers in another format decodes
// the answer's body with its own: a check answer and a send reply given
// as a form, which the live version (json) cannot read.
func TestCandidateDecodesInItsOwnFormat(t *testing.T) {
	t.Parallel()
	const (
		check = "[check]\nurl = \"https://partner.example/s\"\nbatch = 1\nprocessing = { every = \"10m\" }\nformat = "
		send  = "[send]\nurl = \"https://partner.example/add\"\nformat = "
	)
	for _, tc := range []struct {
		name string
		toml string // the offer.toml's sections, the format last
		file string
		src  string
		want func(c Side) string // what the candidate did, "" when right
	}{
		{"check answer", check, "check.lua", "if data and data.st == 'cancel' then core.lead.edit(inid, {status = 5}) end\n",
			func(c Side) string {
				if len(c.Edits) != 1 {
					return fmt.Sprintf("edits %+v, error %q: want the cancel", c.Edits, c.Error)
				}
				return ""
			}},
		{"send reply", send, "send.lua", "return data and data.id\n",
			func(c Side) string {
				if c.Outcome != "ext X9" {
					return fmt.Sprintf("outcome %q, error %q: want ext X9", c.Outcome, c.Error)
				}
				return ""
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := openStore(t)
			lead, _, err := st.Add(ctx, store.NewLead{Offer: "pb", Status: store.StatusProcessing})
			if err != nil {
				t.Fatal(err)
			}
			reg := stage(t, map[string]string{
				"pb/offer.toml":      tc.toml + "\"json\"\n",
				"pb/" + tc.file:      tc.src,
				"pb/next/offer.toml": tc.toml + "\"form\"\n",
			})
			o, ok := reg.Offer("pb")
			if _, err := reg.LoadedCandidate("pb"); !ok || err != nil {
				t.Fatalf("not loaded: %v %v", reg.Problems("pb"), err)
			}
			s := New(st, reg, 0, nil)
			runCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			go s.Run(runCtx)
			body := []byte("id=X9&st=cancel")
			if tc.file == "check.lua" {
				s.Check(o, host.ModeProcessing, []*store.Lead{lead}, body, nil, nil, nil)
			} else {
				s.Send(o, lead, script.SendResponse{Status: 200, Body: body}, script.SendOutcome{Retry: true}, nil)
			}
			if err := s.Idle(ctx); err != nil {
				t.Fatal(err)
			}
			c, diffs := s.Status("pb")
			if c.Compared != 1 || len(diffs) != 1 {
				t.Fatalf("counts %+v: want one difference", c)
			}
			if msg := tc.want(diffs[0].Candidate); msg != "" {
				t.Error(msg)
			}
		})
	}
}

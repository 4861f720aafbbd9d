package host

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A folder next/ beside an offer's files is its candidate: loaded beside
// the live version, with the live files it does not replace, its own
// errors named as its files, and never in the live version's way.
func TestCandidateLoadsBesideTheLiveVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		next      map[string]string // files of next/
		loads     bool
		problem   string // in the candidate's problems
		checkName string // the candidate's check.lua, as runs name it
	}{
		{name: "a check.lua of its own", next: map[string]string{"check.lua": "return 2\n"}, loads: true, checkName: "acme/next/check.lua"},
		{name: "a hook of its own, the live check.lua", next: map[string]string{"hooks/gc.lua": "return 'ok'\n"}, loads: true, checkName: "acme/check.lua"},
		{name: "a syntax error", next: map[string]string{"check.lua": "x = = 1\n"}, problem: "acme/next/check.lua:1:"},
		{name: "an unknown key", next: map[string]string{"offer.toml": "colour = 'red'\n"}, problem: "acme/next/offer.toml:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			scripts, acme := copyOffer(t)
			live, _ := os.ReadFile(filepath.Join(acme, "offer.toml"))
			for rel, src := range tc.next {
				if rel == "offer.toml" {
					src += string(live)
				}
				writeFile(t, filepath.Join(acme, NextDir, rel), src)
			}
			r := NewRegistry(scripts)
			changes, err := r.Reload()
			if err != nil {
				t.Fatal(err)
			}
			o, ok := r.Offer("acme")
			if !ok || len(r.Errors()["acme"]) > 0 || o.Scripts["check.lua"].Name != "acme/check.lua" {
				t.Fatalf("the live offer: %v %v; changes %q", ok, r.Errors()["acme"], changes)
			}
			c, ok := r.Candidate("acme")
			if !ok {
				t.Fatalf("no candidate; changes %q", changes)
			}
			if got := c.Offer != nil; got != tc.loads {
				t.Fatalf("candidate loads = %v, want %v: %q", got, tc.loads, c.Problems())
			}
			if tc.loads {
				if got := c.Offer.Scripts["check.lua"].Name; got != tc.checkName {
					t.Errorf("candidate's check.lua is %q, want %q", got, tc.checkName)
				}
				if c.Offer.Pool == o.Pool || c.Offer.Version == o.Version {
					t.Errorf("candidate shares the live version's pool or version %d", o.Version)
				}
				return
			}
			if text := strings.Join(c.Problems(), "\n"); !strings.Contains(text, tc.problem) {
				t.Errorf("candidate problems %q, want %q", text, tc.problem)
			}
			if !strings.Contains(strings.Join(changes, "\n"), "acme: candidate (next/) not loaded") {
				t.Errorf("changes %q do not say the candidate did not load", changes)
			}
		})
	}
}

// Hot reload picks up next/'s files as they are saved, and deleting next/
// drops the candidate; the live version stays the same throughout.
func TestCandidateHotReload(t *testing.T) {
	t.Parallel()
	scripts, acme := copyOffer(t)
	r := NewRegistry(scripts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		r.Watch(ctx, nil, WatchOptions{Debounce: 10 * time.Millisecond, Rescan: time.Hour})
	}()
	defer func() { cancel(); <-watching }()
	waitFor(t, "first load", func() bool { _, ok := r.Offer("acme"); return ok })
	live, _ := r.Offer("acme")

	writeFile(t, filepath.Join(acme, NextDir, "check.lua"), "return 2\n")
	waitFor(t, "candidate loaded", func() bool { c, ok := r.Candidate("acme"); return ok && c.Offer != nil })
	writeFile(t, filepath.Join(acme, NextDir, "check.lua"), "return = 3\n")
	waitFor(t, "candidate broken", func() bool { c, ok := r.Candidate("acme"); return ok && c.Offer == nil })
	if c, _ := r.Candidate("acme"); !strings.Contains(strings.Join(c.Problems(), ""), "acme/next/check.lua:1:") {
		t.Errorf("problems %q", c.Problems())
	}
	if err := os.RemoveAll(filepath.Join(acme, NextDir)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "candidate dropped", func() bool { _, ok := r.Candidate("acme"); return !ok })
	if now, _ := r.Offer("acme"); now != live {
		t.Errorf("the live version changed: %d → %d", live.Version, now.Version)
	}
}

package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"leadhost/host"
	"leadhost/host/hosttest"
	"leadhost/store"
)

// Promote moves next/'s files over the live ones, keeps the replaced in
// .prev/, removes next/ and reloads; with no candidate, or a broken one,
// it is refused and nothing moves.
func TestPromote(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	scripts := altercpaWithCandidate(t, "http://127.0.0.1:1")
	offer := filepath.Join(scripts, "altercpa")
	a, err := Open(ctx, Config{InMemory: true, Scripts: scripts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	live, _ := os.ReadFile(filepath.Join(offer, "check.lua"))
	next, _ := os.ReadFile(filepath.Join(offer, host.NextDir, "check.lua"))

	write(t, filepath.Join(offer, host.NextDir, "hooks", "x.lua"), "return = 1\n")
	if _, err := a.Promote(ctx, "altercpa", ByAPI); !errors.Is(err, host.ErrNoCandidate) || !strings.Contains(err.Error(), "altercpa/next/hooks/x.lua:1:") {
		t.Fatalf("promote of a broken candidate: %v", err)
	}
	if now, _ := os.ReadFile(filepath.Join(offer, "check.lua")); string(now) != string(live) {
		t.Fatal("a refused promote changed the live check.lua")
	}
	os.RemoveAll(filepath.Join(offer, host.NextDir, "hooks"))

	before, _ := a.Offers.Offer("altercpa")
	p, err := a.Promote(ctx, "altercpa", ByCLI)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.Files, ",") != "check.lua" || strings.Join(p.Kept, ",") != "check.lua" || p.Version <= before.Version {
		t.Errorf("promoted %+v (live version was %d)", p, before.Version)
	}
	for path, want := range map[string][]byte{"check.lua": next, ".prev/check.lua": live} {
		if got, _ := os.ReadFile(filepath.Join(offer, path)); string(got) != string(want) {
			t.Errorf("%s after promote:\n%s\nwant\n%s", path, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(offer, host.NextDir)); !os.IsNotExist(err) {
		t.Errorf("next/ is still there: %v", err)
	}
	if o, _ := a.Offers.Offer("altercpa"); o.Version != p.Version || o.Scripts["check.lua"].Name != "altercpa/check.lua" {
		t.Errorf("live version %d, want %d", o.Version, p.Version)
	}
	if _, ok := a.Offers.Candidate("altercpa"); ok {
		t.Error("the candidate is still loaded after promote")
	}
	if _, err := a.Promote(ctx, "altercpa", ByAPI); !errors.Is(err, host.ErrNoCandidate) {
		t.Errorf("promote with no next/: %v", err)
	}
	hosttest.Eventually(t, "the promote in the journal", func() bool {
		es, _, _ := a.Store.JournalList(ctx, store.JournalQuery{Kind: store.KindReload})
		for _, e := range es {
			if strings.Contains(e.Summary, "promoted by cli") {
				return true
			}
		}
		return false
	})
}

// A promote's reload goes where the watcher's go: a goal the promoted
// offer.toml adds is defined at once, and another offer's change that
// reload picked up is journaled (the watcher's reload after it finds
// nothing changed, and said nothing of either).
func TestPromoteDefinesNewGoalsAndJournalsOtherChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	scripts := t.TempDir()
	const toml = "[hook]\ntoken = \"a-long-token-for-the-tests\"\n"
	write(t, filepath.Join(scripts, "g", "offer.toml"), toml)
	write(t, filepath.Join(scripts, "g", "hook.lua"), "return {ok = true}\n")
	write(t, filepath.Join(scripts, "g", host.NextDir, "offer.toml"), toml+"\n[goals.upsell]\nname = \"Upsell\"\n")
	write(t, filepath.Join(scripts, "other", "offer.toml"), toml)
	write(t, filepath.Join(scripts, "other", "hook.lua"), "return {ok = true}\n")
	a, err := Open(ctx, Config{InMemory: true, Scripts: scripts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	write(t, filepath.Join(scripts, "other", "hook.lua"), "return {ok = 'edited'}\n") // not reloaded yet
	if _, err := a.Promote(ctx, "g", ByAPI); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.GoalByCode(ctx, "g", "upsell"); err != nil {
		t.Errorf("the promoted goal: %v", err)
	}
	hosttest.Eventually(t, "the other offer's reload in the journal", func() bool {
		es, _, _ := a.Store.JournalList(ctx, store.JournalQuery{Offer: "other", Kind: store.KindReload})
		return len(es) > 0 && strings.Contains(es[0].Summary, "loaded version")
	})
}

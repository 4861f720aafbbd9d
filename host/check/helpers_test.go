package check

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"leadhost/host"
	"leadhost/host/hosttest"
	"leadhost/store"
)

// asked is one request the fake partner received.
type asked = hosttest.Request

// startPartner starts a fake partner that answers with reply.
func startPartner(t testing.TB, reply func(w http.ResponseWriter, a asked)) *hosttest.Partner {
	t.Helper()
	return hosttest.StartPartner(t, func(w http.ResponseWriter, _ int, a asked) { reply(w, a) })
}

// answerFile replies 200 with a file's content.
func answerFile(t testing.TB, path string) func(http.ResponseWriter, asked) {
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return func(w http.ResponseWriter, _ asked) { w.Write(body) }
}

var checkURLOrigin = regexp.MustCompile(`(?m)^(url = ")https?://[^/"]+`)

// offerAt loads a copy of the offer in dir whose check url asks base
// instead of the real partner; edits change offer.toml's text or add
// files ("check.lua" → new source) before loading.
func offerAt(t testing.TB, dir, base string, edits map[string]string) *host.Offer {
	t.Helper()
	to := filepath.Join(t.TempDir(), filepath.Base(dir))
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "offer.toml" {
			b = checkURLOrigin.ReplaceAll(b, []byte("${1}"+base))
			for from, repl := range edits {
				if strings.Contains(from, "=") {
					if !strings.Contains(string(b), from) {
						t.Fatalf("offer.toml of %s has no %q to edit", dir, from)
					}
					b = []byte(strings.Replace(string(b), from, repl, 1))
				}
			}
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, src := range edits {
		if strings.HasSuffix(name, ".lua") {
			if err := os.WriteFile(filepath.Join(to, name), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	o, errs := host.LoadOffer(to)
	if len(errs) > 0 {
		t.Fatalf("load %s: %v", dir, errs)
	}
	return o
}

func openStore(t testing.TB, now func() time.Time) store.Store {
	t.Helper()
	st, err := store.Open(store.Options{InMemory: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// addLeads adds one lead per ext in status, created at created (zero: now).
func addLeads(t testing.TB, st store.Store, offer string, status store.Status, created time.Time, exts ...string) []*store.Lead {
	t.Helper()
	var out []*store.Lead
	for _, ext := range exts {
		l, _, err := st.Add(context.Background(), store.NewLead{Offer: offer, Ext: ext, Status: status, Created: created,
			Fields: map[string]string{"phone": "79990001122"}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// snapshot reads the leads again, to compare them with what they were.
func snapshot(t testing.TB, st store.Store, leads []*store.Lead) []*store.Lead {
	t.Helper()
	out := make([]*store.Lead, len(leads))
	for i, l := range leads {
		got, err := st.Get(context.Background(), l.ID)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = got
	}
	return out
}

package host

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"leadhost/host/script"
	"leadhost/store"

	lua "github.com/yuin/gopher-lua"
)

// copyOffer copies testdata/scripts/acme into a fresh scripts folder and
// returns the folder and the offer's path.
func copyOffer(t *testing.T) (scripts, acme string) {
	t.Helper()
	scripts = t.TempDir()
	acme = filepath.Join(scripts, "acme")
	if err := os.MkdirAll(acme, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"offer.toml", "check.lua"} {
		b, err := os.ReadFile(filepath.Join("testdata/scripts/acme", f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(acme, f), string(b))
	}
	return scripts, acme
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadOffer(t *testing.T) {
	t.Parallel()
	o, errs := LoadOffer("testdata/scripts/acme")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if o.ID != "acme" || o.Location.String() != "Europe/Moscow" || o.Policy.HoldDays != 5 ||
		o.Policy.DefaultReason != store.ReasonChangedMind || !o.Policy.Delivery || o.Pool.Limits().Timeout != 2*time.Second {
		t.Errorf("offer %+v policy %+v", o, o.Policy)
	}
	if o.Scripts["check.lua"] == nil || o.Config.Check.Processing.Every.Duration != 10*time.Minute || *o.Config.Check.Dates.Enabled {
		t.Errorf("check config %+v", o.Config.Check)
	}
	if a, ok := o.Words.Recognize("LEAD_APPROVE"); !ok || !a.Accept {
		t.Errorf("offer word not recognised: %+v %v", a, ok)
	}
}

// An unknown key does not hide the file's other problems.
func TestLintReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, acme := copyOffer(t)
	writeFile(t, filepath.Join(acme, "offer.toml"), "name = \"x\"\ncolour = \"red\"\nhold_days = 9999\n[check]\nurl = \"ftp://x\"\n")
	offers, problems := Lint(acme) // one offer's folder
	var all []string
	for _, p := range problems {
		all = append(all, p.Error())
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{"offer.toml:2: unknown key \"colour\"", "offer.toml:3: hold_days 9999", "offer.toml:5: check.url \"ftp://x\""} {
		if !strings.Contains(text, want) {
			t.Errorf("lint of %d offer reported\n%s\nwithout %q", offers, text, want)
		}
	}
}

func TestLoadOfferProblems(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		file  string // relative to the offer
		write string
		want  string // in one of the errors, after the offer folder
	}{
		{"unknown key", "offer.toml", "name = \"x\"\ncolour = \"red\"\n", "offer.toml:2: unknown key \"colour\""},
		{"unknown nested key", "offer.toml", "[check]\nurl = \"https://x\"\nbatchsize = 5\n", "offer.toml:3: unknown key \"check.batchsize\""},
		{"bad toml", "offer.toml", "name = \n", "offer.toml:1: "},
		{"bad duration", "offer.toml", "timeout = \"soon\"\n", `"soon" is not a duration`},
		{"bad timezone", "offer.toml", "timezone = \"Mars/Olympus\"\n", `timezone "Mars/Olympus"`},
		{"bad format", "offer.toml", "[check]\nurl = \"https://x\"\nformat = \"yaml\"\n", `check.format "yaml"`},
		{"bad reason", "offer.toml", "default_reason = 99\n", "default_reason 99"},
		{"bad words kind", "offer.toml", "[words]\nmaybe = [\"x\"]\n", `unknown kind "maybe"`},
		{"lua syntax", "check.lua", "for i = 1, 2 do\nprint(i)\n", "check.lua:"},
		{"lua syntax line", "check.lua", "local a = 1\nlocal b = = 2\n", "check.lua:2: "},
		{"unknown script", "helpers.lua", "return 1\n", "helpers.lua: unknown script"},
		{"hook in hooks/", "hooks/getcourse.lua", "return 'ok'\n", ""},
		{"unknown check macro", "offer.toml", "[check]\nurl = \"https://x/?a={idss}\"\n", "check.url: unknown macro {idss}"},
		{"unknown send macro", "offer.toml", "[send]\nurl = \"https://x/\"\nfields = { p = \"{phone}\", q = \"{fone}\" }\n", "send.fields.q: unknown macro {fone}"},
		{"send without send.lua", "offer.toml", "[send]\nurl = \"https://x/?f={field:utm_source}\"\n", "send.lua: missing"},
		{"a value error has its line", "offer.toml", "name = \"x\"\ntimezone = \"Mars/Olympus\"\n", "offer.toml:2: timezone \"Mars/Olympus\""},
		{"batch = 0 is an error, not the default", "offer.toml", "[check]\nurl = \"https://x/?i={idel}\"\nbatch = 0\n", "offer.toml:3: check.batch 0: want 1..1000"},
		{"hold_days = 0 is an error, not the default", "offer.toml", "name = \"x\"\nhold_days = 0\n", "offer.toml:2: hold_days 0: want 1..3650"},
		{"http_conns out of range", "offer.toml", "name = \"x\"\nhttp_conns = 5000\n", "http_conns 5000: want 1..1024"},
		{"http_conns = 0 is an error, not the default", "offer.toml", "name = \"x\"\nhttp_conns = 0\n", "offer.toml:2: http_conns 0: want 1..1024"},
		{"memory_mb out of range", "offer.toml", "name = \"x\"\nmemory_mb = 4096\n", "offer.toml:2: memory_mb 4096: want 1..1024"},
		{"log_kb = 0 is an error, not the default", "offer.toml", "name = \"x\"\nlog_kb = 0\n", "offer.toml:2: log_kb 0: want 1..16384"},
		{"leads_per_run negative", "offer.toml", "name = \"x\"\nleads_per_run = -1\n", "offer.toml:2: leads_per_run -1: want 1..100000"},
		{"a mode's interval has its line", "offer.toml", "[check]\nurl = \"https://x/?i={idel}\"\nprocessing = { every = \"10s\" }\n", "offer.toml:3: check.processing.every 10s"},
		{"an example's placeholder token", "offer.toml", "[hook]\ntoken = \"change-me-please\"\n", "offer.toml:2: hook.token: still the example's placeholder"},
		{"an example's placeholder key", "offer.toml", "[check]\nurl = \"https://x/?key=YOUR_API_KEY&i={idel}\"\n", "offer.toml:2: check.url: still the example's placeholder (\"YOUR_API_KEY\")"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, acme := copyOffer(t)
			writeFile(t, filepath.Join(acme, tc.file), tc.write)
			o, errs := LoadOffer(acme)
			if tc.want == "" {
				if len(errs) > 0 || o.Scripts[tc.file] == nil {
					t.Fatalf("errs %v", errs)
				}
				return
			}
			var all []string
			for _, e := range errs {
				all = append(all, e.Error())
			}
			if o != nil || !strings.Contains(strings.Join(all, "\n"), filepath.Join(acme, tc.want)) && !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Errorf("errors %q, want one with %q", all, tc.want)
			}
			for _, e := range all {
				if !strings.HasPrefix(e, acme) {
					t.Errorf("error %q does not name the file", e)
				}
			}
		})
	}
}

// TestOfferRunBounds: memory_mb, log_kb and leads_per_run reach the
// offer's runs; left out, the defaults do.
func TestOfferRunBounds(t *testing.T) {
	t.Parallel()
	_, acme := copyOffer(t)
	o, errs := LoadOffer(acme)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if l := o.Pool.Limits(); l.Memory != script.DefaultMemory || l.LogBytes != script.DefaultLogBytes || l.Leads != script.DefaultLeads {
		t.Errorf("defaults: %+v", l)
	}
	src, err := os.ReadFile(filepath.Join(acme, "offer.toml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(acme, "offer.toml"), "memory_mb = 8\nlog_kb = 2\nleads_per_run = 3\n"+string(src))
	if o, errs = LoadOffer(acme); len(errs) > 0 {
		t.Fatal(errs)
	}
	if l := o.Pool.Limits(); l.Memory != 8<<20 || l.LogBytes != 2<<10 || l.Leads != 3 {
		t.Errorf("set: %+v", l)
	}
}

func TestRegistryReloadKeepsTheLastGoodVersion(t *testing.T) {
	t.Parallel()
	scripts, acme := copyOffer(t)
	r := NewRegistry(scripts)
	if _, err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	v1, ok := r.Offer("acme")
	if !ok || v1.Version == 0 {
		t.Fatal("acme not loaded")
	}
	// Nothing changed: same snapshot, same version.
	r.Reload()
	if again, _ := r.Offer("acme"); again != v1 {
		t.Error("an unchanged offer was reloaded")
	}
	// A broken script leaves version 1 running and says why.
	writeFile(t, filepath.Join(acme, "check.lua"), "for _, d in ipairs(data) do\n")
	changes, _ := r.Reload()
	if cur, _ := r.Offer("acme"); cur != v1 || len(r.Errors()["acme"]) == 0 || len(changes) != 1 || !strings.Contains(changes[0], "keeps running") {
		t.Fatalf("after a broken change: %v, errors %v, changes %v", cur.Version, r.Errors(), changes)
	}
	// Fixed: a new version, errors gone.
	writeFile(t, filepath.Join(acme, "check.lua"), "return 2\n")
	r.Reload()
	v2, _ := r.Offer("acme")
	if v2.Version <= v1.Version || len(r.Errors()) != 0 {
		t.Fatalf("after the fix: version %d, errors %v", v2.Version, r.Errors())
	}
	// A second offer appears; then acme's folder goes.
	writeFile(t, filepath.Join(scripts, "zeta", "offer.toml"), "name = \"Zeta\"\ndelivery = false\n")
	os.RemoveAll(acme)
	changes, _ = r.Reload()
	if _, ok := r.Offer("acme"); ok || len(r.Offers()) != 1 || r.Policy("zeta").Delivery {
		t.Errorf("after removing acme: %v, changes %v", r.Offers(), changes)
	}
}

func TestLint(t *testing.T) {
	t.Parallel()
	scripts, acme := copyOffer(t)
	if n, probs := Lint(scripts); n != 1 || len(probs) != 0 {
		t.Fatalf("lint of a good folder: %d offers, %v", n, probs)
	}
	writeFile(t, filepath.Join(acme, "offer.toml"), "name = 1\n")
	writeFile(t, filepath.Join(scripts, "b", "offer.toml"), "")
	writeFile(t, filepath.Join(scripts, "b", "send.lua"), "x = \n")
	n, probs := Lint(scripts)
	if n != 2 || len(probs) != 2 {
		t.Errorf("lint: %d offers, %v; want 2 offers with a problem each", n, probs)
	}
}

// A hook takes webhooks only with a token: an offer with a hook script
// and no [hook] token does not load.
func TestHookNeedsToken(t *testing.T) {
	t.Parallel()
	_, acme := copyOffer(t)
	writeFile(t, filepath.Join(acme, "offer.toml"), "name = \"no hook section\"\n")
	writeFile(t, filepath.Join(acme, "hook.lua"), "return 'ok'\n")
	if _, errs := LoadOffer(acme); len(errs) != 1 || !strings.Contains(errs[0].Error(), "[hook] token is missing: hook.lua") {
		t.Errorf("errs %v", errs)
	}
}

// A reload retires the version it replaced: its idle Lua states are
// closed at once, and the state of a run still going on the old version
// is closed when that run ends instead of going back to a pool no offer
// uses any more.
func TestReloadRetiresTheReplacedVersion(t *testing.T) {
	t.Parallel()
	scripts, acme := copyOffer(t)
	writeFile(t, filepath.Join(acme, "hook.lua"), "local t = os.clock() while os.clock() - t < (slow or 0) do end return 'ok'\n")
	reg := NewRegistry(scripts)
	if _, err := reg.Reload(); err != nil {
		t.Fatal(err)
	}
	old, _ := reg.Offer("acme")
	run := func(o *Offer, seconds float64) error {
		return o.Pool.Run(context.Background(), o.Scripts["hook.lua"], func(e *script.Env) error {
			e.Globals.RawSetString("slow", lua.LNumber(seconds))
			return nil
		}, nil)
	}
	if err := run(old, 0); err != nil || old.Pool.Idle() != 1 {
		t.Fatalf("warm-up run: %v, %d idle states", err, old.Pool.Idle())
	}
	inFlight := make(chan error, 1)
	go func() { inFlight <- run(old, 0.3) }()
	for old.Pool.Idle() != 0 { // the run took the idle state
		time.Sleep(time.Millisecond)
	}
	writeFile(t, filepath.Join(acme, "hook.lua"), "return 'v2'\n")
	if _, err := reg.Reload(); err != nil {
		t.Fatal(err)
	}
	if now, _ := reg.Offer("acme"); now == old {
		t.Fatal("the reload kept the old version")
	}
	if err := <-inFlight; err != nil {
		t.Fatalf("the run in flight on the old version: %v", err)
	}
	if n := old.Pool.Idle(); n != 0 {
		t.Errorf("the replaced version's pool keeps %d states after its last run", n)
	}
}

// Load problems name files from the scripts folder, never the server's
// absolute path: the API, the journal and the log show them.
func TestLoadErrorsNameFilesFromTheScriptsFolder(t *testing.T) {
	t.Parallel()
	scripts, acme := copyOffer(t)
	writeFile(t, filepath.Join(acme, "check.lua"), "local a = = 1\n")
	reg := NewRegistry(scripts)
	if _, err := reg.Reload(); err != nil {
		t.Fatal(err)
	}
	errs := reg.Errors()["acme"]
	if len(errs) != 1 || errs[0].Error() != "acme/check.lua:1: syntax error near '='" {
		t.Errorf("load errors %q, want one naming acme/check.lua:1", errs)
	}
}

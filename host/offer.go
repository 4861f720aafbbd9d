// Package host runs the offers in scripts/: it loads each offer's
// offer.toml and Lua files into an immutable, versioned snapshot, keeps the
// snapshots in a registry that hot reload swaps atomically, and runs the
// scripts (host/script) against the store.
package host

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"leadhost/host/script"
	"leadhost/store"
)

// OfferConfig is an offer's offer.toml (SPEC §2). Unknown keys are errors.
type OfferConfig struct {
	Name          string                `toml:"name"`           // for humans
	Timezone      string                `toml:"timezone"`       // dates in macros; default UTC
	HoldDays      int                   `toml:"hold_days"`      // hold = true; default 7
	DefaultReason int                   `toml:"default_reason"` // status 5 without a reason; default 2 (changed mind: a cancel)
	TrashReason   int                   `toml:"trash_reason"`   // status 5 from a trash word; default 6 (trash or test)
	Delivery      *bool                 `toml:"delivery"`       // false: accept → 10 instead of 6
	Timeout       Duration              `toml:"timeout"`        // deadline of one script run; default 5s
	JournalDays   int                   `toml:"journal_days"`   // how long the journal keeps the offer's entries; default 30
	HTTPConns     int                   `toml:"http_conns"`     // connections http.request keeps to one host; default 64
	MemoryMB      int                   `toml:"memory_mb"`      // MiB one script run may hold; default 64
	LogKB         int                   `toml:"log_kb"`         // KiB of core.log and print one run may write; default 64
	LeadsPerRun   int                   `toml:"leads_per_run"`  // leads one hook run may add with core.lead.add; default 100
	Check         *CheckConfig          `toml:"check"`
	Send          *SendConfig           `toml:"send"`
	Hook          *HookConfig           `toml:"hook"`
	Postback      *PostbackConfig       `toml:"postback"`
	Notify        *NotifyConfig         `toml:"notify"`
	Words         map[string][]string   `toml:"words"` // extra status words by kind
	Goals         map[string]GoalConfig `toml:"goals"` // the offer's goals by code
}

// CheckConfig is [check]: how the partner's status API is asked (SPEC §3).
type CheckConfig struct {
	URL        string            `toml:"url"`
	Method     string            `toml:"method"` // GET or POST
	Format     string            `toml:"format"` // json | xml | form | serialize | text
	Batch      int               `toml:"batch"`  // leads a request in ID modes
	Days       int               `toml:"days"`   // days a request in dates mode
	Fields     map[string]string `toml:"fields"`
	Body       string            `toml:"body"` // form | json, on POST
	Headers    map[string]string `toml:"headers"`
	Processing *ModeConfig       `toml:"processing"`
	Accepted   *ModeConfig       `toml:"accepted"`
	Dates      *ModeConfig       `toml:"dates"`
}

// ModeConfig is one check mode's schedule.
type ModeConfig struct {
	Every   Duration `toml:"every"`
	Enabled *bool    `toml:"enabled"` // default true
}

// MaxSendConcurrency bounds send.concurrency.
const MaxSendConcurrency = 64

// SendConfig is [send]: how new leads go to the partner (SPEC §4).
type SendConfig struct {
	URL     string            `toml:"url"`
	Method  string            `toml:"method"`
	Format  string            `toml:"format"`
	Body    string            `toml:"body"`
	Fields  map[string]string `toml:"fields"`
	Headers map[string]string `toml:"headers"`
	Rate    float64           `toml:"rate"` // requests a second; 0: no limit
	// Concurrency is how many sends may be in flight to the partner at
	// once (1–64; 0 means 1): each lead's sends still go out one at a
	// time, in order.
	Concurrency int `toml:"concurrency"`
	// Idempotent says the partner recognises a repeated order (by our id
	// in a field, say), so a send whose outcome a crash left unknown may
	// be repeated; otherwise it is held for a person to decide.
	Idempotent bool `toml:"idempotent"`
}

// HookConfig is [hook].
type HookConfig struct {
	Token string `toml:"token"`
}

// PostbackConfig is [postback].
type PostbackConfig struct {
	Token string `toml:"token"`
	URL   string `toml:"url"`
	// Flows give a flow's own tracker URL ([postback.flows.<flow>] url),
	// used for leads whose fields.flow is that flow instead of URL.
	Flows map[string]FlowPostback `toml:"flows"`
}

// GoalConfig is one goal of [goals]: upsell = { name = "Upsell", pay =
// "300", wm = "150" }. A lead that reaches it (PATCH {"goal": "upsell"},
// core.lead.edit(id, {goal = "upsell"})) takes its payouts unless the
// edit sets them.
type GoalConfig struct {
	Name string `toml:"name"`
	Pay  string `toml:"pay"` // what the advertiser pays, a decimal
	WM   string `toml:"wm"`  // the webmaster's payout, a decimal
}

// FlowPostback is [postback.flows.<flow>]: where that flow's changes go.
type FlowPostback struct {
	URL string `toml:"url"`
}

// URLFor is the tracker URL for a lead of flow: the flow's own, else the
// offer's; "" when neither is set.
func (p *PostbackConfig) URLFor(flow string) string {
	if p == nil {
		return ""
	}
	if f, ok := p.Flows[flow]; ok && f.URL != "" && flow != "" {
		return f.URL
	}
	return p.URL
}

// ReportsChanges says the offer sends outgoing postbacks: a [postback]
// url, or a flow's.
func (c *OfferConfig) ReportsChanges() bool {
	if c.Postback == nil {
		return false
	}
	if c.Postback.URL != "" {
		return true
	}
	for _, f := range c.Postback.Flows {
		if f.URL != "" {
			return true
		}
	}
	return false
}

// NotifyConfig is [notify]: who is mailed when the offer fails, and how
// often at most (the server and sender default to serve's --smtp and
// --mail-from).
type NotifyConfig struct {
	To     []string `toml:"to"`
	Window Duration `toml:"window"` // at most one mail per window; default 15m
	Server string   `toml:"server"` // host:port
	From   string   `toml:"from"`
}

// Duration reads "10m", "5s", "3h" from TOML.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration like \"10m\"", b)
	}
	d.Duration = v
	return nil
}

// Offer is one loaded offer: immutable once made, replaced whole by a
// reload. Runs in flight keep the snapshot they started with.
type Offer struct {
	ID       string
	Dir      string
	Version  uint64 // increases with every load of any offer
	Hash     string // of the offer's files, to skip reloading what did not change
	Config   OfferConfig
	Location *time.Location
	Policy   store.OfferPolicy
	Words    *script.Words
	Scripts  map[string]*script.Script // by path inside the folder: "check.lua", "hooks/gc.lua"
	Pool     *script.Pool
	Loaded   time.Time
	// Modes are the check modes that run, with their intervals (CheckModes).
	Modes []CheckMode
}

// CheckMode is one status-check mode of an offer and how often it runs.
type CheckMode struct {
	Name  Mode
	Every time.Duration
}

// Default check intervals (SPEC §3).
const (
	DefaultProcessingEvery = 10 * time.Minute
	DefaultAcceptedEvery   = 3 * time.Hour
	DefaultDatesEvery      = time.Hour
)

// CheckModes says which modes of [check] run and how often. A mode given
// as a table runs unless enabled = false. A mode not given runs when the
// url or fields use its macros: ID macros ({idsl} {idel} {ids} {ide}) the
// processing and accepted modes, date macros the dates mode; when they
// use neither (prepare.lua builds the request), processing and accepted.
func (c *CheckConfig) CheckModes() []CheckMode {
	if c == nil {
		return nil
	}
	var usesIDs, usesDates bool
	note := func(tmpl string) {
		for _, name := range script.CheckMacros {
			if !strings.Contains(tmpl, "{"+name+"}") {
				continue
			}
			switch name {
			case "idsl", "idel", "ids", "ide":
				usesIDs = true
			default:
				usesDates = true
			}
		}
	}
	note(c.URL)
	for _, v := range c.Fields {
		note(v)
	}
	byDefault := map[Mode]bool{ModeProcessing: usesIDs || !usesDates, ModeAccepted: usesIDs || !usesDates, ModeDates: usesDates}
	var out []CheckMode
	for _, m := range []struct {
		name  Mode
		cfg   *ModeConfig
		every time.Duration
	}{{ModeProcessing, c.Processing, DefaultProcessingEvery}, {ModeAccepted, c.Accepted, DefaultAcceptedEvery}, {ModeDates, c.Dates, DefaultDatesEvery}} {
		on := byDefault[m.name]
		if m.cfg != nil {
			on = m.cfg.Enabled == nil || *m.cfg.Enabled
			if m.cfg.Every.Duration > 0 {
				m.every = m.cfg.Every.Duration
			}
		}
		if on {
			out = append(out, CheckMode{Name: m.name, Every: m.every})
		}
	}
	return out
}

// LoadError is one problem found loading an offer, with file and line.
type LoadError struct {
	File string
	Line int
	Msg  string
}

func (e *LoadError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

var goalCodePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

var offerIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidOfferID says id could name an offer: an offer folder's name is its
// id, lower-case letters, digits, '.', '_', '-', at most 64.
func ValidOfferID(id string) bool { return offerIDPattern.MatchString(id) }

// scriptFiles are the Lua files an offer may have (hooks/<name>.lua too).
var scriptFiles = map[string]bool{"check.lua": true, "prepare.lua": true, "send.lua": true, "hook.lua": true, "postback.lua": true}

// LoadOffer reads and checks the offer in dir. It returns every problem it
// finds, not only the first, so that lint shows them all.
func LoadOffer(dir string) (*Offer, []error) { return LoadOfferWith(dir, LoadOptions{}) }

// LoadOptions change what a load accepts.
type LoadOptions struct {
	// AllowPlaceholders accepts the examples' placeholder secrets
	// ("change-me…", YOUR_API_KEY): `leadhost test` runs an offer's cases
	// with nothing leaving the machine, so they need no real ones.
	AllowPlaceholders bool
	// Fence is where the offers' scripts may make requests (nil: public
	// addresses only); serve's comes from leadhost.toml and knows its
	// listeners.
	Fence *script.Fence
	// Governor is what the offers' script runs share (the largest run is
	// stopped under pressure, long runs take turns); nil: each offer its own.
	Governor *script.Governor
}

// LoadOfferWith is LoadOffer with options.
func LoadOfferWith(dir string, opts LoadOptions) (*Offer, []error) {
	files, err := readOffer(dir)
	if err != nil {
		return nil, []error{&LoadError{File: dir, Msg: err.Error()}}
	}
	return loadOffer(dir, files, opts)
}

// offerFile is one file of an offer folder, as read.
type offerFile struct {
	rel string // path inside the folder: "check.lua", "hooks/gc.lua"
	src []byte
	// shown is where the file is, from the offer folder, when it is not
	// rel: "next/check.lua" for a candidate's own file (candidate.go), so
	// that its errors and runs name the file a person edits.
	shown string
}

// name is the file's path inside the offer folder, as messages show it.
func (f offerFile) name() string {
	if f.shown != "" {
		return f.shown
	}
	return f.rel
}

// readOffer reads the files of an offer that matter (offerFiles).
func readOffer(dir string) ([]offerFile, error) {
	names, err := offerFiles(dir)
	if err != nil {
		return nil, err
	}
	files := make([]offerFile, 0, len(names))
	for _, rel := range names {
		src, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			return nil, err
		}
		files = append(files, offerFile{rel: rel, src: src})
	}
	return files, nil
}

// hashOffer identifies an offer's content, so that a rescan skips offers
// that did not change without compiling them.
func hashOffer(files []offerFile) string {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%d\x00", f.rel, len(f.src))
		if f.shown != "" {
			fmt.Fprintf(h, "%s\x00", f.shown)
		}
		h.Write(f.src)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// loadOffer checks and compiles an offer's files.
func loadOffer(dir string, files []offerFile, opts LoadOptions) (*Offer, []error) {
	id := filepath.Base(dir)
	o := &Offer{ID: id, Dir: dir, Scripts: map[string]*script.Script{}, Loaded: time.Now().UTC(), Hash: hashOffer(files)}
	var errs []error
	if !offerIDPattern.MatchString(id) {
		errs = append(errs, &LoadError{File: dir, Msg: "an offer folder's name is its id: lower-case letters, digits, '.', '_', '-', at most 64"})
	}
	hasConfig := false
	for _, f := range files {
		path := filepath.Join(dir, f.name())
		switch {
		case f.rel == "offer.toml":
			hasConfig = true
			errs = append(errs, o.configure(path, f.src, opts)...)
		case strings.HasSuffix(f.rel, ".lua"):
			if !scriptFiles[f.rel] && !(strings.HasPrefix(f.rel, "hooks/") && !strings.Contains(f.rel[len("hooks/"):], "/")) {
				errs = append(errs, &LoadError{File: path, Msg: "unknown script (check.lua, prepare.lua, send.lua, hook.lua, postback.lua, hooks/<name>.lua)"})
				continue
			}
			// Named from the scripts folder ("acme/check.lua"): history and
			// errors name it so, never the server's absolute path.
			s, err := script.Compile(id+"/"+filepath.ToSlash(f.name()), f.src)
			if err != nil {
				var ce *script.CompileError
				if errors.As(err, &ce) {
					errs = append(errs, &LoadError{File: path, Line: ce.Line, Msg: ce.Msg})
				} else {
					errs = append(errs, &LoadError{File: path, Msg: err.Error()})
				}
				continue
			}
			o.Scripts[f.rel] = s
		}
	}
	if !hasConfig {
		errs = append(errs, &LoadError{File: filepath.Join(dir, "offer.toml"), Msg: "missing: every offer needs one"})
	}
	if o.Config.Check != nil && !hasFile(files, "check.lua") {
		errs = append(errs, &LoadError{File: filepath.Join(dir, "check.lua"), Msg: "missing: [check] in offer.toml needs a check.lua to handle the answers"})
	}
	for _, f := range files {
		if (f.rel == "hook.lua" || strings.HasPrefix(f.rel, "hooks/")) && (o.Config.Hook == nil || o.Config.Hook.Token == "") {
			errs = append(errs, &LoadError{File: filepath.Join(dir, "offer.toml"), Msg: "[hook] token is missing: " + f.rel + " takes webhooks only with a token"})
			break
		}
	}
	if o.Config.Send != nil && !hasFile(files, "send.lua") {
		errs = append(errs, &LoadError{File: filepath.Join(dir, "send.lua"), Msg: "missing: [send] in offer.toml needs a send.lua to read the partner's reply"})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	c := o.Config
	o.Pool = script.NewPool(script.Limits{Timeout: c.Timeout.Duration, HTTPConns: c.HTTPConns, Fence: opts.Fence,
		Memory: int64(c.MemoryMB) << 20, LogBytes: c.LogKB << 10, Leads: c.LeadsPerRun, Governor: opts.Governor})
	return o, nil
}

func hasFile(files []offerFile, rel string) bool {
	for _, f := range files {
		if f.rel == rel {
			return true
		}
	}
	return false
}

// offerFiles lists the files of an offer that matter: offer.toml and
// .lua files, at the top or in hooks/. Tests and editors' droppings are
// left out.
func offerFiles(dir string) ([]string, error) {
	var out []string
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir() && name == "hooks":
			hooks, err := os.ReadDir(filepath.Join(dir, "hooks"))
			if err != nil {
				return nil, err
			}
			for _, h := range hooks {
				if !h.IsDir() && strings.HasSuffix(h.Name(), ".lua") && !strings.HasPrefix(h.Name(), ".") {
					out = append(out, "hooks/"+h.Name())
				}
			}
		case e.IsDir() || strings.HasPrefix(name, "."):
		case name == "offer.toml" || strings.HasSuffix(name, ".lua"):
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// decodeStrict decodes a TOML file into v (a pointer to a zero struct)
// and reports every unknown key, each with its line; then it decodes the
// known keys anyway, so that an unknown key does not hide the file's
// other problems. ok is false when nothing could be read.
func decodeStrict(path string, src []byte, v any) (errs []error, ok bool) {
	err := toml.NewDecoder(bytes.NewReader(src)).DisallowUnknownFields().Decode(v)
	var strict *toml.StrictMissingError
	var de *toml.DecodeError
	switch {
	case err == nil:
		return nil, true
	case errors.As(err, &strict):
		for _, e := range strict.Errors {
			line, _ := e.Position()
			errs = append(errs, &LoadError{File: path, Line: line, Msg: fmt.Sprintf("unknown key %q", strings.Join(e.Key(), "."))})
		}
		return errs, toml.Unmarshal(src, v) == nil
	case errors.As(err, &de):
		line, _ := de.Position()
		return []error{&LoadError{File: path, Line: line, Msg: de.Error()}}, false
	}
	return []error{&LoadError{File: path, Msg: err.Error()}}, false
}

// configure decodes offer.toml strictly and checks its values.
func (o *Offer) configure(path string, src []byte, opts LoadOptions) []error {
	errs, ok := decodeStrict(path, src, &o.Config)
	if !ok {
		return errs
	}
	var raw map[string]any // which keys the file gives, zero values included
	toml.Unmarshal(src, &raw)
	// bad reports a value's problem at the line of its key: the message
	// starts with the dotted key ("check.batch 0: …").
	bad := func(format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		key, _, _ := strings.Cut(msg, " ")
		errs = append(errs, &LoadError{File: path, Line: keyLine(src, strings.TrimRight(key, ":")), Msg: msg})
	}
	given := func(key string) bool { return lookupKey(raw, key) != nil }
	for _, k := range []struct {
		key   string
		value int
		want  string
	}{{"hold_days", o.Config.HoldDays, "1..3650"}, {"journal_days", o.Config.JournalDays, "1..3650"}, {"http_conns", o.Config.HTTPConns, "1..1024"},
		{"memory_mb", o.Config.MemoryMB, "1..1024"}, {"log_kb", o.Config.LogKB, "1..16384"}, {"leads_per_run", o.Config.LeadsPerRun, "1..100000"}} {
		if k.value == 0 && given(k.key) {
			bad("%s 0: want %s (leave it out for the default)", k.key, k.want)
		}
	}
	if ch := o.Config.Check; ch != nil {
		if ch.Batch == 0 && given("check.batch") {
			bad("check.batch 0: want 1..1000 (leave it out for the default)")
		}
		if ch.Days == 0 && given("check.days") {
			bad("check.days 0: want 1..366 (leave it out for the default)")
		}
	}
	if !opts.AllowPlaceholders {
		for _, key := range placeholderKeys(raw, "") {
			bad("%s: still the example's placeholder (%q): set your own before the offer goes live", key, placeholderIn(lookupKey(raw, key)))
		}
	}
	c := &o.Config
	o.Location = time.UTC
	if c.Timezone != "" {
		loc, err := time.LoadLocation(c.Timezone)
		if err != nil {
			bad("timezone %q: %v", c.Timezone, err)
		} else {
			o.Location = loc
		}
	}
	o.Policy = store.DefaultPolicy()
	if c.HoldDays < 0 || c.HoldDays > 3650 {
		bad("hold_days %d: want 1..3650", c.HoldDays)
	} else if c.HoldDays > 0 {
		o.Policy.HoldDays = c.HoldDays
	}
	for _, r := range []struct {
		key   string
		value int
		dst   *store.Reason
	}{{"default_reason", c.DefaultReason, &o.Policy.DefaultReason}, {"trash_reason", c.TrashReason, &o.Policy.TrashReason}} {
		if r.value == 0 {
			continue
		}
		if _, ok := store.StandardReasons().Lookup(store.Reason(r.value)); !ok {
			bad("%s %d: not a known reason", r.key, r.value)
		}
		*r.dst = store.Reason(r.value)
	}
	if c.Delivery != nil {
		o.Policy.Delivery = *c.Delivery
	}
	if c.JournalDays < 0 || c.JournalDays > 3650 {
		bad("journal_days %d: want 1..3650", c.JournalDays)
	}
	if c.HTTPConns < 0 || c.HTTPConns > 1024 {
		bad("http_conns %d: want 1..1024", c.HTTPConns)
	}
	for _, k := range []struct {
		key        string
		value, max int
	}{{"memory_mb", c.MemoryMB, 1024}, {"log_kb", c.LogKB, 16384}, {"leads_per_run", c.LeadsPerRun, 100000}} {
		if k.value < 0 || k.value > k.max {
			bad("%s %d: want 1..%d", k.key, k.value, k.max)
		}
	}
	if c.Timeout.Duration < 0 || c.Timeout.Duration > time.Minute {
		bad("timeout %s: want up to 1m", c.Timeout.Duration)
	}
	if ch := c.Check; ch != nil {
		checkHTTP(bad, "check", ch.URL, ch.Method, ch.Format, ch.Body)
		if ch.Batch < 0 || ch.Batch > 1000 {
			bad("check.batch %d: want 1..1000", ch.Batch)
		}
		if ch.Days < 0 || ch.Days > 366 {
			bad("check.days %d: want 1..366", ch.Days)
		}
		for name, m := range map[string]*ModeConfig{"processing": ch.Processing, "accepted": ch.Accepted, "dates": ch.Dates} {
			if m != nil && m.Every.Duration != 0 && m.Every.Duration < time.Minute {
				bad("check.%s.every %s: at least 1m", name, m.Every.Duration)
			}
		}
		if err := script.CheckMacroError("check.url", ch.URL, script.CheckMacros); err != nil {
			bad("%v", err)
		}
		for k, v := range ch.Fields {
			if err := script.CheckMacroError("check.fields."+k, v, script.CheckMacros); err != nil {
				bad("%v", err)
			}
		}
		o.Modes = ch.CheckModes()
	}
	if s := c.Send; s != nil {
		checkHTTP(bad, "send", s.URL, s.Method, s.Format, s.Body)
		if s.Rate < 0 {
			bad("send.rate %v: negative", s.Rate)
		}
		if s.Concurrency < 0 || s.Concurrency > MaxSendConcurrency {
			bad("send.concurrency %d: out of 1–%d", s.Concurrency, MaxSendConcurrency)
		}
		if err := script.CheckMacroError("send.url", s.URL, script.SendMacros); err != nil {
			bad("%v", err)
		}
		for k, v := range s.Fields {
			if err := script.CheckMacroError("send.fields."+k, v, script.SendMacros); err != nil {
				bad("%v", err)
			}
		}
	}
	if pb := c.Postback; pb != nil {
		urls := map[string]string{}
		if pb.URL != "" {
			urls["postback.url"] = pb.URL
		}
		for flow, f := range pb.Flows {
			urls["postback.flows."+flow+".url"] = f.URL
		}
		for key, u := range urls {
			if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
				bad("%s %q: want http:// or https://", key, u)
			}
			if err := script.CheckMacroError(key, u, script.PostbackMacros); err != nil {
				bad("%v", err)
			}
		}
	}
	if nc := c.Notify; nc != nil {
		if len(nc.To) == 0 {
			bad("notify.to: who should be mailed?")
		}
		for _, to := range nc.To {
			if !strings.Contains(to, "@") {
				bad("notify.to %q: not an e-mail address", to)
			}
		}
		if nc.Window.Duration != 0 && nc.Window.Duration < time.Minute {
			bad("notify.window %s: at least 1m", nc.Window.Duration)
		}
	}
	for code, g := range c.Goals {
		if !goalCodePattern.MatchString(code) {
			bad("goals.%s: a goal's code is letters, digits, '_', '-', '.', at most 64", code)
			continue
		}
		gp := store.GoalPolicy{Name: g.Name}
		for _, m := range []struct {
			key, text string
			dst       *store.Money
		}{{"pay", g.Pay, &gp.Pay}, {"wm", g.WM, &gp.WM}} {
			if m.text == "" {
				continue
			}
			v, err := store.ParseMoney(m.text)
			if err != nil || v.Sign() < 0 {
				bad("goals.%s.%s %q: want a decimal, not negative", code, m.key, m.text)
				continue
			}
			*m.dst = v
		}
		if o.Policy.Goals == nil {
			o.Policy.Goals = map[string]store.GoalPolicy{}
		}
		o.Policy.Goals[code] = gp
	}
	words, err := script.StandardWords().With(c.Words)
	if err != nil {
		bad("%v", err)
	}
	o.Words = words
	return errs
}

// placeholder finds the examples' placeholder secrets: "change-me…"
// tokens and YOUR_API_KEY-like parts of URLs.
var placeholder = regexp.MustCompile(`(?i)change-me[a-z0-9-]*|\bYOUR_[A-Z_]+\b`)

func placeholderIn(v any) string {
	s, _ := v.(string)
	return placeholder.FindString(s)
}

// placeholderKeys lists the dotted keys whose text values hold a
// placeholder, sorted.
func placeholderKeys(m map[string]any, prefix string) []string {
	var out []string
	for k, v := range m {
		switch v := v.(type) {
		case map[string]any:
			out = append(out, placeholderKeys(v, prefix+k+".")...)
		case string:
			if placeholder.MatchString(v) {
				out = append(out, prefix+k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// lookupKey is the value at a dotted key of a decoded TOML file, nil
// when the file does not give it.
func lookupKey(m map[string]any, key string) any {
	var v any = m
	for _, part := range strings.Split(key, ".") {
		t, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = t[part]
	}
	return v
}

// keyLine is the line of offer.toml where a dotted key is given ("check.batch"
// in [check], or "check.processing.every" in its inline table), 0 when it
// cannot tell.
func keyLine(src []byte, key string) int {
	parts := strings.Split(key, ".")
	table := ""
	for i, line := range strings.Split(string(src), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			table = strings.Trim(line, "[] ")
			continue
		}
		name, _, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		name = strings.Trim(strings.TrimSpace(name), `"`)
		for n := len(parts); n > 0; n-- { // the longest table that holds the key
			if strings.Join(parts[:n-1], ".") == table && parts[n-1] == name {
				return i + 1
			}
		}
	}
	return 0
}

func checkHTTP(bad func(string, ...any), section, url, method, format, body string) {
	if url == "" {
		bad("%s.url is missing", section)
	} else if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		bad("%s.url %q: want http:// or https://", section, url)
	}
	switch strings.ToUpper(method) {
	case "", "GET", "POST":
	default:
		bad("%s.method %q: want GET or POST", section, method)
	}
	switch format {
	case "", "json", "xml", "form", "serialize", "text":
	default:
		bad("%s.format %q: want json, xml, form, serialize or text", section, format)
	}
	switch body {
	case "", "form", "json":
	default:
		bad("%s.body %q: want form or json", section, body)
	}
}

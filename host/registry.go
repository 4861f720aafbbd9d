package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"leadhost/host/script"
	"leadhost/store"
)

// Registry holds the loaded offers. Readers get immutable snapshots; a
// reload builds new ones and swaps them in at once, so a run never sees
// half an offer.
type Registry struct {
	// Options are how the offers load (set before the first Reload).
	Options LoadOptions

	dir     string
	mu      sync.Mutex // serialises reloads (and promotes, reload included)
	version atomic.Uint64
	state   atomic.Pointer[registryState]
	// rename moves a promoted file into place (nil: os.Rename); tests
	// make it fail part-way.
	rename func(oldpath, newpath string) error
}

type registryState struct {
	offers     map[string]*Offer
	errors     map[string][]error    // of the last load attempt of each offer that failed
	candidates map[string]*Candidate // staged versions (next/), loaded or not
}

// NewRegistry makes an empty registry for the scripts folder dir.
func NewRegistry(dir string) *Registry {
	r := &Registry{dir: dir}
	r.state.Store(&registryState{offers: map[string]*Offer{}, errors: map[string][]error{}, candidates: map[string]*Candidate{}})
	return r
}

// Dir is the scripts folder, each offer a folder in it.
func (r *Registry) Dir() string { return r.dir }

// Offer returns the offer's current snapshot.
func (r *Registry) Offer(id string) (*Offer, bool) {
	o, ok := r.state.Load().offers[id]
	return o, ok
}

// Offers returns the current snapshots, by id.
func (r *Registry) Offers() []*Offer {
	st := r.state.Load()
	out := make([]*Offer, 0, len(st.offers))
	for _, o := range st.offers {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// IDs returns the ids of the offers loaded, sorted.
func (r *Registry) IDs() []string {
	offers := r.Offers()
	ids := make([]string, len(offers))
	for i, o := range offers {
		ids[i] = o.ID
	}
	return ids
}

// Known says whether id is an offer of the scripts folder: loaded, or
// there and failing to load.
func (r *Registry) Known(id string) bool {
	st := r.state.Load()
	_, loaded := st.offers[id]
	_, failing := st.errors[id]
	return loaded || failing
}

// Problems are the problems of the offer's last failed load as text
// ("acme/check.lua:3: …"); none when it loaded.
func (r *Registry) Problems(id string) []string {
	errs := r.Errors()[id]
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}

// Errors returns, per offer, the problems of its last failed load. An
// offer listed here may still run on its previous version.
func (r *Registry) Errors() map[string][]error { return r.state.Load().errors }

// Policy gives the store an offer's edit settings (store.Policies).
func (r *Registry) Policy(offer string) store.OfferPolicy {
	if o, ok := r.Offer(offer); ok {
		return o.Policy
	}
	return store.DefaultPolicy()
}

// Reload scans the scripts folder. An offer whose files changed is loaded
// anew and swapped in if it is valid; if not, its previous version keeps
// running and the problems are kept in Errors. A folder that is gone
// unloads its offer. It returns what changed, for the log.
func (r *Registry) Reload() (changes []string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reload()
}

// reload is Reload, r.mu held.
func (r *Registry) reload() (changes []string, err error) {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("scripts folder: %w", err)
	}
	if r.Options.Governor == nil {
		r.Options.Governor = script.NewGovernor(0, 0) // one for every offer's runs
	}
	old := r.state.Load()
	next := &registryState{offers: make(map[string]*Offer, len(old.offers)), errors: map[string][]error{}, candidates: map[string]*Candidate{}}
	for _, e := range entries {
		if !e.IsDir() || e.Name()[0] == '.' {
			continue
		}
		id := e.Name()
		prev := old.offers[id]
		dir := filepath.Join(r.dir, id)
		// The candidate first, on its own: whatever it holds, the live
		// version below loads (or keeps running) as if it were not there.
		if c := r.loadCandidate(dir, old.candidates[id]); c != nil {
			next.candidates[id] = c
		}
		if change := candidateChange(id, old.candidates[id], next.candidates[id]); change != "" {
			changes = append(changes, change)
		}
		var (
			o    *Offer
			errs []error
		)
		files, err := readOffer(dir)
		switch {
		case err != nil:
			errs = []error{&LoadError{File: dir, Msg: err.Error()}}
		case prev != nil && hashOffer(files) == prev.Hash:
			next.offers[id] = prev // unchanged: keep the version and its warm pool
			continue
		default:
			o, errs = loadOffer(dir, files, r.Options)
		}
		r.relative(errs)
		switch {
		case len(errs) > 0:
			next.errors[id] = errs
			if prev != nil {
				next.offers[id] = prev
			}
			if !sameErrors(old.errors[id], errs) {
				changes = append(changes, fmt.Sprintf("%s: not loaded (%d problems), %s", id, len(errs), keptVersion(prev)))
			}
		default:
			o.Version = r.version.Add(1)
			next.offers[id] = o
			changes = append(changes, fmt.Sprintf("%s: loaded version %d", id, o.Version))
		}
	}
	for id := range old.offers {
		if _, ok := next.offers[id]; !ok {
			changes = append(changes, id+": unloaded (folder gone)")
		}
	}
	r.state.Store(next)
	// The versions replaced or unloaded are retired once the new state is
	// in place: their idle Lua states go now, those of runs in flight
	// when the runs end.
	for id, prev := range old.offers {
		if next.offers[id] != prev {
			prev.Pool.Close()
		}
	}
	for id, prev := range old.candidates {
		if next.candidates[id] != prev && prev.Offer != nil {
			prev.Offer.Pool.Close()
		}
	}
	return changes, nil
}

// relative names the files of load errors from the scripts folder
// ("acme/check.lua:3: …"): the API, the journal and the log show them to
// people who need not know where the server keeps its scripts.
func (r *Registry) relative(errs []error) {
	for _, err := range errs {
		if le, ok := err.(*LoadError); ok {
			if rel, err := filepath.Rel(r.dir, le.File); err == nil && !strings.HasPrefix(rel, "..") {
				le.File = filepath.ToSlash(rel)
			}
		}
	}
}

func keptVersion(prev *Offer) string {
	if prev == nil {
		return "nothing to fall back on"
	}
	return fmt.Sprintf("version %d keeps running", prev.Version)
}

func sameErrors(a, b []error) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Error() != b[i].Error() {
			return false
		}
	}
	return true
}

// Lint loads every offer under dir (a scripts folder, or one offer's
// folder) afresh and returns every problem found, with those of the
// leadhost.toml beside a scripts folder.
func Lint(dir string) (offers int, problems []error) {
	if _, err := os.Stat(filepath.Join(dir, "offer.toml")); err == nil {
		return 1, lintOffer(dir) // one offer's folder
	}
	if _, errs := LoadSettings(SettingsPath(dir)); len(errs) > 0 && !errors.Is(errs[0], os.ErrNotExist) {
		problems = append(problems, errs...)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, []error{fmt.Errorf("scripts folder: %w", err)}
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name()[0] == '.' {
			continue
		}
		offers++
		problems = append(problems, lintOffer(filepath.Join(dir, e.Name()))...)
	}
	return offers, problems
}

// lintOffer loads the offer in dir and, when it stages one, its candidate
// in next/ (as serve would run it in shadow), so a broken candidate is
// found before promote refuses it.
func lintOffer(dir string) []error {
	_, problems := LoadOffer(dir)
	files, _, err := readCandidate(dir)
	switch {
	case err != nil:
		problems = append(problems, &LoadError{File: filepath.Join(dir, NextDir), Msg: err.Error()})
	case files != nil:
		_, errs := loadOffer(dir, files, LoadOptions{})
		problems = append(problems, errs...)
	}
	return problems
}

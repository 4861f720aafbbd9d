package host

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// NextDir is the folder inside an offer's folder that stages a candidate
// version: any of the offer's files (offer.toml, the .lua files, hooks/)
// put there replace the live ones in the candidate; those not there are
// the live version's. The candidate runs in shadow beside the live
// version (host/shadow) until it is promoted (Promote) or next/ deleted.
const NextDir = "next"

// PrevDir is where Promote keeps the live files a promote replaced, so
// that a mistake can be undone by hand.
const PrevDir = ".prev"

// ErrNoCandidate is an offer without a candidate that loads: no next/
// folder, or one with load errors. A promote or a replay of it is refused.
var ErrNoCandidate = errors.New("no candidate")

// noCandidate is an ErrNoCandidate whose message says it all: which
// offer, and what is missing or does not load.
type noCandidate struct{ msg string }

func (e *noCandidate) Error() string        { return e.msg }
func (e *noCandidate) Is(target error) bool { return target == ErrNoCandidate }

func noCandidatef(format string, a ...any) error { return &noCandidate{fmt.Sprintf(format, a...)} }

// Candidate is an offer's staged version, loaded from next/ over the
// live files. It never replaces the live version by itself, and a
// candidate that does not load leaves the live version as it is.
type Candidate struct {
	// Offer is the candidate loaded (its ID the live offer's), nil when
	// it does not load.
	Offer *Offer
	// Errors are its load problems, its own files named as they are
	// ("acme/next/check.lua:3: …").
	Errors []error
	// Files are the files next/ holds, by their path inside it.
	Files []string
	hash  string
}

// Problems are the candidate's load problems as text, none when it loads.
func (c *Candidate) Problems() []string {
	out := make([]string, len(c.Errors))
	for i, e := range c.Errors {
		out[i] = e.Error()
	}
	return out
}

// Candidate returns the offer's staged version, if next/ holds one.
func (r *Registry) Candidate(id string) (*Candidate, bool) {
	c, ok := r.state.Load().candidates[id]
	return c, ok
}

// LoadedCandidate is the offer's candidate, or ErrNoCandidate saying why
// there is none to run: no next/ folder, or its load problems.
func (r *Registry) LoadedCandidate(offer string) (*Offer, error) {
	c, ok := r.Candidate(offer)
	switch {
	case !ok:
		return nil, noCandidatef("offer %s has no candidate: put the files to try in scripts/%s/%s/", offer, offer, NextDir)
	case c.Offer == nil:
		return nil, noCandidatef("offer %s's candidate does not load: %s", offer, strings.Join(c.Problems(), "; "))
	}
	return c.Offer, nil
}

// readCandidate reads the files of the candidate staged in dir/next: the
// live files with next/'s in their place. No next/ folder: nil, nil.
func readCandidate(dir string) (files []offerFile, own []string, err error) {
	next := filepath.Join(dir, NextDir)
	if fi, err := os.Stat(next); errors.Is(err, fs.ErrNotExist) || (err == nil && !fi.IsDir()) {
		return nil, nil, nil
	}
	staged, err := readOffer(next)
	if err != nil {
		return nil, nil, err
	}
	live, err := readOffer(dir)
	if err != nil {
		return nil, nil, err
	}
	byRel := make(map[string]offerFile, len(live)+len(staged))
	for _, f := range live {
		byRel[f.rel] = f
	}
	for _, f := range staged {
		f.shown = NextDir + "/" + f.rel
		byRel[f.rel] = f
		own = append(own, f.rel)
	}
	for _, f := range byRel {
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	return files, own, nil
}

// loadCandidate loads the candidate of the offer in dir, keeping prev
// (and its warm pool) when its files did not change. It returns nil when
// the offer stages none.
func (r *Registry) loadCandidate(dir string, prev *Candidate) *Candidate {
	files, own, err := readCandidate(dir)
	switch {
	case err != nil:
		errs := []error{&LoadError{File: filepath.Join(dir, NextDir), Msg: err.Error()}}
		r.relative(errs)
		return &Candidate{Errors: errs}
	case files == nil:
		return nil
	}
	hash := hashOffer(files)
	if prev != nil && prev.hash == hash {
		return prev
	}
	o, errs := loadOffer(dir, files, r.Options)
	r.relative(errs)
	c := &Candidate{Offer: o, Errors: errs, Files: own, hash: hash}
	if o != nil {
		o.Version = r.version.Add(1)
	}
	return c
}

// candidateChange says what a reload did to an offer's candidate, for the
// log and the journal ("" when nothing).
func candidateChange(id string, prev, next *Candidate) string {
	switch {
	case prev == next:
		return ""
	case next == nil:
		return id + ": candidate (next/) dropped"
	case next.Offer == nil:
		if prev != nil && prev.Offer == nil && sameErrors(prev.Errors, next.Errors) {
			return ""
		}
		return fmt.Sprintf("%s: candidate (next/) not loaded (%d problems)", id, len(next.Errors))
	}
	return fmt.Sprintf("%s: candidate (next/) loaded version %d", id, next.Offer.Version)
}

// Candidates returns the staged versions, loaded or not, by offer id.
func (r *Registry) Candidates() map[string]*Candidate { return r.state.Load().candidates }

package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Promoted is what a promote did.
type Promoted struct {
	Offer string `json:"offer"`
	// Files are next/'s files, now live, by their path in the offer folder.
	Files []string `json:"files"`
	// Kept are the live files they replaced, now in .prev/ (a file next/
	// added replaced none).
	Kept []string `json:"kept"`
	// Version is the offer's live version after the reload.
	Version uint64 `json:"version"`
	// Changes are what the promote's reload changed, this offer's and any
	// other's it found (Reload's): the caller hands them to whatever
	// hears the watcher's reloads, which will find nothing more to do.
	Changes []string `json:"-"`
}

// Promote makes the offer's candidate live: the bytes of next/'s files
// that were checked to load are written over the live ones, the live
// files replaced are kept in .prev/ (emptied first: it holds the last
// promote's), next/ is removed, and the offers reload. A candidate that
// does not load, read afresh from the disk, is refused (ErrNoCandidate)
// and nothing is moved.
//
// All of it holds the reload lock, the reload too: a reload (the
// watcher's) sees the files all moved or none, never a mix of the two
// versions, and cannot take the promote's changes for its own. Every new
// file is written beside its place first, then each renamed over the
// live one; a rename that fails puts back the live files from .prev/ and
// removes those next/ added, so that a failure part-way leaves the live
// version as it was.
func (r *Registry) Promote(id string) (Promoted, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := Promoted{Offer: id, Files: []string{}, Kept: []string{}}
	if err := r.promoteFiles(id, &out); err != nil {
		return out, err
	}
	changes, err := r.reload()
	out.Changes = changes
	if err != nil {
		return out, err
	}
	if o, ok := r.Offer(id); ok {
		out.Version = o.Version
	}
	if problems := r.Problems(id); len(problems) > 0 {
		// Loaded as a candidate, it loads as the live version: this is
		// a race with a person editing the files meanwhile.
		return out, fmt.Errorf("offer %s: promoted, and the new files do not load (the previous version keeps running): %s", id, strings.Join(problems, "; "))
	}
	return out, nil
}

// promoteFiles moves the candidate's files; r.mu held.
func (r *Registry) promoteFiles(id string, out *Promoted) error {
	if !ValidOfferID(id) {
		return noCandidatef("offer %q has no candidate", id)
	}
	dir := filepath.Join(r.dir, id)
	files, own, err := readCandidate(dir)
	switch {
	case err != nil:
		return noCandidatef("offer %s: reading its candidate: %v", id, r.hidePaths(err))
	case files == nil:
		return noCandidatef("offer %s has no candidate: put the files to try in scripts/%s/%s/", id, id, NextDir)
	}
	o, errs := loadOffer(dir, files, r.Options)
	if len(errs) > 0 {
		r.relative(errs)
		text := make([]string, len(errs))
		for i, e := range errs {
			text[i] = e.Error()
		}
		return noCandidatef("offer %s's candidate does not load: %s", id, strings.Join(text, "; "))
	}
	o.Pool.Close() // loaded only to be checked
	if len(own) == 0 {
		return noCandidatef("offer %s's %s/ folder holds no offer files (offer.toml, .lua, hooks/)", id, NextDir)
	}
	// The bytes checked above, not next/'s files read again: a save
	// meanwhile would promote what was never loaded.
	checked := make(map[string][]byte, len(own))
	for _, f := range files {
		if f.shown != "" {
			checked[f.rel] = f.src
		}
	}
	prev := filepath.Join(dir, PrevDir)
	if err := os.RemoveAll(prev); err != nil {
		return fmt.Errorf("offer %s: emptying %s: %w", id, PrevDir, r.hidePaths(err))
	}
	kept := map[string][]byte{}
	for _, rel := range own {
		live := filepath.Join(dir, filepath.FromSlash(rel))
		if old, err := os.ReadFile(live); err == nil {
			if err := writeAtomic(filepath.Join(prev, filepath.FromSlash(rel)), old); err != nil {
				return fmt.Errorf("offer %s: keeping %s in %s/ (nothing promoted): %w", id, rel, PrevDir, r.hidePaths(err))
			}
			kept[rel] = old
			out.Kept = append(out.Kept, rel)
		}
	}
	temps := make([]string, len(own))
	removeTemps := func() {
		for _, tmp := range temps {
			if tmp != "" {
				os.Remove(tmp)
			}
		}
	}
	for i, rel := range own {
		tmp, err := writeTemp(filepath.Join(dir, filepath.FromSlash(rel)), checked[rel])
		if err != nil {
			removeTemps()
			return fmt.Errorf("offer %s: writing %s (nothing promoted): %w", id, rel, r.hidePaths(err))
		}
		temps[i] = tmp
	}
	rename := r.rename
	if rename == nil {
		rename = os.Rename
	}
	for i, rel := range own {
		if err := rename(temps[i], filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
			removeTemps()
			err = fmt.Errorf("offer %s: promoting %s: %w", id, rel, r.hidePaths(err))
			if rerr := r.restore(dir, own[:i], kept); rerr != nil {
				return fmt.Errorf("%w; and putting the live files back failed (they are in %s/): %v", err, PrevDir, rerr)
			}
			return fmt.Errorf("%w; the live files are as they were", err)
		}
		temps[i] = ""
		out.Files = append(out.Files, rel)
	}
	if err := os.RemoveAll(filepath.Join(dir, NextDir)); err != nil {
		return fmt.Errorf("offer %s: promoted, and removing %s/ failed: %w", id, NextDir, r.hidePaths(err))
	}
	return nil
}

// restore undoes the renames of a promote that failed part-way: the live
// files replaced get their bytes back, those next/ added are removed.
func (r *Registry) restore(dir string, moved []string, kept map[string][]byte) error {
	var errs []error
	for _, rel := range moved {
		path := filepath.Join(dir, filepath.FromSlash(rel))
		if old, ok := kept[rel]; ok {
			errs = append(errs, writeAtomic(path, old))
		} else {
			errs = append(errs, os.Remove(path))
		}
	}
	return r.hidePaths(errors.Join(errs...))
}

// hidePaths is err with the scripts folder left out of the paths it
// names: a promote's errors reach API callers and the journal, who need
// not know where the server keeps its scripts ("acme/check.lua", not
// "/srv/leadhost/scripts/acme/check.lua").
func (r *Registry) hidePaths(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, d := range []string{r.dir, filepath.Clean(r.dir)} {
		msg = strings.ReplaceAll(msg, d+string(filepath.Separator), "")
	}
	if msg == err.Error() {
		return err
	}
	return &pathless{msg: msg, err: err}
}

// pathless is an error shown without the scripts folder's path.
type pathless struct {
	msg string
	err error
}

func (e *pathless) Error() string { return e.msg }
func (e *pathless) Unwrap() error { return e.err }

// writeAtomic writes data to path through a temporary file in the same
// folder, synced and renamed over it.
func writeAtomic(path string, data []byte) error {
	tmp, err := writeTemp(path, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// writeTemp writes data, synced, to a temporary file beside path, to be
// renamed over it, and returns its name.
func writeTemp(path string, data []byte) (string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

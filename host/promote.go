package host

import (
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
}

// Promote makes the offer's candidate live: each of next/'s files is
// written over the live one (a temporary file renamed over it, so that a
// reader sees the old file or the new one, never half of one), the live
// files replaced are kept in .prev/ (emptied first: it holds the last
// promote's), next/ is removed, and the offers reload. A candidate that
// does not load, read afresh from the disk, is refused (ErrNoCandidate)
// and nothing is moved.
//
// The files move under the reload lock: a reload (the watcher's) sees
// them all moved or none, never a mix of the two versions.
func (r *Registry) Promote(id string) (Promoted, error) {
	out := Promoted{Offer: id, Files: []string{}, Kept: []string{}}
	if err := r.promoteFiles(id, &out); err != nil {
		return out, err
	}
	if _, err := r.Reload(); err != nil {
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

func (r *Registry) promoteFiles(id string, out *Promoted) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !ValidOfferID(id) {
		return noCandidatef("offer %q has no candidate", id)
	}
	dir := filepath.Join(r.dir, id)
	files, own, err := readCandidate(dir)
	switch {
	case err != nil:
		return noCandidatef("offer %s: reading its candidate: %v", id, err)
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
	prev := filepath.Join(dir, PrevDir)
	if err := os.RemoveAll(prev); err != nil {
		return fmt.Errorf("offer %s: emptying %s: %w", id, PrevDir, err)
	}
	for _, rel := range own {
		live := filepath.Join(dir, filepath.FromSlash(rel))
		if old, err := os.ReadFile(live); err == nil {
			if err := writeAtomic(filepath.Join(prev, filepath.FromSlash(rel)), old); err != nil {
				return fmt.Errorf("offer %s: keeping %s: %w", id, rel, err)
			}
			out.Kept = append(out.Kept, rel)
		}
	}
	for _, rel := range own {
		src, err := os.ReadFile(filepath.Join(dir, NextDir, filepath.FromSlash(rel)))
		if err == nil {
			err = writeAtomic(filepath.Join(dir, filepath.FromSlash(rel)), src)
		}
		if err != nil {
			return fmt.Errorf("offer %s: promoting %s (the files before it are live, those kept are in %s/): %w", id, rel, PrevDir, err)
		}
		out.Files = append(out.Files, rel)
	}
	if err := os.RemoveAll(filepath.Join(dir, NextDir)); err != nil {
		return fmt.Errorf("offer %s: promoted, and removing %s/ failed: %w", id, NextDir, err)
	}
	return nil
}

// writeAtomic writes data to path through a temporary file in the same
// folder, synced and renamed over it.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
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
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

package host

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// A promote whose renames fail part-way leaves the live version as it
// was: the files already moved get their bytes back, those next/ added
// are removed, no temporary file stays, and the error names files as the
// offer folder holds them, not where the server keeps its scripts. A
// promote that goes through writes the bytes that were checked to load,
// not next/'s files read again.
func TestPromoteAllOrNothing(t *testing.T) {
	t.Parallel()
	const (
		liveTOML = "[hook]\ntoken = \"a-long-token-for-the-tests\"\n"
		nextTOML = liveTOML + "\n[goals.upsell]\nname = \"Upsell\"\n"
		liveHook = "return {ok = true}\n"
		nextHook = "return {ok = true, v = 2}\n"
		newHook  = "return {ok = 'new'}\n"
	)
	for _, tc := range []struct {
		name   string
		failAt int32 // the rename that fails, 1-based; 0: none
		// meanwhile runs at the first rename: a person saving next/
		// while the promote runs.
		meanwhile func(offer string)
		want      map[string]string // the offer folder's files after; "" absent
		err       string
	}{
		{"fails at the last rename", 3, nil,
			map[string]string{"offer.toml": liveTOML, "hook.lua": liveHook, "hooks/new.lua": "", "next/hook.lua": nextHook},
			"promoting offer.toml"},
		{"fails at the first rename", 1, nil,
			map[string]string{"offer.toml": liveTOML, "hook.lua": liveHook, "hooks/new.lua": "", "next/offer.toml": nextTOML},
			"promoting hook.lua"},
		{"goes through, next/ saved meanwhile", 0, func(offer string) {
			os.WriteFile(filepath.Join(offer, NextDir, "offer.toml"), []byte("not = [toml"), 0o644)
		}, map[string]string{"offer.toml": nextTOML, "hook.lua": nextHook, "hooks/new.lua": newHook, ".prev/hook.lua": liveHook, "next/hook.lua": ""}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			offer := filepath.Join(dir, "pb")
			for rel, src := range map[string]string{"offer.toml": liveTOML, "hook.lua": liveHook,
				"next/offer.toml": nextTOML, "next/hook.lua": nextHook, "next/hooks/new.lua": newHook} {
				os.MkdirAll(filepath.Dir(filepath.Join(offer, rel)), 0o755)
				os.WriteFile(filepath.Join(offer, rel), []byte(src), 0o644)
			}
			reg := NewRegistry(dir)
			if _, err := reg.Reload(); err != nil {
				t.Fatal(err)
			}
			var n atomic.Int32
			reg.rename = func(oldpath, newpath string) error {
				if n.Add(1) == 1 && tc.meanwhile != nil {
					tc.meanwhile(offer)
				}
				if n.Load() == tc.failAt {
					return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: errors.New("no space left on device")}
				}
				return os.Rename(oldpath, newpath)
			}
			_, err := reg.Promote("pb")
			switch {
			case tc.err == "" && err != nil:
				t.Fatal(err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one saying %q", err, tc.err)
			case err != nil && strings.Contains(err.Error(), dir):
				t.Errorf("the error names the server's scripts folder: %v", err)
			}
			for rel, want := range tc.want {
				got, rerr := os.ReadFile(filepath.Join(offer, filepath.FromSlash(rel)))
				if want == "" && rerr == nil {
					t.Errorf("%s is there: %q", rel, got)
				} else if want != "" && string(got) != want {
					t.Errorf("%s: %q, want %q", rel, got, want)
				}
			}
			filepath.WalkDir(offer, func(path string, d os.DirEntry, err error) error {
				if err == nil && strings.Contains(d.Name(), ".tmp-") {
					t.Errorf("a temporary file is left: %s", path)
				}
				return nil
			})
		})
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every example offer's cases pass; a copy of one with a wrong status
// mapping fails with a diff a person can read.
func TestTestCommand(t *testing.T) {
	t.Parallel()
	code, out, errOut := leadhost(t, "", "test", "../../scripts")
	if code != exitOK || !strings.Contains(out, " 0 failed") {
		t.Fatalf("the examples' cases: exit %d\n%s%s", code, out, errOut)
	}
	for _, offer := range []string{"altercpa", "keyedcrm", "phpshop", "getcourse-offerum"} {
		if !strings.Contains(out, "ok    "+offer+"/tests/") {
			t.Errorf("%s has no passing case:\n%s", offer, out)
		}
	}

	broken := filepath.Join(t.TempDir(), "altercpa")
	copyDir(t, "../../scripts/altercpa", broken)
	lua, _ := os.ReadFile(filepath.Join(broken, "check.lua"))
	wrong := strings.Replace(string(lua), `core.lead.edit(id, { status = 5, comment = row.phase })`, `core.lead.edit(id, { status = 3, comment = row.phase })`, 1)
	if wrong == string(lua) {
		t.Fatal("the mapping to break is not in check.lua any more")
	}
	os.WriteFile(filepath.Join(broken, "check.lua"), []byte(wrong), 0o644)
	code, out, _ = leadhost(t, "", "test", broken)
	if code != exitError || !strings.Contains(out, "FAIL  altercpa/tests/stages.json") || !strings.Contains(out, "lead ext 9002: status is 3, want 5") {
		t.Errorf("the broken copy: exit %d\n%s", code, out)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	filepath.Walk(from, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
}

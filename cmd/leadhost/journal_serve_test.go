package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// `leadhost journal` takes the same flags beside a running serve as on a
// folder no serve holds: --limit past the API's page of 1000 (the store
// reads at most 1000 anyway, and the command's own "… more" hint
// doubles the limit each time) was refused through the serve with the
// API's "limit: want 1..1000", since the command passes it on unchanged.
func TestJournalCommandTakesTheSameLimitBesideAServe(t *testing.T) {
	t.Parallel()
	for _, through := range []string{"folder", "serve"} {
		t.Run(through, func(t *testing.T) {
			t.Parallel()
			data, scripts := filepath.Join(t.TempDir(), "data"), heldScripts(t)
			holdSends(t, data, scripts, 1)
			if through == "serve" {
				startTestHost(t, data, scripts)
			}
			if code, out, errOut := leadhost(t, "", "journal", "--limit", "2000", "--data", data); code != exitOK || strings.Contains(errOut, "limit") {
				t.Errorf("journal --limit 2000 %s: exit %d\n%s%s", through, code, out, errOut)
			}
		})
	}
}

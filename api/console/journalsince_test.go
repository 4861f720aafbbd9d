package console_test

import (
	"strings"
	"testing"

	"leadhost/api"
)

// TestJournalPageTakesSinceAsTheAPIDoes holds the journal page's since
// filter to GET /api/journal's: a duration at or below zero is refused,
// not read as a time still to come (an empty page), and an RFC 3339 time
// is taken.
func TestJournalPageTakesSinceAsTheAPIDoes(t *testing.T) {
	t.Parallel()
	a := openApp(t)
	base := serve(t, &api.Server{App: a, APIToken: adminToken})
	b := newBrowser(t, base)
	b.signIn(adminToken)
	cases := []struct {
		since string
		code  int
		says  string
	}{
		{"-1h", 400, "above zero"},
		{"yesterday", 400, "RFC 3339"},
		{"1h", 200, ""},
		{"2026-12-07T06:00:00Z", 200, ""},
	}
	for _, c := range cases {
		p := b.get("/ui/journal?since=" + c.since)
		if p.code != c.code || !strings.Contains(p.body, c.says) {
			t.Errorf("since=%s: %d, want %d saying %q\n%s", c.since, p.code, c.code, c.says, p.body)
		}
	}
}

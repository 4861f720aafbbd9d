package console

import (
	"strings"
	"testing"

	"leadhost/host/app"
	"leadhost/host/shadow"
)

// The candidate section shows the differences masked as the journal
// does, and unmasked only when the page asks for raw=1; the caller's
// view is left as it was either way.
func TestCandidateOfMasksUnlessRaw(t *testing.T) {
	t.Parallel()
	const phone = "79001234567"
	v := &app.ShadowView{Offer: "acme", Candidate: &app.CandidateView{Version: 2},
		Differences: []shadow.Difference{{Input: "webhook hook.lua", Rows: []shadow.Row{{Lead: 7, What: "comment", Live: " → call " + phone, Candidate: "—"}}}}}
	for _, tc := range []struct {
		name  string
		raw   bool
		shown bool
	}{
		{"masked", false, false},
		{"raw", true, true},
	} {
		d := candidateOf(v, 10, tc.raw)
		if got := strings.Contains(d.Diffs[0].Rows[0].Live, phone); got != tc.shown || d.Raw != tc.raw {
			t.Errorf("%s: row %q, raw %v", tc.name, d.Diffs[0].Rows[0].Live, d.Raw)
		}
	}
	if !strings.Contains(v.Differences[0].Rows[0].Live, phone) {
		t.Error("candidateOf masked the caller's view")
	}
}

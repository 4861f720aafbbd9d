package app

import (
	"strings"
	"testing"
)

// TestCallSummary: an inbound call's journal line reads as before,
// whatever the path's length (a refused call's is cut to 200 bytes and
// an ellipsis, longer than the summary's stack buffer).
func TestCallSummary(t *testing.T) {
	long := "/hook/" + strings.Repeat("x", 300)
	for _, tc := range []struct {
		method, path string
		status       int
		want         string
	}{
		{"GET", "/hook/gc", 200, "GET /hook/gc → 200"},
		{"POST", "/postback/shop", 503, "POST /postback/shop → 503"},
		{"DELETE", long, 405, "DELETE " + long + " → 405"},
	} {
		if got := callSummary([]byte(tc.method), []byte(tc.path), tc.status); got != tc.want {
			t.Errorf("callSummary(%s, %.20s…, %d) = %.40q…, want %.40q…", tc.method, tc.path, tc.status, got, tc.want)
		}
	}
}

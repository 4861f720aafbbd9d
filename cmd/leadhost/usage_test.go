package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestFlagsOutOfRangeAreUsageErrors holds flags whose help names their
// choices or range to it: a value outside is a usage error (exit 2) that
// says what is taken, before any store is opened, not a value silently
// ignored or a failure of the command (exit 1).
func TestFlagsOutOfRangeAreUsageErrors(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	cases := []struct {
		args   []string
		stderr string
	}{
		{[]string{"shadow", "shop", "--last", "0"}, "--last 0: want 1..1000"},
		{[]string{"shadow", "shop", "--last", "-1"}, "--last -1: want 1..1000"},
		{[]string{"shadow", "shop", "--last", "1001"}, "--last 1001: want 1..1000"},
		{[]string{"held", "--outbox", "nope"}, `--outbox "nope": want send or postback`},
		{[]string{"held", "release", "mail", "1", "1"}, `outbox "mail": want send or postback`},
		{[]string{"held", "drop", "mail", "1", "1"}, `outbox "mail": want send or postback`},
	}
	for _, c := range cases {
		code, out, errOut := leadhost(t, "", append(c.args, "--data", data)...)
		if code != exitUsage || !strings.Contains(errOut, c.stderr) {
			t.Errorf("%q: exit %d, %q%q; want %d with %q", c.args, code, out, errOut, exitUsage, c.stderr)
		}
	}
}

// TestHelpSaysServeRunsWithoutAToken holds --api-token's help to serve's
// flag: serve runs without a token (loopback reads, the serve file's token
// for changes); the help said serve required one.
func TestHelpSaysServeRunsWithoutAToken(t *testing.T) {
	t.Parallel()
	_, out, errOut := leadhost(t, "", "--help")
	help := out + errOut
	if strings.Contains(help, "requires it") || !strings.Contains(help, "serve\n                   runs without one") {
		t.Errorf("leadhost --help on --api-token:\n%s", help)
	}
}

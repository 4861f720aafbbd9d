package main

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"
)

// TestBenchMixRunsAllThreeAtOnce: `leadhost bench mix` measures webhooks
// while check runs commit and the sender sends — all three really happen
// in the mixed phase, with no failed webhook and no failed run.
func TestBenchMixRunsAllThreeAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("a load of several seconds")
	}
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"bench", "mix", "-duration", "1s", "-concurrency", "8", "-leads", "400"}, nil, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s\n%s", code, errOut.String(), out.String())
	}
	text := out.String()
	for _, phase := range []string{"webhooks at full load", "webhooks at half load", "the same, under the mix"} {
		m := regexp.MustCompile(regexp.QuoteMeta(phase) + `.*\s(\d+)\n`).FindStringSubmatch(text)
		if m == nil || m[1] != "0" {
			t.Errorf("phase %q: errors %v\n%s", phase, m, text)
		}
	}
	m := regexp.MustCompile(`under the mix: (\d+) check runs, \d+ leads/s checked and committed \((\d+) run errors\); (\d+) sends`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no mix line:\n%s", text)
	}
	runs, _ := strconv.Atoi(m[1])
	sends, _ := strconv.Atoi(m[3])
	if runs == 0 || m[2] != "0" || sends == 0 {
		t.Errorf("under the mix: %s check runs, %s run errors, %s sends; want runs and sends, no errors\n%s", m[1], m[2], m[3], text)
	}
}

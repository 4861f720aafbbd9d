package guesslimit

import (
	"fmt"
	"testing"
	"time"
)

// A caller held back waits until its oldest wrong token of the five is
// ten minutes old, and no longer; a wrong token then holds it back again
// only once five are within the window.
func TestWindow(t *testing.T) {
	var l Limit
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for i := range Tries {
		l.Failed("a", t0.Add(time.Duration(i)*time.Minute))
	}
	for _, tc := range []struct {
		at   time.Duration
		want time.Duration
	}{
		{4 * time.Minute, 6 * time.Minute},
		{9*time.Minute + 30*time.Second, 30 * time.Second},
		{10 * time.Minute, 0},
	} {
		if got := l.Wait("a", t0.Add(tc.at)); got != tc.want {
			t.Errorf("at +%v: wait %v, want %v", tc.at, got, tc.want)
		}
	}
	l.Failed("a", t0.Add(10*time.Minute))
	if got := l.Wait("a", t0.Add(10*time.Minute)); got != time.Minute {
		t.Errorf("one more wrong token at +10m: wait %v, want 1m (the one at +1m is now the oldest of five)", got)
	}
	if got := l.Wait("b", t0); got != 0 {
		t.Errorf("another caller waits %v", got)
	}
}

// A caller's wrong tokens count however many other callers sent one: with
// 10,000 callers remembered (one wrong token each within the window:
// 10,000 requests per 10 minutes from as many addresses, or IPv6 /64s — a
// /48 has 65,536) a new caller's wrong tokens were not counted at all, so
// from then on it guessed without limit.
func TestAFullTableStillCountsANewGuesser(t *testing.T) {
	var l Limit
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for i := range callers {
		l.Failed(fmt.Sprintf("2001:db8:0:%x::/64", i), t0)
	}
	for i := range 10 * Tries {
		l.Failed("guesser", t0.Add(time.Duration(i)*time.Second))
	}
	if wait := l.Wait("guesser", t0.Add(time.Minute)); wait == 0 {
		t.Errorf("after %d wrong tokens in a minute, beside %d callers with one each: not held back", 10*Tries, callers)
	}
}

// Package guesslimit bounds how fast one caller may guess a token: the
// console's sign-in and the admin API's bearer token each keep a Limit.
package guesslimit

import (
	"sync"
	"time"
)

// Wrong tokens are bounded per caller (app.SourceOf: an address, an
// IPv6 /64): after Tries wrong ones within Window, the
// caller's next tries are refused unread until the oldest of them is
// that old — guessing a token takes years, while a person who mistyped
// waits minutes at most. Only the caller guessing is slowed: a lock for
// everyone would let anyone lock the operator out.
const (
	// Tries is how many wrong tokens a caller may send within Window.
	Tries = 5
	// Window is how long a wrong token counts against its caller.
	Window  = 10 * time.Minute
	callers = 10_000 // callers remembered at once
)

// Limit remembers each caller's recent wrong tokens. The zero Limit is
// ready to use.
type Limit struct {
	mu    sync.Mutex
	wrong map[string][]time.Time // oldest first, at most Tries
}

// Wait says how long caller must wait before its token is read again
// (0: now).
func (l *Limit) Wait(caller string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	times := l.recent(caller, now)
	if len(times) < Tries {
		return 0
	}
	return times[0].Add(Window).Sub(now)
}

// Failed counts a wrong token from caller.
func (l *Limit) Failed(caller string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.wrong == nil {
		l.wrong = map[string][]time.Time{}
	}
	if _, known := l.wrong[caller]; !known && len(l.wrong) >= callers {
		l.forgetOld(now)
		if len(l.wrong) >= callers {
			l.forgetLeast() // a flood of callers: the one that guessed least goes, not the count of the next
		}
	}
	times := append(l.recent(caller, now), now)
	if len(times) > Tries {
		times = times[len(times)-Tries:]
	}
	l.wrong[caller] = times
}

// Succeeded forgets caller's wrong tokens: a person who got it right is
// not held to their typos.
func (l *Limit) Succeeded(caller string) {
	l.mu.Lock()
	delete(l.wrong, caller)
	l.mu.Unlock()
}

// recent is caller's wrong tokens within the window (l.mu held).
func (l *Limit) recent(caller string, now time.Time) []time.Time {
	times := l.wrong[caller]
	for len(times) > 0 && now.Sub(times[0]) >= Window {
		times = times[1:]
	}
	if len(times) == 0 {
		delete(l.wrong, caller)
	}
	return times
}

// forgetOld drops the callers with no wrong token in the window (l.mu held).
func (l *Limit) forgetOld(now time.Time) {
	for caller := range l.wrong {
		l.recent(caller, now)
	}
}

// forgetLeast drops the caller with the fewest wrong tokens, the longest
// quiet of those (l.mu held): callers filling the table with a wrong token
// each push one another out, not a caller still guessing.
func (l *Limit) forgetLeast() {
	var (
		victim string
		least  []time.Time
	)
	for caller, times := range l.wrong {
		if least == nil || len(times) < len(least) ||
			(len(times) == len(least) && times[len(times)-1].Before(least[len(least)-1])) {
			victim, least = caller, times
		}
	}
	delete(l.wrong, victim)
}

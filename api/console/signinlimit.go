package console

import (
	"sync"
	"time"
)

// Wrong sign-in tokens are bounded per caller (app.SourceOf: an address,
// an IPv6 /64): after signInTries wrong ones within signInWindow, the
// caller's next tries are refused unread until the oldest of them is
// that old — guessing a token takes years, while a person who mistyped
// waits minutes at most. Only the caller guessing is slowed: a lock for
// everyone would let anyone lock the operator out.
const (
	signInTries   = 5
	signInWindow  = 10 * time.Minute
	signInCallers = 10_000 // callers remembered at once
)

// signInLimit remembers each caller's recent wrong tokens.
type signInLimit struct {
	mu    sync.Mutex
	wrong map[string][]time.Time // oldest first, at most signInTries
}

// wait says how long caller must wait before its token is read again
// (0: now).
func (l *signInLimit) wait(caller string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	times := l.recent(caller, now)
	if len(times) < signInTries {
		return 0
	}
	return times[0].Add(signInWindow).Sub(now)
}

// failed counts a wrong token from caller.
func (l *signInLimit) failed(caller string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.wrong == nil {
		l.wrong = map[string][]time.Time{}
	}
	if _, known := l.wrong[caller]; !known && len(l.wrong) >= signInCallers {
		l.forgetOld(now)
		if len(l.wrong) >= signInCallers {
			return // a flood from more callers than that: counting it is no use
		}
	}
	times := append(l.recent(caller, now), now)
	if len(times) > signInTries {
		times = times[len(times)-signInTries:]
	}
	l.wrong[caller] = times
}

// succeeded forgets caller's wrong tokens: a person who got it right is
// not held to their typos.
func (l *signInLimit) succeeded(caller string) {
	l.mu.Lock()
	delete(l.wrong, caller)
	l.mu.Unlock()
}

// recent is caller's wrong tokens within the window (l.mu held).
func (l *signInLimit) recent(caller string, now time.Time) []time.Time {
	times := l.wrong[caller]
	for len(times) > 0 && now.Sub(times[0]) >= signInWindow {
		times = times[1:]
	}
	if len(times) == 0 {
		delete(l.wrong, caller)
	}
	return times
}

// forgetOld drops the callers with no wrong token in the window (l.mu held).
func (l *signInLimit) forgetOld(now time.Time) {
	for caller := range l.wrong {
		l.recent(caller, now)
	}
}

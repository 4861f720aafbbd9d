// The circuit breaker: an offer whose partner keeps failing is left alone
// for a while, so that its backlog does not hammer a partner that is down.

package send

import (
	"sync"
	"time"
)

// breaker is the offer's circuit, made on first use.
func (s *Sender) breaker(offer string) *breaker {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.breakers[offer]
	if b == nil {
		b = &breaker{}
		s.breakers[offer] = b
	}
	return b
}

// Circuit says whether an offer's circuit is open, and until when.
func (s *Sender) Circuit(offer string) (open bool, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.breakers[offer]
	if b == nil {
		return false, time.Time{}
	}
	return b.state(s.now())
}

// breaker is an offer's circuit: after breakAfter partner failures in a
// row it opens for a minute, doubling with each failure while open up to
// ten; when the time is up one attempt goes through (half open), and a
// success closes it.
type breaker struct {
	mu        sync.Mutex
	fails     int
	openUntil time.Time
}

func (b *breaker) allow(now time.Time) bool {
	open, _ := b.state(now)
	return !open
}

// state says whether the circuit is open at now, and until when.
func (b *breaker) state(now time.Time) (open bool, until time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fails >= breakAfter && now.Before(b.openUntil), b.openUntil
}

// tripped says the circuit has opened and no success closed it since:
// open, or half open once its time is up.
func (b *breaker) tripped() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fails >= breakAfter
}

// failure counts a partner failure; opened says it opened the circuit
// (until then), for the log.
func (b *breaker) failure(now time.Time) (opened bool, until time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fails++
	if b.fails >= breakAfter {
		d := time.Minute << min(b.fails-breakAfter, 3)
		b.openUntil = now.Add(min(d, 10*time.Minute))
		return true, b.openUntil
	}
	return false, time.Time{}
}

// success closes the circuit; closed says it had been open.
func (b *breaker) success() (closed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	closed = b.fails >= breakAfter
	b.fails = 0
	b.openUntil = time.Time{}
	return closed
}

// partnerFailed counts a failure of offer's partner, and says so in the
// log when it opens the offer's circuit: from then on nothing goes to the
// partner until the time given.
func (s *Sender) partnerFailed(offer string) {
	if opened, until := s.breaker(offer).failure(s.now()); opened {
		s.log().Warn("circuit open: the partner keeps failing; no requests to it until then", "outbox", s.feed.Name(), "offer", offer, "until", until.UTC().Format(time.RFC3339))
	}
}

// partnerAnswered closes offer's circuit, saying so when it was open.
func (s *Sender) partnerAnswered(offer string) {
	if s.breaker(offer).success() {
		s.log().Info("circuit closed: the partner answers again", "outbox", s.feed.Name(), "offer", offer)
	}
}

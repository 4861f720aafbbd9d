package store

import "time"

// JournalTally is how many journal entries of one offer, kind and status
// were written within one hour: what a console counts without reading
// the entries themselves.
type JournalTally struct {
	Offer  string
	Hour   time.Time // the hour's start, UTC
	Kind   JournalKind
	Status JournalStatus
	N      int
}

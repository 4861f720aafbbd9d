package store

import (
	"errors"
	"strings"
)

// Errors callers branch on. Every error the store returns for a lead wraps
// one of these with a message that says what was wrong.
var (
	// ErrNotFound: no lead (or goal) with that id or key.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the input is malformed or out of range; nothing was written.
	ErrInvalid = errors.New("invalid")
	// ErrRefused: the input is well-formed but the edit rules forbid it (a
	// return from status ≥ 5 to 1..4, a lead of another offer). Nothing was
	// written; handlers report it and go on.
	ErrRefused = errors.New("refused")
	// ErrExists: a unique value (an offer's ext) belongs to another lead.
	ErrExists = errors.New("already exists")
	// ErrClaimed: a feed item was begun (or settled) by another sender
	// since it was read: that sender delivers it (Feed.Begin).
	ErrClaimed = errors.New("claimed by another sender")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store closed")
)

// Describe is err as a person reads it, the same words in the CLI and the
// admin API: the store's message, with the bare word of the sentinel it
// wraps at its end ("…: refused") replaced by a phrase.
func Describe(err error) string {
	msg := err.Error()
	for _, s := range []struct {
		err  error
		tail string
	}{
		{ErrInvalid, "invalid input"},
		{ErrRefused, "refused by the edit rules"},
		{ErrNotFound, "not found"},
		{ErrExists, "already exists"},
	} {
		if errors.Is(err, s.err) {
			return strings.TrimSuffix(msg, ": "+s.err.Error()) + " (" + s.tail + ")"
		}
	}
	return msg
}

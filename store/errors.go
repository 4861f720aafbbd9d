package store

import "errors"

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
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store closed")
)

//go:build !unix

package store

// openSpool keeps the journal's spool in memory where files cannot be
// mapped: entries still queued are lost with the process.
func openSpool(string) (*spool, error) { return memorySpool(spoolDisk), nil }

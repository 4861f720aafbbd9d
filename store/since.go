package store

import (
	"fmt"
	"time"
)

// ParseSince reads the start of a "since" filter as the journal's CLI and
// admin API both take it: a duration back from now ("1h", the last hour)
// or an RFC 3339 time. A duration of zero or less is refused rather than
// read as a time still to come (an empty answer) or as no filter (all of
// it): either would answer a question the person did not ask.
func ParseSince(text string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(text); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("since %q: want a duration back from now above zero, such as 1h: %w", text, ErrInvalid)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, text); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("since %q: want a duration back from now (1h) or a time like 2026-12-07T06:00:00Z (RFC 3339): %w", text, ErrInvalid)
}

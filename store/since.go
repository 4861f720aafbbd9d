package store

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// durationText is how time.ParseDuration's input looks: a text of that
// form it refuses is too long for it.
var durationText = regexp.MustCompile(`^[0-9]+(\.[0-9]*)?(ns|us|µs|ms|s|m|h)([0-9]+(\.[0-9]*)?(ns|us|µs|ms|s|m|h))*$`)

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
	// RFC 3339 lets the T and the Z be written in lower case; Go's
	// layout does not, and the layout has no other letters.
	if t, err := time.Parse(time.RFC3339, strings.ToUpper(text)); err == nil {
		return t, nil
	}
	if durationText.MatchString(text) {
		return time.Time{}, fmt.Errorf("since %q: longer than a duration can be (about 292 years); give the time instead, such as 2026-12-07T06:00:00Z: %w", text, ErrInvalid)
	}
	return time.Time{}, fmt.Errorf("since %q: want a duration back from now (1h) or a time like 2026-12-07T06:00:00Z (RFC 3339): %w", text, ErrInvalid)
}

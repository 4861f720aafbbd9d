package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that JSON carries as text ("10m", "1.5s",
// "830µs"): the form of every duration in the admin API and the journal.
// It reads that text back, and also a bare number of nanoseconds, the
// form journal entries were written in before.
type Duration time.Duration

// String is d as Go writes a duration, without zero units at its end
// ("10m", not "10m0s").
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalJSON writes d as text.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + d.String() + `"`), nil
}

// UnmarshalJSON reads text ("10m") or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var text string
		if err := json.Unmarshal(b, &text); err != nil {
			return err
		}
		v, err := time.ParseDuration(text)
		if err != nil {
			return fmt.Errorf("duration %q: want text like 10m or 1.5s: %w", text, ErrInvalid)
		}
		*d = Duration(v)
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("duration %s: want text like 10m or 1.5s: %w", b, ErrInvalid)
	}
	*d = Duration(n)
	return nil
}

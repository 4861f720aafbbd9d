package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseSinceTakesADurationBackOrATime(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)
	cases := []struct {
		text    string
		want    time.Time
		problem string // in the error, when refused
	}{
		{text: "1h", want: now.Add(-time.Hour)},
		{text: "90m", want: now.Add(-90 * time.Minute)},
		{text: "2026-12-07T06:00:00Z", want: time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)},
		{text: "2026-12-07T09:00:00+03:00", want: time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)},
		{text: "2026-12-07t06:00:00z", want: time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)}, // RFC 3339 allows lower case
		{text: "2562048h", problem: `since "2562048h": longer than a duration can be (about 292 years); give the time instead`},
		{text: "1h30x", problem: "or a time like"},
		{text: "-1h", problem: `since "-1h": want a duration back from now above zero, such as 1h`},
		{text: "0s", problem: "above zero"},
		{text: "yesterday", problem: `since "yesterday": want a duration back from now (1h) or a time like 2026-12-07T06:00:00Z (RFC 3339)`},
	}
	for _, c := range cases {
		got, err := ParseSince(c.text, now)
		if c.problem != "" {
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.problem) {
				t.Errorf("ParseSince(%q) = %v, %v; want an error with %q", c.text, got, err, c.problem)
			}
			continue
		}
		if err != nil || !got.Equal(c.want) {
			t.Errorf("ParseSince(%q) = %v, %v; want %v", c.text, got, err, c.want)
		}
	}
}

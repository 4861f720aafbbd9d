package store

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// TestDiskGuardSaysWhatIsTrue holds the disk guard's words to its state:
// under the reserve the store takes no leads, so the log must not say that
// leads are still stored, and a refused write names the reserve and the
// space free rather than "the disk is full" on a disk with gigabytes free
// (a --min-free-mb set above them).
func TestDiskGuardSaysWhatIsTrue(t *testing.T) {
	t.Parallel()
	const reserve = 100 << 20
	cases := []struct {
		name      string
		free      uint64
		logSays   []string
		logNot    []string
		addSays   string // in Add's error; "" when Add works
		addNotSay string
	}{
		{
			name:      "under the reserve",
			free:      50 << 20,
			logSays:   []string{"store read-only: under the --min-free-mb reserve", "journal paused with the store"},
			logNot:    []string{"leads are still stored", "disk is full", "nearly full"},
			addSays:   "under the --min-free-mb reserve: 50 MiB free, 100 MiB kept",
			addNotSay: "the disk is full",
		},
		{
			name:    "under twice the reserve",
			free:    150 << 20,
			logSays: []string{"journal paused: under twice the --min-free-mb reserve; leads are still stored"},
			logNot:  []string{"read-only", "nearly full"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var log syncBuffer
			s, _ := newTestStore(t, Options{Dir: t.TempDir(), GCInterval: -1, MinFreeDisk: reserve,
				Logger:    slog.New(slog.NewTextHandler(&log, nil)),
				FreeSpace: func() (uint64, error) { return c.free, nil }})
			s.checkDisk()
			_, _, err := s.Add(context.Background(), NewLead{Offer: "o"})
			switch {
			case c.addSays == "" && err != nil:
				t.Errorf("Add = %v, want it stored", err)
			case c.addSays != "" && (err == nil || !strings.Contains(err.Error(), c.addSays) || strings.Contains(err.Error(), c.addNotSay)):
				t.Errorf("Add = %v, want it to say %q and not %q", err, c.addSays, c.addNotSay)
			}
			got := log.String()
			for _, want := range c.logSays {
				if !strings.Contains(got, want) {
					t.Errorf("log lacks %q:\n%s", want, got)
				}
			}
			for _, not := range c.logNot {
				if strings.Contains(got, not) {
					t.Errorf("log says %q:\n%s", not, got)
				}
			}
		})
	}
}

// syncBuffer is a bytes.Buffer a logger may write from any goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

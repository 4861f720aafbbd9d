package host

import (
	"context"
	"leadhost/host/hosttest"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWatchLogsALoadErrorOnce holds the scripts watcher to one line per
// problem: not again for what the registry's loader already reported
// (serve's start logged each twice, once by app.Open and once here), and
// not again at every rescan while the offer stays as broken as it was; a
// new problem is logged when it appears.
func TestWatchLogsALoadErrorOnce(t *testing.T) {
	t.Parallel()
	for _, loaded := range []bool{true, false} {
		name := map[bool]string{true: "loaded before", false: "loaded by Watch"}[loaded]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			scripts, acme := copyOffer(t)
			writeFile(t, filepath.Join(acme, "offer.toml"), "name = \"acme\"\nretries = 3\n")
			reg := NewRegistry(scripts)
			if loaded {
				if _, err := reg.Reload(); err != nil {
					t.Fatal(err)
				}
			}
			var log hosttest.SyncBuffer
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				reg.Watch(ctx, slog.New(slog.NewTextHandler(&log, nil)), WatchOptions{Rescan: 10 * time.Millisecond, Debounce: 5 * time.Millisecond})
			}()
			time.Sleep(150 * time.Millisecond) // many rescans
			want := 1
			if loaded {
				want = 0 // its loader reported it
			}
			if got := strings.Count(log.String(), `retries`); got != want {
				t.Errorf("the unknown key logged %d times, want %d:\n%s", got, want, log.String())
			}
			writeFile(t, filepath.Join(acme, "offer.toml"), "name = \"acme\"\ncolour = 3\n")
			waitFor(t, "the new problem logged", func() bool { return strings.Contains(log.String(), "colour") })
			time.Sleep(100 * time.Millisecond)
			if got := strings.Count(log.String(), "colour"); got != 1 {
				t.Errorf("the new unknown key logged %d times, want 1:\n%s", got, log.String())
			}
			cancel()
			<-done
		})
	}
}

package host

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// WatchOptions tune hot reload; zero values are the defaults.
type WatchOptions struct {
	// Debounce gathers the burst of events one save makes (editors write
	// a temporary file and rename it over the old one). Default 100 ms.
	Debounce time.Duration
	// Rescan reloads on a timer too, for file systems whose events get
	// lost (network mounts, some containers). Default 30 s.
	Rescan time.Duration
	// OnReload, if set, hears what each reload changed or why it failed.
	OnReload func(changes []string, err error)
}

// Watch loads the registry, then reloads it whenever a file under its
// folder changes, until ctx ends. A load that fails is logged and reported
// through OnReload; watching goes on and the previous versions keep
// running.
func (r *Registry) Watch(ctx context.Context, log *slog.Logger, opts WatchOptions) error {
	if opts.Debounce <= 0 {
		opts.Debounce = 100 * time.Millisecond
	}
	if opts.Rescan <= 0 {
		opts.Rescan = 30 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	watched := map[string]bool{}
	// fsnotify watches one folder, not its tree: watch the scripts folder,
	// each offer folder and its hooks/, and its candidate's (next/,
	// next/hooks/).
	sync := func() {
		want := map[string]bool{r.dir: true}
		if entries, err := os.ReadDir(r.dir); err == nil {
			for _, e := range entries {
				if e.IsDir() && e.Name()[0] != '.' {
					offer := filepath.Join(r.dir, e.Name())
					want[offer] = true
					for _, sub := range []string{"hooks", NextDir, filepath.Join(NextDir, "hooks")} {
						if fi, err := os.Stat(filepath.Join(offer, sub)); err == nil && fi.IsDir() {
							want[filepath.Join(offer, sub)] = true
						}
					}
				}
			}
		}
		// Add every wanted folder each time: a folder deleted and made
		// again within one debounce lost its watch with the old inode,
		// and adding one that is watched already is harmless.
		for dir := range want {
			w.Add(dir)
		}
		for dir := range watched {
			if !want[dir] {
				w.Remove(dir) // may already be gone with its folder
			}
		}
		watched = want
	}
	// A problem is logged when it appears, not at each rescan while the
	// offer stays broken; those the registry held before Watch were
	// reported by whoever loaded it (app.Open logs them).
	reported := problemLines(r.Errors())
	reload := func(why string) {
		// Watch first, so that files written into a new folder while it
		// loads are not missed.
		sync()
		changes, err := r.Reload()
		for _, c := range changes {
			log.Info("scripts: "+c, "why", why)
		}
		now := problemLines(r.Errors())
		for line, id := range now {
			if _, ok := reported[line]; !ok {
				log.Warn("scripts: "+line, "offer", id)
			}
		}
		reported = now
		if opts.OnReload != nil && (len(changes) > 0 || err != nil) {
			opts.OnReload(changes, err)
		}
	}
	reload("start")

	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	rescan := time.NewTicker(opts.Rescan)
	defer rescan.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("scripts watcher closed")
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			debounce.Reset(opts.Debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("scripts watcher closed")
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				reload("events lost: rescan")
			} else {
				log.Warn("scripts watcher", "err", err)
			}
		case <-debounce.C:
			reload("files changed")
		case <-rescan.C:
			reload("periodic rescan")
		}
	}
}

// problemLines are the registry's load problems as their lines, each with
// its offer.
func problemLines(errs map[string][]error) map[string]string {
	lines := make(map[string]string)
	for id, list := range errs {
		for _, e := range list {
			lines[e.Error()] = id
		}
	}
	return lines
}

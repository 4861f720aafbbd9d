package app

import (
	"context"
	"fmt"
	"strings"

	"leadhost/host"
	"leadhost/store"
)

// Promote makes the offer's candidate live (host.Registry.Promote) for a
// person (by: ByAPI, ByConsole, ByCLI …) and journals it before saying
// so; the shadow counts start again. What its reload changed goes where
// the watcher's reloads go (reloaded): the new goals are defined, the
// changes journaled, another offer's picked up on the way too. A promote
// refused (no candidate, or one that does not load) wraps
// host.ErrNoCandidate.
func (a *App) Promote(ctx context.Context, offer, by string) (host.Promoted, error) {
	if _, err := a.Offer(offer); err != nil {
		return host.Promoted{}, err
	}
	p, err := a.Offers.Promote(offer)
	if len(p.Changes) > 0 {
		a.reloaded(ctx, p.Changes, nil)
	}
	if len(p.Files) > 0 {
		a.Shadows.Reset(offer)
		e := store.JournalEntry{Offer: offer, Kind: store.KindReload, Status: store.JournalOK, Version: p.Version,
			Summary: fmt.Sprintf("%s: candidate (%s/) promoted by %s: %s live, the files replaced kept in %s/", offer, host.NextDir, by,
				strings.Join(p.Files, ", "), host.PrevDir)}
		if err != nil {
			e.Status, e.Summary = store.JournalError, e.Summary+"; "+err.Error()
		}
		a.recordAction(e)
	}
	return p, err
}

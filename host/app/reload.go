package app

import (
	"context"
	"strings"
)

// reloaded is what follows a reload of the offers that changed some:
// the new goals get their ids, the shadow counts of a candidate that
// changed start again, and the journal says what changed. The watcher's
// reloads come here, and a promote's too (Promote): a promote reloads by
// itself, and the watcher's reload after it finds nothing to hand over,
// so that a goal the promoted offer.toml added stayed undefined, and
// other offers' changes that reload picked up were never journaled.
func (a *App) reloaded(ctx context.Context, changes []string, err error) {
	if err == nil {
		if gerr := defineGoals(ctx, a.Store, a.Offers); gerr != nil {
			a.log.Error("defining the offers' goals", "err", gerr)
		}
	}
	for _, c := range changes {
		if offer, ok := strings.CutSuffix(c, ": candidate (next/) dropped"); ok {
			a.Shadows.Reset(offer) // what was counted was the candidate's that is gone
		} else if offer, _, ok := strings.Cut(c, ": candidate (next/) loaded"); ok {
			a.Shadows.Reset(offer)
		}
	}
	if len(changes) > 0 || err != nil {
		a.Store.Record(reloadEntries(a.Offers, changes, err)...)
	}
	if len(changes) > 0 {
		a.nudgeHeartbeat() // the other nodes learn this one's versions now
	}
}

package app

import (
	"context"
	"fmt"

	"leadhost/store"
)

// HeldItems lists what an outbox (send.Feed, send.PostbackFeed) holds for
// a person, oldest lead first, up to 1,000, as stored (the caller masks
// what it shows). store.ErrNotFound: no such outbox.
func (a *App) HeldItems(ctx context.Context, outbox string) ([]store.FeedItem, error) {
	ob, err := a.outbox(outbox)
	if err != nil {
		return nil, err
	}
	return ob.Feed.Held(ctx, 1000)
}

// ReleaseHeld puts the item an outbox (send.Feed, send.PostbackFeed)
// holds for a person back to be delivered, for that person (by: ByAPI,
// ByConsole), journals it and wakes the outbox. The admin API and the
// console both release through it. store.ErrNotFound: no such outbox, or
// nothing held for that lead and revision.
func (a *App) ReleaseHeld(ctx context.Context, outbox string, lead uint64, rev uint32, by string) (store.FeedItem, error) {
	ob, err := a.outbox(outbox)
	if err != nil {
		return store.FeedItem{}, err
	}
	it, err := ob.Feed.Release(ctx, lead, rev)
	if err != nil {
		return store.FeedItem{}, err
	}
	a.recordAction(heldEntry(by, outbox, "released", it))
	if ob.Sender != nil {
		ob.Sender.Wake() // out now, not at the next poll
	}
	return it, nil
}

// DropHeld removes the item an outbox holds for a person for good: it is
// not delivered, the lead stays as it is. It journals who dropped it and
// what was known of it. The admin API and the console both drop through
// it. store.ErrNotFound: no such outbox, or nothing held.
func (a *App) DropHeld(ctx context.Context, outbox string, lead uint64, rev uint32, by string) (store.FeedItem, error) {
	ob, err := a.outbox(outbox)
	if err != nil {
		return store.FeedItem{}, err
	}
	it, err := ob.Feed.Drop(ctx, lead, rev)
	if err != nil {
		return store.FeedItem{}, err
	}
	a.recordAction(heldEntry(by, outbox, "dropped", it))
	return it, nil
}

// outbox is the app's outbox of that name.
func (a *App) outbox(name string) (Outbox, error) {
	for _, ob := range a.Outboxes() {
		if ob.Name == name {
			return ob, nil
		}
	}
	return Outbox{}, fmt.Errorf("no outbox %q (send, postback): %w", name, store.ErrNotFound)
}

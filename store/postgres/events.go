package postgres

import (
	"sync"

	"leadhost/store"
)

// Subscribe calls fn after each status change this process committed,
// one call at a time: fn must return quickly and must not call the
// store's writing methods. Changes other processes make are not heard
// (a Feed carries every change, durably).
func (s *Store) Subscribe(fn func(store.Event)) (cancel func()) { return s.subs.add(fn) }

// subscribers are Subscribe's functions.
type subscribers struct {
	mu   sync.Mutex // held while calling them: one call at a time, as Badger's committer makes them
	next int
	fns  map[int]func(store.Event)
}

func (b *subscribers) add(fn func(store.Event)) func() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fns == nil {
		b.fns = make(map[int]func(store.Event))
	}
	id := b.next
	b.next++
	b.fns[id] = fn
	return func() {
		b.mu.Lock()
		delete(b.fns, id)
		b.mu.Unlock()
	}
}

// publish tells the subscribers of committed events.
func (s *Store) publish(events []store.Event) {
	if len(events) == 0 {
		return
	}
	s.subs.mu.Lock()
	defer s.subs.mu.Unlock()
	for _, ev := range events {
		for _, fn := range s.subs.fns {
			fn(ev)
		}
	}
}

package storetest

import (
	"fmt"
	"sync"
	"testing"

	"leadhost/store"
)

// testSubscribe: a subscriber hears each committed status change once, in
// the order of the lead's history, and nothing after it cancels.
func testSubscribe(t *testing.T, b Backend) {
	f := open(t, b, store.Options{})
	all := watch(f)
	var (
		mu    sync.Mutex
		other = map[uint64]int{} // a second subscriber's events by lead
	)
	heard := func(id uint64) int {
		mu.Lock()
		defer mu.Unlock()
		return other[id]
	}
	cancel := f.s.Subscribe(func(ev store.Event) {
		mu.Lock()
		other[ev.LeadID]++
		mu.Unlock()
	})

	l := f.add(store.NewLead{Offer: "acme", By: "hook:acme"})
	f.edit(l.ID, store.Patch{Status: ptr(store.StatusProcessing), By: "script:acme/send.lua"})
	f.edit(l.ID, store.Patch{Comment: ptr("no event")})
	f.edit(l.ID, store.Patch{Status: ptr(store.StatusProcessing)}) // changes nothing
	if _, err := f.s.Edit(f.ctx, l.ID, store.Patch{Status: ptr(store.StatusNew)}); err != nil {
		t.Fatal(err) // 2 → 1 is allowed: both before the call
	}
	f.edit(l.ID, store.Patch{Accept: true, By: "postback"})
	if _, err := f.s.Edit(f.ctx, l.ID, store.Patch{Status: ptr(store.StatusCallback)}); err == nil {
		t.Fatal("6 → 3 accepted")
	}
	f.edit(l.ID, store.Patch{Status: ptr(store.StatusCancel), Reason: ptr(store.ReasonFraud)})
	all.wait(t, l.ID, 5)
	all.settle(f)
	evs := all.of(l.ID)
	want := "[1 0→1 hook:acme] [2 1→2 script:acme/send.lua] [4 2→1 api] [5 1→6 approved postback] [6 6→5 reason 12 api]"
	if got := eventsText(evs); got != want {
		t.Errorf("events %s\nwant   %s", got, want)
	}
	for _, ev := range evs {
		if ev.Offer != "acme" || ev.At.IsZero() {
			t.Errorf("event %+v", ev)
		}
	}

	// Every subscriber hears every change; cancelled, it hears no
	// change made after, and the others still do.
	eventually(t, "the second subscriber hears the 5 events", func() bool { return heard(l.ID) == 5 })
	cancel()
	m := f.add(store.NewLead{Offer: "acme"})
	all.wait(t, m.ID, 1)
	all.settle(f)
	if n := heard(m.ID); n != 0 {
		t.Errorf("a cancelled subscriber heard %d events of a lead added after", n)
	}
}

// eventsText shows events as "[rev from→to … by]".
func eventsText(evs []store.Event) string {
	out := ""
	for i, ev := range evs {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprintf("[%d %d→%d", ev.Rev, ev.From, ev.To)
		if ev.Reason != 0 {
			out += fmt.Sprintf(" reason %d", ev.Reason)
		}
		if ev.Approved {
			out += " approved"
		}
		out += " " + ev.By + "]"
	}
	return out
}

package api

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"leadhost/store"
)

// A webhook is in flight, for the check runs that give way to it
// (host.Pressure), from its arrival until it is answered: the store's
// event of its new lead, published while the call waits for its add,
// finds a call in flight; once answered, none is.
func TestWebhookIsInFlightUntilAnswered(t *testing.T) {
	t.Parallel()
	a := openApp(t, "testdata/scripts")
	passed := make(chan time.Time)
	close(passed) // a rest ends at once: only whether it was taken counts
	a.Pressure.After = func(time.Duration) <-chan time.Time { return passed }
	rested := func() bool {
		before := a.Pressure.Stats().Rests
		a.Pressure.Rest(context.Background(), time.Millisecond)
		return a.Pressure.Stats().Rests > before
	}
	atAdd := make(chan bool, 1)
	a.Store.Subscribe(func(store.Event) { atAdd <- rested() })
	base := serve(t, &Server{App: a, Log: slog.New(slog.DiscardHandler)})

	code, _, body := call(t, "POST", base+"/hook/shop?token=s3cret", "application/json", strings.NewReader(`{"order":"P1","phone":"7999"}`), nil)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if !<-atAdd {
		t.Error("a check run did not give way to a webhook waiting for its add")
	}
	if rested() {
		t.Error("a check run gave way with no webhook in flight")
	}
}

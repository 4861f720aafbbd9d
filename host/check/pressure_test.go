package check

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"leadhost/host"
	"leadhost/store"
)

// pressureRun is a processing run of 120 leads in batches of 50 (three
// requests) whose check.lua notes "seen" on every lead asked about.
func pressureRun(t *testing.T) (*Runner, *host.Offer, func() int) {
	t.Helper()
	p := startPartner(t, func(w http.ResponseWriter, _ asked) { w.Write([]byte(`[]`)) })
	o := offerAt(t, "../../scripts/altercpa", p.URL, map[string]string{
		"check.lua": `for _, id in pairs(e2i) do core.lead.edit(id, { comment = "seen" }) end`,
	})
	st := openStore(t, nil)
	for i := range 120 {
		addLeads(t, st, "altercpa", store.StatusProcessing, time.Time{}, fmt.Sprint(10000+i))
	}
	return newRunner(st), o, func() int { return len(p.Requests()) }
}

// seen counts the leads check.lua's edits reached, as committed.
func seen(t *testing.T, st store.Store) int {
	t.Helper()
	page, err := st.List(context.Background(), store.Query{Offer: "altercpa", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range page.Leads {
		if l.Comment == "seen" {
			n++
		}
	}
	return n
}

// With no webhook in flight a run never rests; under webhooks that never
// end it rests after every answer, each rest ending at its bound, and
// the run still asks about every lead.
func TestCheckRunRestsOnlyUnderWebhooks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		inFlight  bool
		wantRests int64
	}{
		{"no webhook in flight", false, 0},
		{"webhooks in flight throughout", true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, o, requests := pressureRun(t)
			passed := make(chan time.Time)
			close(passed) // every rest's bound passes at once
			r.Pressure = &host.Pressure{After: func(time.Duration) <-chan time.Time { return passed }}
			if tc.inFlight {
				defer r.Pressure.Enter()()
			}
			rep := r.Run(context.Background(), o, host.ModeProcessing, Options{})
			if rep.Err != nil {
				t.Fatal(rep.Err)
			}
			if rep.Leads != 120 || requests() != 3 {
				t.Errorf("asked about %d leads in %d requests, want 120 in 3", rep.Leads, requests())
			}
			if n := r.Pressure.Stats().Rests; n != tc.wantRests {
				t.Errorf("%d rests, want %d", n, tc.wantRests)
			}
		})
	}
}

// With a webhook in flight the run's next page waits (the rest's bound
// never passes here) until the webhook is done, then the run goes on
// without resting again.
func TestCheckRunWaitsForWebhooksInFlight(t *testing.T) {
	t.Parallel()
	r, o, requests := pressureRun(t)
	resting := make(chan time.Duration, 1)
	r.Pressure = &host.Pressure{After: func(d time.Duration) <-chan time.Time { resting <- d; return nil }}
	leave := r.Pressure.Enter()
	done := make(chan *Report, 1)
	go func() { done <- r.Run(context.Background(), o, host.ModeProcessing, Options{}) }()
	select {
	case d := <-resting:
		if d <= 0 || d > host.DefaultMaxRest {
			t.Errorf("rests up to %s", d)
		}
	case rep := <-done:
		t.Fatalf("the run ended (%d requests, err %v) without waiting for the webhook in flight", requests(), rep.Err)
	}
	if n := requests(); n != 1 {
		t.Fatalf("%d requests before the rest ended, want 1 (the next page waits)", n)
	}
	if n := seen(t, r.Store); n != 50 { // resting beside the commit would give the calls nothing
		t.Errorf("%d leads' edits committed when the rest began, want the first page's 50", n)
	}
	leave()
	rep := <-done
	if rep.Err != nil || rep.Leads != 120 || requests() != 3 {
		t.Fatalf("run: %v, %d leads in %d requests, want 120 in 3", rep.Err, rep.Leads, requests())
	}
	if n := r.Pressure.Stats().Rests; n != 1 {
		t.Errorf("%d rests, want 1", n)
	}
	if n := seen(t, r.Store); n != 120 {
		t.Errorf("%d leads edited, want 120", n)
	}
}

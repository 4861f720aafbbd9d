package console

import (
	"context"
	"sort"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/host"
	"leadhost/host/app"
	"leadhost/host/check"
	"leadhost/host/send"
	"leadhost/store"
)

// offerHealth is one offer's line on the overview.
type offerHealth struct {
	ID, Name string
	Version  uint64
	Problems []string
	Checks   []check.Schedule
	// Hours are its webhook calls and errors (of any kind) by hour, the
	// last 24 h, oldest first; Counted is false while the journal is
	// still being counted after a start.
	Hours     [hoursShown]hourCount
	Counted   bool
	Errors24h int
	Calls24h  int
	MaxCalls  int
	Chart     []chartBar
	Leads     statusBar
	Outboxes  []outboxHealth
	// Nodes are each live node's version of the offer when they differ
	// (several nodes on one PostgreSQL store).
	Nodes []app.NodeOfferVersion
}

// outboxHealth is an offer's part of one outbox.
type outboxHealth struct {
	Name        string
	Pending     int
	Held        int
	CircuitOpen bool
	OpenUntil   time.Time
}

// statusBar is an offer's leads by status, drawn as one bar.
type statusBar struct {
	Total int
	Parts []barPart
}

// barPart is one status's share of the bar.
type barPart struct {
	Status store.Status
	Count  int
	X, W   float64 // in percent of the bar
}

// Bounds of what the overview reads per offer, so that it stays quick on
// a big store: past them it says "N+".
const (
	errorsCounted   = 1000
	outboxesCounted = 10_000
)

// overview is /ui/: every offer with its health at a glance.
func (cs *Console) overview(r *request) {
	rows, err := cs.offersHealth(r)
	if err != nil {
		r.failErr(err)
		return
	}
	r.render(fasthttp.StatusOK, "overview", r.T("overview.title"), rows, "", "")
}

func (cs *Console) offersHealth(ctx context.Context) ([]offerHealth, error) {
	a := cs.App
	counts, err := cs.leadCounts(ctx)
	if err != nil {
		return nil, err
	}
	type outboxCounts struct {
		name          string
		pending, held map[string]int
		circuit       func(string) (bool, time.Time)
	}
	var outboxes []outboxCounts
	for _, ob := range a.Outboxes() {
		oc := outboxCounts{name: ob.Name, pending: map[string]int{}}
		pending, err := ob.Feed.Pending(ctx, outboxesCounted)
		if err != nil {
			return nil, err
		}
		for _, it := range pending {
			oc.pending[it.Offer]++
		}
		if oc.held, err = ob.Held(ctx); err != nil {
			return nil, err
		}
		if ob.Sender != nil {
			oc.circuit = ob.Sender.Circuit
		}
		outboxes = append(outboxes, oc)
	}
	schedules := a.Checks.Schedules()
	versions, err := a.OfferVersions(ctx)
	if err != nil {
		return nil, err
	}
	ids := map[string]*host.Offer{}
	for _, o := range a.Offers.Offers() {
		ids[o.ID] = o
	}
	for id := range a.Offers.Errors() {
		if _, ok := ids[id]; !ok {
			ids[id] = nil
		}
	}
	now := time.Now()
	var rows []offerHealth
	for id, o := range ids {
		row := offerHealth{ID: id, Problems: a.Offers.Problems(id), Leads: barOf(counts[id]), Nodes: versions[id]}
		if o != nil {
			row.Name, row.Version = o.Config.Name, o.Version
		}
		for _, sc := range schedules {
			if sc.Offer == id {
				row.Checks = append(row.Checks, sc)
			}
		}
		row.Hours, row.Counted = cs.activity.hourly(id, now)
		for _, h := range row.Hours {
			row.Errors24h += h.Errors
			row.Calls24h += h.Calls
			row.MaxCalls = max(row.MaxCalls, h.Calls, h.Errors)
		}
		row.Chart = chartOf(row.Hours, row.MaxCalls)
		for _, oc := range outboxes {
			oh := outboxHealth{Name: oc.name, Pending: oc.pending[id], Held: oc.held[id]}
			if oc.circuit != nil {
				oh.CircuitOpen, oh.OpenUntil = oc.circuit(id)
			}
			if oh.Pending > 0 || oh.Held > 0 || oh.CircuitOpen || usesOutbox(o, oc.name) {
				row.Outboxes = append(row.Outboxes, oh)
			}
		}
		rows = append(rows, row)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
	return rows, nil
}

// usesOutbox says whether an offer sends through an outbox: new leads
// with [send], status changes with a [postback] url.
func usesOutbox(o *host.Offer, name string) bool {
	if o == nil {
		return false
	}
	if name == send.Feed {
		return o.Config.Send != nil
	}
	return o.Config.ReportsChanges()
}

func (cs *Console) leadCounts(ctx context.Context) (map[string]map[store.Status]int, error) {
	if cs.Counts != nil {
		return cs.Counts(ctx)
	}
	return cs.App.Store.CountLeads(ctx)
}

// barOf lays out an offer's counts as a bar, statuses in order.
func barOf(counts map[store.Status]int) statusBar {
	var b statusBar
	for _, n := range counts {
		b.Total += n
	}
	if b.Total == 0 {
		return b
	}
	x := 0.0
	for s := store.StatusNew; s <= store.MaxStatus; s++ {
		if n := counts[s]; n > 0 {
			w := 100 * float64(n) / float64(b.Total)
			b.Parts = append(b.Parts, barPart{Status: s, Count: n, X: x, W: w})
			x += w
		}
	}
	return b
}

// chartBar is one hour of an offer's activity chart: webhook calls and,
// over them, errors, as heights out of chartHeight.
type chartBar struct {
	X               int
	Calls, Errors   int
	CallsH, ErrorsH float64
	CallsY, ErrorsY float64
	From            time.Time
}

// chartHeight is the activity chart's height in its own units (the bars
// are 1 wide, 24 of them).
const chartHeight = 20

func chartOf(hours [hoursShown]hourCount, most int) []chartBar {
	bars := make([]chartBar, len(hours))
	for i, h := range hours {
		b := chartBar{X: i, Calls: h.Calls, Errors: h.Errors, From: time.Unix(h.Hour*3600, 0)}
		if most > 0 {
			b.CallsH = chartHeight * float64(h.Calls) / float64(most)
			b.ErrorsH = chartHeight * float64(h.Errors) / float64(most)
		}
		b.CallsY, b.ErrorsY = chartHeight-b.CallsH, chartHeight-b.ErrorsH
		bars[i] = b
	}
	return bars
}

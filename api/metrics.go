package api

import (
	"context"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"leadhost/host/app"
	"leadhost/host/send"
	"leadhost/store"
)

// Metrics are leadhost's Prometheus metrics (SPEC §5), served at
// /metrics. Durations and errors come from what the journal records, so
// that the two never disagree.
type Metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	errors    *prometheus.CounterVec
	reloads   *prometheus.CounterVec
	leads     *prometheus.GaugeVec
	serve     fasthttp.RequestHandler

	mu     sync.Mutex
	counts map[string]map[store.Status]int // leads by offer and status
	ready  bool
}

// NewMetrics makes the metrics of an app; its outboxes (depth, held
// items, circuits) are read when scraped.
func NewMetrics(a *app.App) *Metrics {
	st := a.Store
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadhost_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "leadhost_operation_duration_seconds", Help: "How long webhooks, postbacks, check runs and sends took, by kind and offer.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"kind", "offer"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadhost_errors_total", Help: "Operations that failed, by offer and kind.",
		}, []string{"offer", "kind"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leadhost_reloads_total", Help: "Offer loads by outcome (ok, error).",
		}, []string{"outcome"}),
		leads: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "leadhost_leads", Help: "Leads by offer and status (1-12).",
		}, []string{"offer", "status"}),
		counts: map[string]map[store.Status]int{},
	}
	m.reg.MustRegister(m.requests, m.durations, m.errors, m.reloads, m.leads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(&outboxCollector{a: a,
		held: prometheus.NewDesc("leadhost_outbox_held", "Items held for a person (a send in doubt, an answer that could not be recorded), by outbox and offer.",
			[]string{"outbox", "offer"}, nil),
		circuit: prometheus.NewDesc("leadhost_circuit_open", "1 while an offer's partner (or tracker) keeps failing and nothing is sent to it.",
			[]string{"outbox", "offer"}, nil)})
	for _, name := range []string{send.Feed, send.PostbackFeed} {
		feed, err := st.Feed(name)
		if err != nil {
			continue
		}
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "leadhost_outbox_depth", Help: "Items waiting in an outbox (up to 10,000 counted).",
			ConstLabels: prometheus.Labels{"outbox": name},
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			items, err := feed.Pending(ctx, 10_000)
			if err != nil {
				return -1
			}
			return float64(len(items))
		}))
	}
	m.serve = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	return m
}

// outboxCollector reports what waits for a person in the outboxes, and
// the offers whose circuit is open, as of the scrape.
type outboxCollector struct {
	a             *app.App
	held, circuit *prometheus.Desc
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.held; ch <- c.circuit }

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, ob := range c.a.Outboxes() {
		counts := map[string]int{}
		for _, o := range c.a.Offers.Offers() {
			counts[o.ID] = 0 // a series per offer, 0 included
			open, _ := ob.Sender.Circuit(o.ID)
			ch <- prometheus.MustNewConstMetric(c.circuit, prometheus.GaugeValue, boolValue(open), ob.Name, o.ID)
		}
		held, err := ob.Held(ctx)
		if err != nil {
			continue
		}
		for offer, n := range held {
			counts[offer] = n
		}
		for offer, n := range counts {
			ch <- prometheus.MustNewConstMetric(c.held, prometheus.GaugeValue, float64(n), ob.Name, offer)
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Observe takes a journal entry into the durations, errors and reloads.
func (m *Metrics) Observe(e store.JournalEntry) {
	if m == nil {
		return
	}
	if e.Kind == store.KindReload {
		m.reloads.WithLabelValues(string(e.Status)).Inc()
	} else if e.Duration > 0 {
		m.durations.WithLabelValues(string(e.Kind), e.Offer).Observe(time.Duration(e.Duration).Seconds())
	}
	if e.Status == store.JournalError {
		m.errors.WithLabelValues(e.Offer, string(e.Kind)).Inc()
	}
}

// request counts one HTTP request.
func (m *Metrics) request(route string, code int) {
	if m != nil {
		m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	}
}

// TrackLeads counts the store's leads by status, then keeps the counts
// current from the store's events. Call it before anything writes to the
// store (serve does, at start): a change committed while it counts could
// be counted twice. The count reads every lead once, about a second per
// million leads.
func (m *Metrics) TrackLeads(ctx context.Context, st store.Store) (stop func(), err error) {
	var pending []store.Event
	cancel := st.Subscribe(func(ev store.Event) {
		m.mu.Lock()
		defer m.mu.Unlock()
		if !m.ready {
			pending = append(pending, ev)
			return
		}
		m.apply(ev)
	})
	counts, err := st.CountLeads(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counts, m.ready = counts, true
	for _, ev := range pending {
		m.apply(ev)
	}
	m.publish()
	return cancel, nil
}

// FollowShared keeps the counts true to a store that other processes
// write too (a cluster's database: the store's events are only this
// process's own changes), by counting again every every until ctx ends.
// Between two counts, other nodes' changes are missing from this node's
// figures; a change of this node's committed during a count may be
// counted twice until the next.
func (m *Metrics) FollowShared(ctx context.Context, st store.Store, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		counts, err := st.CountLeads(ctx)
		if err != nil {
			continue // the database away: the next tick counts again
		}
		m.mu.Lock()
		for offer, c := range m.counts {
			for status := range c {
				if counts[offer][status] == 0 {
					m.leads.WithLabelValues(offer, strconv.Itoa(int(status))).Set(0)
				}
			}
		}
		m.counts = counts
		m.publish()
		m.mu.Unlock()
	}
}

func (m *Metrics) apply(ev store.Event) {
	c := m.counts[ev.Offer]
	if c == nil {
		c = map[store.Status]int{}
		m.counts[ev.Offer] = c
	}
	if ev.From != 0 && c[ev.From] > 0 {
		c[ev.From]--
	}
	c[ev.To]++
	if ev.From != 0 {
		m.leads.WithLabelValues(ev.Offer, strconv.Itoa(int(ev.From))).Set(float64(c[ev.From]))
	}
	m.leads.WithLabelValues(ev.Offer, strconv.Itoa(int(ev.To))).Set(float64(c[ev.To]))
}

func (m *Metrics) publish() {
	for offer, c := range m.counts {
		for status, n := range c {
			m.leads.WithLabelValues(offer, strconv.Itoa(int(status))).Set(float64(n))
		}
	}
}

// handler serves the metrics in the Prometheus text format.
func (m *Metrics) handler() fasthttp.RequestHandler { return m.serve }

// LeadCounts is every offer's leads by status as the metrics keep them
// (the console's overview reads them: no scan of the store per page);
// ok is false until TrackLeads has counted them.
func (m *Metrics) LeadCounts() (counts map[string]map[store.Status]int, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.ready {
		return nil, false
	}
	counts = make(map[string]map[store.Status]int, len(m.counts))
	for offer, c := range m.counts {
		counts[offer] = maps.Clone(c)
	}
	return counts, true
}

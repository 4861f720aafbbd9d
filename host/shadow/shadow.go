// Package shadow runs offers' candidate versions (scripts/<offer>/next/,
// host.Candidate) in shadow: on every input the live version gets — a
// check answer, a send reply, a webhook call — the candidate's script
// runs on the same input in its own Lua state, never committing, never
// sending, and where it does otherwise than the live version the
// difference is journaled (kind shadow) and counted. The live path only
// hands the input over: the runs happen on a worker behind a bounded
// queue, and an input that finds the queue full is dropped and counted.
package shadow

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"leadhost/host"
	"leadhost/host/script"
	"leadhost/store"
)

// DefaultQueue is how many inputs wait for their shadow runs at most.
const DefaultQueue = 256

// keepRecent is how many differences per offer Status shows.
const keepRecent = 20

// Shadow runs the candidates. Make it with New; Run works through its
// queue. Safe for concurrent use.
type Shadow struct {
	store  store.Store
	offers *host.Registry
	log    *slog.Logger
	jobs   chan job

	mu      sync.Mutex
	counts  map[string]*Counts
	recent  map[string][]Difference // newest last
	pending sync.WaitGroup
}

// Counts are an offer's shadow runs since the server started.
type Counts struct {
	Compared  int64 `json:"compared"`  // inputs both versions ran on
	Differing int64 `json:"differing"` // of those, where the candidate did otherwise
	Dropped   int64 `json:"dropped"`   // inputs not compared: the queue was full
}

type job struct {
	offer string
	run   func(ctx context.Context) (Difference, bool)
}

// New makes the shadow runner of the offers in reg, on st; queue bounds
// the inputs waiting (0: DefaultQueue).
func New(st store.Store, reg *host.Registry, queue int, log *slog.Logger) *Shadow {
	if queue <= 0 {
		queue = DefaultQueue
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Shadow{store: st, offers: reg, log: log, jobs: make(chan job, queue),
		counts: map[string]*Counts{}, recent: map[string][]Difference{}}
}

// Run works through the queue until ctx ends. One worker: shadow runs
// take what the live path leaves, not a core of their own per input.
func (s *Shadow) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case j := <-s.jobs:
			s.do(ctx, j)
		}
	}
}

func (s *Shadow) do(ctx context.Context, j job) {
	defer s.pending.Done()
	d, differs := j.run(ctx)
	s.mu.Lock()
	c := s.countsOf(j.offer)
	c.Compared++
	if differs {
		c.Differing++
		r := append(s.recent[j.offer], d)
		if len(r) > keepRecent {
			r = r[len(r)-keepRecent:]
		}
		s.recent[j.offer] = r
	}
	s.mu.Unlock()
	if differs {
		s.store.Record(d.entry())
	}
}

// Idle waits until every input queued so far has been compared (tests,
// and a person asking right after a run), or ctx ends.
func (s *Shadow) Idle(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.pending.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Shadow) countsOf(offer string) *Counts {
	c := s.counts[offer]
	if c == nil {
		c = &Counts{}
		s.counts[offer] = c
	}
	return c
}

// Status is an offer's counts and its recent differences, newest first.
func (s *Shadow) Status(offer string) (Counts, []Difference) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var c Counts
	if p := s.counts[offer]; p != nil {
		c = *p
	}
	r := s.recent[offer]
	out := make([]Difference, len(r))
	for i, d := range r {
		out[len(r)-1-i] = d
	}
	return c, out
}

// Reset forgets an offer's counts and differences: its candidate changed
// (promoted, or another one staged), and they were the old one's.
func (s *Shadow) Reset(offer string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.counts, offer)
	delete(s.recent, offer)
}

// candidate is the offer's candidate when one is loaded.
func (s *Shadow) candidate(offer string) (*host.Offer, bool) {
	c, ok := s.offers.Candidate(offer)
	if !ok || c.Offer == nil {
		return nil, false
	}
	return c.Offer, true
}

// submit queues a comparison without waiting: a full queue drops it.
func (s *Shadow) submit(offer string, run func(ctx context.Context) (Difference, bool)) {
	s.pending.Add(1)
	select {
	case s.jobs <- job{offer: offer, run: run}:
	default:
		s.pending.Done()
		s.mu.Lock()
		s.countsOf(offer).Dropped++
		s.mu.Unlock()
	}
}

// Difference is one input on which the candidate did otherwise than the
// live version: both sides, and the rows where they differ.
type Difference struct {
	At        time.Time `json:"at"`
	Offer     string    `json:"offer"`
	Input     string    `json:"input"` // what came in: "check processing: 3 leads", "webhook hook.lua", "send reply: lead 12"
	Live      Side      `json:"live"`
	Candidate Side      `json:"candidate"`
	Rows      []Row     `json:"rows"`
}

// Side is what one version did with the input.
type Side struct {
	Version uint64              `json:"version"`
	Edits   []store.BatchChange `json:"edits,omitempty"`
	Added   []script.AddedLead  `json:"added,omitempty"`
	Reply   string              `json:"reply,omitempty"`   // a webhook's answer: "200 {…}"
	Outcome string              `json:"outcome,omitempty"` // send.lua's: "ext X9", "reason 2", "retry"
	Error   string              `json:"error,omitempty"`
	at      time.Time           // when its run began: times it set are compared from it
}

// Row is one thing the two versions did differently, side by side: a
// lead's field ("old → new", "" for no change), the reply, an added
// lead, the send outcome or an error.
type Row struct {
	Lead      uint64 `json:"lead,omitempty"`
	What      string `json:"what"`
	Live      string `json:"live"`
	Candidate string `json:"candidate"`
}

// entry is the difference's journal entry.
func (d Difference) entry() store.JournalEntry {
	detail, _ := json.Marshal(d)
	leads := map[uint64]bool{}
	for _, r := range d.Rows {
		if r.Lead != 0 {
			leads[r.Lead] = true
		}
	}
	summary := fmt.Sprintf("candidate version %d differs from live version %d on %s: %d rows", d.Candidate.Version, d.Live.Version, d.Input, len(d.Rows))
	if len(leads) > 0 {
		summary += fmt.Sprintf(", %d leads", len(leads))
	}
	return store.JournalEntry{At: d.At, Offer: d.Offer, Kind: store.KindShadow, Status: store.JournalOK,
		Version: d.Candidate.Version, Summary: summary, Detail: detail}
}

// compare lists the rows where two sides differ: each lead's fields
// (first old → last new), the adds in order, the reply, the outcome and
// the error.
func compare(live, cand Side) []Row {
	var rows []Row
	lv, cv := fieldChanges(live.Edits), fieldChanges(cand.Edits)
	slack := time.Minute + cand.at.Sub(live.at).Abs()
	for _, k := range unionKeys(lv, cv) {
		if lv[k] != cv[k] && !sameTime(lv[k], cv[k], slack) {
			rows = append(rows, Row{Lead: k.lead, What: k.field, Live: orNone(lv[k]), Candidate: orNone(cv[k])})
		}
	}
	for i := 0; i < max(len(live.Added), len(cand.Added)); i++ {
		l, c := addedText(live.Added, i), addedText(cand.Added, i)
		if l != c {
			rows = append(rows, Row{What: fmt.Sprintf("lead added #%d", i+1), Live: orNone(l), Candidate: orNone(c)})
		}
	}
	for _, x := range []struct{ what, l, c string }{{"reply", live.Reply, cand.Reply}, {"outcome", live.Outcome, cand.Outcome}, {"error", live.Error, cand.Error}} {
		if x.l != x.c {
			rows = append(rows, Row{What: x.what, Live: orNone(x.l), Candidate: orNone(x.c)})
		}
	}
	return rows
}

// sameTime says two changes set a time (accepted_at, hold_until) from
// the same old value to times within slack of each other: the two runs
// did the same thing moments apart, by their own clocks.
func sameTime(a, b string, slack time.Duration) bool {
	oldA, newA, okA := strings.Cut(a, " → ")
	oldB, newB, okB := strings.Cut(b, " → ")
	if !okA || !okB || oldA != oldB {
		return false
	}
	ta, errA := time.Parse(time.RFC3339Nano, newA)
	tb, errB := time.Parse(time.RFC3339Nano, newB)
	return errA == nil && errB == nil && ta.Sub(tb).Abs() <= slack
}

func orNone(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

type fieldKey struct {
	lead  uint64
	field string
}

// fieldChanges is each lead's field as the edits leave it: "old → new"
// from its first old to its last new.
func fieldChanges(edits []store.BatchChange) map[fieldKey]string {
	first, last := map[fieldKey]string{}, map[fieldKey]string{}
	for _, e := range edits {
		for _, f := range e.Fields {
			k := fieldKey{e.LeadID, f.Field}
			if _, ok := first[k]; !ok {
				first[k] = f.Old
			}
			last[k] = f.New
		}
	}
	out := make(map[fieldKey]string, len(first))
	for k, old := range first {
		if old != last[k] {
			out[k] = old + " → " + last[k]
		}
	}
	return out
}

func unionKeys(a, b map[fieldKey]string) []fieldKey {
	seen := map[fieldKey]bool{}
	var out []fieldKey
	for _, m := range []map[fieldKey]string{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	slices.SortFunc(out, func(a, b fieldKey) int {
		return cmp.Or(cmp.Compare(a.lead, b.lead), strings.Compare(a.field, b.field))
	})
	return out
}

// addedText is the i-th add as the script asked for it (its stand-in id
// left out), "" when there is none.
func addedText(added []script.AddedLead, i int) string {
	if i >= len(added) {
		return ""
	}
	a := added[i]
	a.ID, a.Created = 0, false
	b, _ := json.Marshal(a)
	return string(b)
}

// replyText is a webhook's answer as a side shows it.
func replyText(r script.HookReply) string {
	return fmt.Sprintf("%d %s", r.Status, strings.TrimSpace(string(r.Body)))
}

// outcomeText is send.lua's decision as a side shows it.
func outcomeText(o script.SendOutcome) string {
	switch {
	case o.Retry:
		return "retry"
	case o.Ext != "":
		return "ext " + o.Ext
	}
	return fmt.Sprintf("reason %d", o.Reason)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Masked is d as people are shown it: contacts and secrets masked in
// every text (store.Mask), as the journal shows its entries.
func (d Difference) Masked() Difference {
	d.Input = store.Mask(d.Input)
	d.Live, d.Candidate = d.Live.masked(), d.Candidate.masked()
	rows := make([]Row, len(d.Rows))
	for i, r := range d.Rows {
		r.Live, r.Candidate = store.Mask(r.Live), store.Mask(r.Candidate)
		rows[i] = r
	}
	d.Rows = rows
	return d
}

func (s Side) masked() Side {
	s.Reply, s.Outcome, s.Error = store.Mask(s.Reply), store.Mask(s.Outcome), store.Mask(s.Error)
	if s.Edits != nil {
		edits := make([]store.BatchChange, len(s.Edits))
		for i, e := range s.Edits {
			fields := make([]store.FieldChange, len(e.Fields))
			for j, f := range e.Fields {
				f.Old, f.New = store.Mask(f.Old), store.Mask(f.New)
				fields[j] = f
			}
			e.Fields = fields
			edits[i] = e
		}
		s.Edits = edits
	}
	if s.Added != nil {
		added := make([]script.AddedLead, len(s.Added))
		for i, a := range s.Added {
			a.Key, a.Ext, a.Comment = store.Mask(a.Key), store.Mask(a.Ext), store.Mask(a.Comment)
			if a.Fields != nil {
				fields := make(map[string]string, len(a.Fields))
				for k, v := range a.Fields {
					fields[k] = store.Mask(v)
				}
				a.Fields = fields
			}
			added[i] = a
		}
		s.Added = added
	}
	return s
}

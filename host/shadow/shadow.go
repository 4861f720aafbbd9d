// Package shadow runs offers' candidate versions (scripts/<offer>/next/,
// host.Candidate) in shadow: on every input the live version gets — a
// check answer, a send reply, a webhook call — whose script the
// candidate stages (or all of them, when it stages offer.toml), the
// candidate's script runs on the same input in its own Lua state, never
// committing, never sending, and where it does otherwise than the live
// version the difference is journaled (kind shadow) and counted. The
// live path only hands the input over: the runs happen on a worker
// behind a queue bounded by bytes, and an input that finds it full is
// dropped and counted. Shadow runs never take the live runs' turns
// (script.Governor's shadow slot), stop after RunTimeout, and a
// candidate that passes it MaxTimeouts times in a row is shadowed no
// more until it changes.
package shadow

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
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

// DefaultQueueBytes is how many bytes of inputs wait for their shadow
// runs at most: a count bound let 256 check answers of up to 8 MiB
// each (partner.DefaultMaxResponse: 2 GiB) wait.
const DefaultQueueBytes = 64 << 20

// jobOverhead is what a queued input is counted for beyond its bytes:
// the closure, the live side, the leads.
const jobOverhead = 1 << 10

// RunTimeout bounds one shadow run (the offer's timeout when shorter):
// a candidate stuck in a loop costs a second per input, not the
// offer's timeout of up to a minute.
const RunTimeout = time.Second

// MaxTimeouts is how many shadow runs in a row may pass RunTimeout
// before the candidate is shadowed no more (Counts.Stopped).
const MaxTimeouts = 3

// keepRecent is how many differences per offer Status shows.
const keepRecent = 20

// ErrBusy is a replay asked for while another of the same offer runs.
var ErrBusy = errors.New("busy")

// Shadow runs the candidates. Make it with New; Run works through its
// queue. Safe for concurrent use.
type Shadow struct {
	store    store.Store
	offers   *host.Registry
	log      *slog.Logger
	maxBytes int64
	wake     chan struct{} // a job was queued (capacity 1)

	mu        sync.Mutex
	queue     []job
	queued    int64 // bytes of queue
	counts    map[string]*Counts
	recent    map[string][]Difference // newest last
	timeouts  map[string]int          // shadow runs in a row that passed RunTimeout
	halted    map[string]uint64       // the candidate version shadowed no more
	replaying map[string]bool
	pending   sync.WaitGroup
}

// Counts are an offer's shadow runs since the server started.
type Counts struct {
	Compared  int64 `json:"compared"`  // inputs both versions ran on
	Differing int64 `json:"differing"` // of those, where the candidate did otherwise
	Dropped   int64 `json:"dropped"`   // inputs not compared: the queue was full
	// Stopped says why the candidate is shadowed no more ("" while it
	// is): its runs passed RunTimeout MaxTimeouts times in a row. A
	// change of the candidate starts it again.
	Stopped string `json:"stopped,omitempty"`
}

type job struct {
	offer   string
	version uint64 // the candidate's when queued
	size    int64
	run     func(ctx context.Context) result
}

// result is what one comparison found; ran is false when none ran (the
// candidate went, or no longer stages the input's script).
type result struct {
	diff     Difference
	differs  bool
	ran      bool
	timedOut bool // the candidate's run passed its deadline
}

// New makes the shadow runner of the offers in reg, on st; maxBytes
// bounds the bytes of inputs waiting (0: DefaultQueueBytes).
func New(st store.Store, reg *host.Registry, maxBytes int64, log *slog.Logger) *Shadow {
	if maxBytes <= 0 {
		maxBytes = DefaultQueueBytes
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Shadow{store: st, offers: reg, log: log, maxBytes: maxBytes, wake: make(chan struct{}, 1),
		counts: map[string]*Counts{}, recent: map[string][]Difference{}, timeouts: map[string]int{},
		halted: map[string]uint64{}, replaying: map[string]bool{}}
}

// Run works through the queue until ctx ends. One worker: shadow runs
// take what the live path leaves, not a core of their own per input.
func (s *Shadow) Run(ctx context.Context) error {
	for {
		j, ok := s.next()
		if !ok {
			select {
			case <-ctx.Done():
				return nil
			case <-s.wake:
			}
			continue
		}
		if ctx.Err() != nil {
			s.pending.Done()
			return nil
		}
		s.do(ctx, j)
	}
}

// next takes the oldest queued job.
func (s *Shadow) next() (job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return job{}, false
	}
	j := s.queue[0]
	s.queue[0] = job{}
	s.queue = s.queue[1:]
	s.queued -= j.size
	return j, true
}

func (s *Shadow) do(ctx context.Context, j job) {
	defer s.pending.Done()
	if s.isHalted(j.offer, j.version) {
		return
	}
	runCtx, cancel := context.WithTimeout(ctx, RunTimeout)
	r := j.run(runCtx)
	cancel()
	if !r.ran {
		return
	}
	s.mu.Lock()
	c := s.countsOf(j.offer)
	c.Compared++
	stopped := ""
	if r.timedOut {
		s.timeouts[j.offer]++
		if s.timeouts[j.offer] >= MaxTimeouts && c.Stopped == "" {
			s.halted[j.offer] = j.version
			c.Stopped = fmt.Sprintf("candidate version %d passed the shadow runs' deadline (%s) %d times in a row: it is shadowed no more until it changes",
				j.version, RunTimeout, MaxTimeouts)
			stopped = c.Stopped
		}
	} else {
		s.timeouts[j.offer] = 0
	}
	if r.differs {
		c.Differing++
		rs := append(s.recent[j.offer], r.diff)
		if len(rs) > keepRecent {
			rs = rs[len(rs)-keepRecent:]
		}
		s.recent[j.offer] = rs
	}
	s.mu.Unlock()
	if r.differs {
		s.store.Record(r.diff.entry())
	}
	if stopped != "" {
		s.log.Warn("shadow: "+stopped, "offer", j.offer)
	}
}

// isHalted says whether shadowing of the offer's candidate version
// stopped for its timeouts.
func (s *Shadow) isHalted(offer string, version uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.halted[offer]
	return ok && v == version
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

// Reset forgets an offer's counts, differences and timeouts: its
// candidate changed (promoted, or another one staged), and they were
// the old one's.
func (s *Shadow) Reset(offer string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.counts, offer)
	delete(s.recent, offer)
	delete(s.timeouts, offer)
	delete(s.halted, offer)
}

// wants says whether the offer's candidate runs in shadow on an input of
// file ("check.lua", "send.lua", "hook.lua", "hooks/<name>.lua",
// "postback.lua"): it loads, is not stopped for its timeouts, and
// stages that file or offer.toml (whose settings every script runs
// with). An input of a script the candidate does not stage is the live
// version's on both sides: neither run nor counted, nor copied.
func (s *Shadow) wants(offer, file string) bool {
	_, ok := s.candidate(offer, file)
	return ok
}

// candidate is the offer's candidate when it is to run on file's inputs
// (wants).
func (s *Shadow) candidate(offer, file string) (*host.Offer, bool) {
	if s.offers == nil {
		return nil, false
	}
	c, ok := s.offers.Candidate(offer)
	if !ok || c.Offer == nil || c.Offer.Scripts[file] == nil {
		return nil, false
	}
	if !slices.Contains(c.Files, file) && !slices.Contains(c.Files, "offer.toml") {
		return nil, false
	}
	if s.isHalted(offer, c.Offer.Version) {
		return nil, false
	}
	return c.Offer, true
}

// submit queues a comparison of size bytes without waiting: past the
// queue's bytes it is dropped and counted.
func (s *Shadow) submit(offer string, version uint64, size int64, run func(ctx context.Context) result) {
	size += jobOverhead
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.queued+size > s.maxBytes {
		s.countsOf(offer).Dropped++
		return
	}
	s.pending.Add(1)
	s.queue = append(s.queue, job{offer: offer, version: version, size: size, run: run})
	s.queued += size
	select {
	case s.wake <- struct{}{}:
	default:
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
	// timedOut is a run that passed its deadline (Error says so).
	timedOut bool
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

// compare lists the rows where two sides of the offer's input differ:
// each lead's fields (first old → last new), the adds in order, the
// reply, the outcome and the error. Errors are compared with the
// candidate's files named as the live ones (sameError); the rows show
// them as raised.
func compare(offer string, live, cand Side) []Row {
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
	for _, x := range []struct{ what, l, c string }{{"reply", live.Reply, cand.Reply}, {"outcome", live.Outcome, cand.Outcome}} {
		if x.l != x.c {
			rows = append(rows, Row{What: x.what, Live: orNone(x.l), Candidate: orNone(x.c)})
		}
	}
	if !sameError(offer, live.Error, cand.Error) {
		rows = append(rows, Row{What: "error", Live: orNone(live.Error), Candidate: orNone(cand.Error)})
	}
	return rows
}

// sameError says whether two errors say the same once the candidate's
// files ("<offer>/next/hook.lua:2: …") are named as the live ones
// ("<offer>/hook.lua:2: …"): both versions raising the same error is no
// difference.
func sameError(offer, live, cand string) bool {
	next := offer + "/" + host.NextDir + "/"
	return strings.ReplaceAll(live, next, offer+"/") == strings.ReplaceAll(cand, next, offer+"/")
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
	s.Edits = store.MaskEdits(s.Edits)
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

package script

import (
	"context"
	"sync"

	lua "github.com/yuin/gopher-lua"

	"github.com/valyala/fasthttp"

	"leadhost/store"
)

// Run is what the modules of one run act on.
type Run struct {
	Ctx context.Context
	// Script is the file that runs, for messages and the history's "by".
	Script string
	// Offer is the script's offer: it adds and edits only that offer's leads.
	Offer string
	Store store.Store
	// Batch collects the run's edits: committed when the run ends well,
	// discarded when it raises or is a dry run.
	Batch store.Batch
	// Allowed, when set, is the only leads the run may edit (a check
	// handler's batch).
	Allowed map[uint64]bool
	Words   *Words
	// MayAdd lets the run add leads. Only hooks may: an added lead is
	// stored at once (so that a retried call finds it by its key), which a
	// check or send run, whose edits a failure or dry run discards, must
	// not do behind its batch's back.
	MayAdd bool
	// Log receives core.log, print and refused edits; nil drops them.
	Log func(kind, msg string)
	// HTTP makes http.request's requests; nil: the script may make none.
	HTTP *fasthttp.Client
	// Shadow runs a candidate version beside the live one (host/shadow):
	// http.request is refused, core.lead.add stores nothing and answers
	// with StandIns, and the batch is never committed.
	Shadow bool
	// StandIns are the leads the live run added, in order: the shadow
	// run's n-th core.lead.add answers as the live run's n-th did.
	StandIns []AddedLead

	Added []AddedLead // leads core.lead.add added (or, in shadow, would add)

	Refused []string // edits refused, with why (the batch holds those accepted)

	// mu fences the batch off from a run that was abandoned past its
	// deadline (runtime.go): its goroutine may still call a module while
	// the caller discards the batch.
	mu        sync.Mutex
	abandoned bool

	meter *meter // the run's bounds (meter.go), set by Env.SetRun
}

func (r *Run) abandon() {
	r.mu.Lock()
	r.abandoned = true
	r.mu.Unlock()
}

// discard drops the run's batch, fenced against an abandoned run.
func (r *Run) discard() {
	r.mu.Lock()
	r.Batch.Discard()
	r.mu.Unlock()
}

func (r *Run) log(kind, msg string) {
	if r.Log != nil {
		r.Log(kind, msg)
	}
}

// logFenced is log for print and core.log, which hold no lock of their
// own; the line counts against the run's log bound.
func (r *Run) logFenced(L *lua.LState, kind, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.abandoned {
		r.meter.countLog(L, msg)
		r.log(kind, msg)
	}
}

func (r *Run) by() string { return "script:" + r.Script }

// live says the run was not abandoned: a module about to act for it (an
// edit, a log line, a partner request) checks it first.
func (r *Run) live() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.abandoned
}

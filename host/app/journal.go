package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"leadhost/host"
	"leadhost/host/check"
	"leadhost/host/send"
	"leadhost/store"
)

// Inbound is a webhook or a status postback as it came in and was
// answered: what the journal keeps of it is decided here (Entry), for the
// HTTP side that only knows the call.
type Inbound struct {
	Kind         store.JournalKind // KindHook or KindPostback
	Offer        string            // from the path: anyone may make one up
	Method, Path []byte            // as the server holds them: not copied, only printed
	Status       int               // the answer's
	Took         time.Duration
	From         string // the caller's address, for a call refused at the door: whose refusals are counted together
	// AtDoor says the call was refused before its offer's handling (no
	// such offer or hook, a wrong token or method): anyone can make such
	// calls, so they are kept as a line, sampled per source.
	AtDoor bool
	// Call gives the request as it came (without its token, for replay)
	// and the answer, read only when they are kept.
	Call Call
}

// Call is an inbound call's request and answer as text, and what its
// script said.
type Call interface {
	Request() string
	Response() string
	Logs() []string
}

// maxRefusedPath bounds what the journal keeps of a refused call's path.
const maxRefusedPath = 200

// Entry is the journal entry of the call. A call refused at the door (no
// such offer, a wrong token, a wrong method) is kept as one line, without
// what it sent, and as refused (not the offer failing: no mail, no error
// metric): storing what anyone may send would let anyone fill the disk. A
// path that names no offer is kept without an offer, so that made-up
// paths become neither index entries nor metrics series.
func (in Inbound) Entry(offers *host.Registry) store.JournalEntry {
	refused := in.AtDoor
	path := in.Path
	if refused && len(path) > maxRefusedPath {
		// Anyone may send a refused call, with a path as long as the
		// server reads: the line kept of it is of a fixed size.
		path = append(path[:maxRefusedPath:maxRefusedPath], "…"...)
	}
	e := store.JournalEntry{Offer: in.Offer, Kind: in.Kind, Status: store.JournalOK, Duration: store.Duration(in.Took),
		Summary: callSummary(in.Method, path, in.Status)}
	switch {
	case refused:
		e.Status = store.JournalRefused
	case in.Status >= 400:
		// The reason goes into the summary, which the mails and the log
		// show: "→ 500" alone tells an operator nothing.
		e.Status = store.JournalError
		var answer struct {
			Error string `json:"error"`
		}
		if json.Unmarshal([]byte(in.Call.Response()), &answer) == nil && answer.Error != "" {
			e.Summary += ": " + answer.Error
		}
	}
	if o, ok := offers.Offer(in.Offer); ok {
		e.Version = o.Version
	} else {
		e.Offer = ""
	}
	if !refused {
		e.Request, e.Response, e.Logs = in.Call.Request(), in.Call.Response(), in.Call.Logs()
	}
	return e
}

// callSummary is "METHOD path → status", in one allocation (fmt would
// box each argument: this runs for every webhook).
func callSummary(method, path []byte, status int) string {
	var buf [256]byte
	b := append(append(append(buf[:0], method...), ' '), path...)
	b = strconv.AppendInt(append(b, " → "...), int64(status), 10)
	return string(b)
}

// recordAction keeps the journal entry of a person's action that was done
// (a lead added or edited, a held item released or dropped) before the
// person is told: as an answered call's, it survives a kill -9 after the
// answer. A missing entry does not undo the action: it is logged.
func (a *App) recordAction(e store.JournalEntry) {
	if err := a.Store.RecordWritten(e); err != nil && !errors.Is(err, store.ErrDiskFull) {
		a.log.Error("journaling a person's action", "summary", store.Mask(e.Summary), "err", err)
	}
}

// Record keeps a journal entry (built by this package: Inbound.Entry, and
// the entries of sends, checks, reloads and lead changes).
func (a *App) Record(e store.JournalEntry) { a.Store.Record(e) }

// RecordCall keeps an inbound call's journal entry and returns once it is
// written (store.RecordWritten): the call is answered after it, so that
// a kill -9 does not lose the entry of a call acknowledged. Of a source's
// refused calls, only the first ones of each minute are kept one by one
// (see refusals).
func (a *App) RecordCall(in Inbound) error {
	if in.AtDoor {
		keep, past := a.refused.admit(in.Kind, in.From, a.now())
		a.Store.Record(past...)
		if !keep {
			return nil
		}
	}
	return a.Store.RecordWritten(in.Entry(a.Offers))
}

// attemptEntry is a send or an outgoing postback.
func attemptEntry(reg *host.Registry, kind store.JournalKind, a *send.Attempt) store.JournalEntry {
	status := store.JournalOK
	if a.Outcome.Failed() {
		status = store.JournalError
	}
	var version uint64
	if o, ok := reg.Offer(a.Offer); ok {
		version = o.Version
	}
	detail, _ := json.Marshal(a)
	summary := fmt.Sprintf("lead %d try %d: %s %s → %d %s", a.LeadID, a.Try, a.Method, a.URL, a.Status, a.Outcome)
	if a.Outcome.Failed() && a.Err != "" {
		summary += ": " + a.Err // the reason, for the mails and the log
	}
	return store.JournalEntry{Offer: a.Offer, Kind: kind, Status: status, Duration: a.Duration, Version: version,
		Summary:  summary,
		Request:  a.Body,
		Response: a.Response,
		Logs:     a.Logs,
		Detail:   detail}
}

// checkEntry is a check run: its requests and answers (cut), and its
// edits while they are few.
func checkEntry(r *check.Report) store.JournalEntry {
	status := store.JournalOK
	switch {
	case r.Dry:
		status = store.JournalDry // a person trying a script: neither a failure nor a recovery
	case r.Err != nil && !r.Stopped:
		status = store.JournalError
	}
	kept := *r
	if len(kept.Edits) > 200 {
		kept.Edits = kept.Edits[:200] // the summary counts them all
	}
	if len(kept.Exchanges) > 50 {
		kept.Exchanges = kept.Exchanges[:50]
	}
	detail, _ := json.Marshal(&kept)
	summary := fmt.Sprintf("%s: %d leads, %d requests, %d edits", r.Mode, r.Leads, len(r.Exchanges), len(r.Edits))
	if msg := r.Error(); msg != "" {
		summary += "; " + msg
	}
	return store.JournalEntry{At: r.Started, Offer: r.Offer, Kind: store.KindCheck, Status: status, Duration: r.Duration, Version: r.Version,
		Summary: summary, Detail: detail, Logs: r.Logs}
}

// reloadEntries are what a reload changed: each offer loaded, unloaded,
// or not loaded with its problems (file:line).
func reloadEntries(reg *host.Registry, changes []string, err error) []store.JournalEntry {
	if err != nil {
		return []store.JournalEntry{{Kind: store.KindReload, Status: store.JournalError, Summary: err.Error()}}
	}
	out := make([]store.JournalEntry, 0, len(changes))
	for _, change := range changes {
		offer, _, _ := strings.Cut(change, ":")
		e := store.JournalEntry{Offer: offer, Kind: store.KindReload, Status: store.JournalOK, Summary: change}
		problems := reg.Problems(offer)
		if o, ok := reg.Offer(offer); ok {
			e.Version = o.Version
		}
		if strings.Contains(change, host.NextDir+"/") { // the candidate's change: its version, its problems
			problems = nil
			if c, ok := reg.Candidate(offer); ok {
				problems = c.Problems()
				if c.Offer != nil {
					e.Version = c.Offer.Version
				}
			}
		}
		if len(problems) > 0 {
			e.Status, e.Summary = store.JournalError, change+": "+strings.Join(problems, "; ")
		}
		out = append(out, e)
	}
	return out
}

// refusedEntry is a person's add or edit that did not happen, with why:
// refused, not an error of the offer (no mail, no error metric).
func refusedEntry(by, what, offer string, input []byte, err error) store.JournalEntry {
	return store.JournalEntry{Offer: offer, Kind: store.KindLead, Status: store.JournalRefused,
		Summary: fmt.Sprintf("%s by %s refused: %s", what, by, store.Describe(err)),
		Request: string(input)}
}

// leadEntry is a lead added or edited by a person (CLI or admin API):
// who, which lead, and what changed.
func leadEntry(by, verb string, l *store.Lead, input []byte) store.JournalEntry {
	return store.JournalEntry{Offer: l.Offer, Kind: store.KindLead, Status: store.JournalOK,
		Summary: fmt.Sprintf("lead %d %s by %s (status %d, rev %d)", l.ID, verb, by, l.Status, l.Rev),
		Request: string(input)}
}

// heldEntry is a held item released or dropped by a person (verb:
// "released", "dropped"): who, which lead's send or postback, and, in
// Detail, the item as the person saw it (its change, tries, last error).
// Kind lead, not the outbox's: it is a person's action, not a delivery,
// and a send's "ok" would tell the error mails that sends work again.
func heldEntry(by, outbox, verb string, it store.FeedItem) store.JournalEntry {
	detail, _ := json.Marshal(it)
	return store.JournalEntry{Offer: it.Offer, Kind: store.KindLead, Status: store.JournalOK,
		Summary: fmt.Sprintf("held %s of lead %d (rev %d) %s by %s", outbox, it.LeadID, it.Rev, verb, by),
		Detail:  detail}
}

package app

import (
	"encoding/json"
	"fmt"
	"strings"

	"leadhost/host"
	"leadhost/host/check"
	"leadhost/host/send"
	"leadhost/store"
)

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
	return store.JournalEntry{Offer: a.Offer, Kind: kind, Status: status, Duration: a.Duration, Version: version,
		Summary:  fmt.Sprintf("lead %d try %d: %s %s → %d %s", a.LeadID, a.Try, a.Method, a.URL, a.Status, a.Outcome),
		Request:  a.Body,
		Response: a.Response,
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
		Summary: summary, Detail: detail}
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
		if o, ok := reg.Offer(offer); ok {
			e.Version = o.Version
		}
		if errs := reg.Errors()[offer]; len(errs) > 0 {
			msgs := make([]string, len(errs))
			for i, le := range errs {
				msgs[i] = le.Error()
			}
			e.Status, e.Summary = store.JournalError, change+": "+strings.Join(msgs, "; ")
		}
		out = append(out, e)
	}
	return out
}

// leadEntry is a lead added or edited by a person (CLI or admin API):
// who, which lead, and what changed.
func leadEntry(by, verb string, l *store.Lead, input []byte) store.JournalEntry {
	return store.JournalEntry{Offer: l.Offer, Kind: store.KindLead, Status: store.JournalOK,
		Summary: fmt.Sprintf("lead %d %s by %s (status %d, rev %d)", l.ID, verb, by, l.Status, l.Rev),
		Request: string(input)}
}

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

// Journal kinds the assembled app writes (webhooks and postbacks in are
// the api package's: "hook", "postback").
const (
	KindSend        = "send"         // a new lead delivered to its partner
	KindPostbackOut = "postback-out" // a status change reported to a tracker
	KindCheck       = "check"        // a status-check run
	KindReload      = "reload"       // an offer loaded, changed or gone
	KindLead        = "lead"         // a lead added or edited from the CLI or the admin API
)

// attemptEntry is a send or an outgoing postback.
func attemptEntry(reg *host.Registry, kind string, a *send.Attempt) store.JournalEntry {
	status := "ok"
	if a.Outcome != "sent" && a.Outcome != "rejected" {
		status = "error"
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
	status := "ok"
	switch {
	case r.Dry:
		status = "dry" // a person trying a script: neither a failure nor a recovery
	case r.Err != nil && !r.Stopped:
		status = "error"
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
	return store.JournalEntry{At: r.Started, Offer: r.Offer, Kind: KindCheck, Status: status, Duration: r.Duration, Version: r.Version,
		Summary: summary, Detail: detail}
}

// reloadEntries are what a reload changed: each offer loaded, unloaded,
// or not loaded with its problems (file:line).
func reloadEntries(reg *host.Registry, changes []string, err error) []store.JournalEntry {
	if err != nil {
		return []store.JournalEntry{{Kind: KindReload, Status: "error", Summary: err.Error()}}
	}
	out := make([]store.JournalEntry, 0, len(changes))
	for _, change := range changes {
		offer, _, _ := strings.Cut(change, ":")
		e := store.JournalEntry{Offer: offer, Kind: KindReload, Status: "ok", Summary: change}
		if o, ok := reg.Offer(offer); ok {
			e.Version = o.Version
		}
		if errs := reg.Errors()[offer]; len(errs) > 0 {
			msgs := make([]string, len(errs))
			for i, le := range errs {
				msgs[i] = le.Error()
			}
			e.Status, e.Summary = "error", change+": "+strings.Join(msgs, "; ")
		}
		out = append(out, e)
	}
	return out
}

// leadEntry is a lead added or edited by a person (CLI or admin API):
// who, which lead, and what changed.
func leadEntry(by, verb string, l *store.Lead, input []byte) store.JournalEntry {
	return store.JournalEntry{Offer: l.Offer, Kind: KindLead, Status: "ok",
		Summary: fmt.Sprintf("lead %d %s by %s (status %d, rev %d)", l.ID, verb, by, l.Status, l.Rev),
		Request: string(input)}
}

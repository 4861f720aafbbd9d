package store

import (
	"fmt"
	"strings"
)

// JournalKind says what a journal entry records. Adding a kind is one
// line here (and the producer that writes it).
type JournalKind string

// The journal's kinds.
const (
	KindHook        JournalKind = "hook"         // a webhook call, with the raw request
	KindPostback    JournalKind = "postback"     // a partner's status postback, with the raw request
	KindSend        JournalKind = "send"         // a new lead delivered to its partner
	KindPostbackOut JournalKind = "postback-out" // a status change reported to a tracker
	KindCheck       JournalKind = "check"        // a status-check run
	KindReload      JournalKind = "reload"       // an offer loaded, changed or gone
	KindLead        JournalKind = "lead"         // a person's action: a lead added or edited, a held item released or dropped
	KindShadow      JournalKind = "shadow"       // a candidate version (next/) that did otherwise than the live one on the same input
)

// JournalKinds lists every kind, for filters that refuse others.
var JournalKinds = []JournalKind{KindHook, KindPostback, KindSend, KindPostbackOut, KindCheck, KindReload, KindLead, KindShadow}

// JournalStatus is how the recorded operation ended.
type JournalStatus string

// The journal's statuses.
const (
	JournalOK      JournalStatus = "ok"
	JournalError   JournalStatus = "error"   // failed: counted, mailed
	JournalRefused JournalStatus = "refused" // turned away at the door (no such offer, a wrong token): not the offer failing
	JournalDry     JournalStatus = "dry"     // a person trying a script: neither a failure nor a recovery
)

// JournalStatuses lists every status, for filters that refuse others.
var JournalStatuses = []JournalStatus{JournalOK, JournalError, JournalRefused, JournalDry}

// ParseJournalKind reads a kind's name, as the journal's filters take it.
func ParseJournalKind(text string) (JournalKind, error) {
	return parseWord(text, "kind", JournalKinds)
}

// ParseJournalStatus reads a status's name, as the journal's filters take it.
func ParseJournalStatus(text string) (JournalStatus, error) {
	return parseWord(text, "status", JournalStatuses)
}

func parseWord[T ~string](text, what string, known []T) (T, error) {
	names := make([]string, len(known))
	for i, k := range known {
		if string(k) == text {
			return k, nil
		}
		names[i] = string(k)
	}
	return "", fmt.Errorf("%s %q: want one of %s: %w", what, text, strings.Join(names, ", "), ErrInvalid)
}

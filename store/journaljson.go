package store

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// A journal entry is kept as the JSON json.Marshal makes of it, but
// written by hand: every webhook and postback writes one on its way to
// the answer, and json.Marshal's reflection, its Duration and time
// methods and its result cost allocations and microseconds there. What
// is written here decodes to what json.Marshal's output decodes to
// (FuzzJournalJSON holds it to that); HTML characters are not escaped
// (no browser reads the stored value).

// appendJournalBody appends the JSON of e after its id: `,"at":…}`. The
// id goes before it (appendJournalID) once the spool assigns it.
// A Detail that is not JSON is left out, and so said in the summary
// (json.Marshal refused the whole entry).
func appendJournalBody(b []byte, e *JournalEntry) []byte {
	b = append(b, `,"at":"`...)
	b = e.At.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if e.Offer != "" {
		b = appendJSONField(b, "offer", e.Offer)
	}
	b = appendJSONField(b, "kind", string(e.Kind))
	b = appendJSONField(b, "status", string(e.Status))
	b = appendJSONField(b, "duration", e.Duration.String())
	if e.Version != 0 {
		b = append(b, `,"version":`...)
		b = strconv.AppendUint(b, e.Version, 10)
	}
	if e.Node != "" {
		b = appendJSONField(b, "node", e.Node)
	}
	var detail bytes.Buffer
	summary := e.Summary
	if len(e.Detail) > 0 {
		if err := json.Compact(&detail, e.Detail); err != nil {
			detail.Reset()
			summary += " (detail not JSON, left out)"
		}
	}
	b = appendJSONField(b, "summary", summary)
	if e.Request != "" {
		b = appendJSONField(b, "request", e.Request)
	}
	if e.Response != "" {
		b = appendJSONField(b, "response", e.Response)
	}
	if len(e.Logs) > 0 {
		b = append(b, `,"logs":[`...)
		for i, l := range e.Logs {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendJSONString(b, l)
		}
		b = append(b, ']')
	}
	if detail.Len() > 0 {
		b = append(b, `,"detail":`...)
		b = append(b, detail.Bytes()...)
	}
	return append(b, '}')
}

// appendJournalID appends the start of an entry's JSON: `{"id":"…"`
// (text: ids pass 2^53).
func appendJournalID(b []byte, id uint64) []byte {
	b = append(b, `{"id":"`...)
	b = strconv.AppendUint(b, id, 10)
	return append(b, '"')
}

func appendJSONField(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return AppendJSONString(b, value)
}

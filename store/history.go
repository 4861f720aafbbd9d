package store

import (
	"sort"
	"strings"
)

// The history of a lead is its creation plus one entry per later change,
// each holding every changed field's old and new text. The creation entry
// is not stored: undoing the later entries, newest first, on the lead as it
// is now gives the lead as it was created. That saves a key per Add, the
// hottest write.

// diffOrder is the order diffLeads lists fields in; "fields.*" follow,
// sorted by name.
var diffOrder = []string{"offer", "ext", "status", "reason", "hold_until", "comment", "base", "counts",
	"curr", "goal", "track", "cash.wm", "cash.pay", "cash.ref", "cash.cc", "accepted_at"}

// zeroText is a field's text when it is unset, as diffLeads writes it.
func zeroText(field string) string {
	if field == "counts" {
		return "0"
	}
	return ""
}

// creationChange derives history entry 1 of cur from the entries after it.
func creationChange(cur *Lead, later []Change) Change {
	state := make(map[string]string, len(diffOrder)+len(cur.Fields))
	for _, f := range diffLeads(&Lead{}, cur, true) {
		state[f.Field] = f.New
	}
	for i := len(later) - 1; i >= 0; i-- {
		for _, f := range later[i].Fields {
			state[f.Field] = f.Old
		}
	}
	var fields []string
	for name := range state {
		if strings.HasPrefix(name, "fields.") {
			fields = append(fields, name)
		}
	}
	sort.Strings(fields)
	c := Change{Rev: 1, At: cur.addedAt, By: cur.addedBy}
	for _, name := range append(append([]string(nil), diffOrder...), fields...) {
		if v, ok := state[name]; ok && v != zeroText(name) {
			c.Fields = append(c.Fields, FieldChange{Field: name, Old: zeroText(name), New: v})
		}
	}
	return c
}

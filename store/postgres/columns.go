package postgres

import (
	"maps"

	"leadhost/store"
)

// changedColumns has bit i set for each column leadCasts[i] (the id
// aside) that differs between a and b. A column taken for changed that
// did not is written again; one missed would lose the edit, so every
// comparison errs towards changed (columns_test.go holds each field of
// store.Lead to a column, and this to the comparison of the columns'
// arguments it replaced, which cost ~4 µs a lead).
func changedColumns(a, b *store.Lead) uint64 {
	var cols uint64
	for i, c := range leadChanged {
		if c.changed != nil && c.changed(a, b) {
			cols |= 1 << i
		}
	}
	return cols
}

// leadChanged says, per column of leadCasts and in its order, whether
// the column's value differs between two versions of a lead. Times are
// compared as instants (what timestamptz keeps), money as its units and
// scale (its text, which keeps the scale, is a function of them), fields
// as maps (none and empty are both NULL).
var leadChanged = [...]struct {
	column  string
	changed func(a, b *store.Lead) bool
}{
	{"id", nil},
	{"offer", func(a, b *store.Lead) bool { return a.Offer != b.Offer }},
	{"ext", func(a, b *store.Lead) bool { return a.Ext != b.Ext }},
	{"status", func(a, b *store.Lead) bool { return a.Status != b.Status }},
	{"bucket", func(a, b *store.Lead) bool { return store.StatusBucket(a.Status) != store.StatusBucket(b.Status) }},
	{"reason", func(a, b *store.Lead) bool { return a.Reason != b.Reason }},
	{"hold_until", func(a, b *store.Lead) bool { return !a.HoldUntil.Equal(b.HoldUntil) }},
	{"comment", func(a, b *store.Lead) bool { return a.Comment != b.Comment }},
	{"base", func(a, b *store.Lead) bool { return a.Base != b.Base }},
	{"counts", func(a, b *store.Lead) bool { return a.Counts != b.Counts }},
	{"curr", func(a, b *store.Lead) bool { return a.Curr != b.Curr }},
	{"goal", func(a, b *store.Lead) bool { return a.Goal != b.Goal }},
	{"track", func(a, b *store.Lead) bool { return a.Track != b.Track }},
	{"cash_wm", func(a, b *store.Lead) bool { return a.Cash.WM != b.Cash.WM }},
	{"cash_pay", func(a, b *store.Lead) bool { return a.Cash.Pay != b.Cash.Pay }},
	{"cash_ref", func(a, b *store.Lead) bool { return a.Cash.Ref != b.Cash.Ref }},
	{"cash_cc", func(a, b *store.Lead) bool { return a.Cash.CC != b.Cash.CC }},
	{"fields", func(a, b *store.Lead) bool { return !maps.Equal(a.Fields, b.Fields) }},
	{"created", func(a, b *store.Lead) bool { return !a.Created.Equal(b.Created) }},
	{"updated", func(a, b *store.Lead) bool { return !a.Updated.Equal(b.Updated) }},
	{"accepted_at", func(a, b *store.Lead) bool { return !a.AcceptedAt.Equal(b.AcceptedAt) }},
	{"rev", func(a, b *store.Lead) bool { return a.Rev != b.Rev }},
}

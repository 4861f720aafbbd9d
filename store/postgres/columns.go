package postgres

import (
	"maps"
	"time"

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
// the column's value differs between two versions of a lead, and makes
// the column's array for a statement that writes leads. Times are
// compared as instants (what timestamptz keeps), money as its units and
// scale (its text, which keeps the scale, is a function of them), fields
// as maps (none and empty are both NULL).
var leadChanged = [...]struct {
	column  string
	changed func(a, b *store.Lead) bool
	// array is the column's query argument for leads, one element each
	// (leadRows.column); nil for the id, which leadRows keeps built.
	array func(leads []*store.Lead) any
}{
	{"id", nil, nil},
	{"offer", func(a, b *store.Lead) bool { return a.Offer != b.Offer },
		func(leads []*store.Lead) any { return each(leads, func(n *store.Lead) string { return n.Offer }) }},
	{"ext", func(a, b *store.Lead) bool { return a.Ext != b.Ext },
		func(leads []*store.Lead) any {
			return each(leads, func(n *store.Lead) *string { return nullText(n.Ext) })
		}},
	{"status", func(a, b *store.Lead) bool { return a.Status != b.Status },
		func(leads []*store.Lead) any {
			return each(leads, func(n *store.Lead) int16 { return int16(n.Status) })
		}},
	{"bucket", func(a, b *store.Lead) bool { return store.StatusBucket(a.Status) != store.StatusBucket(b.Status) },
		func(leads []*store.Lead) any {
			return each(leads, func(n *store.Lead) int16 { return int16(store.StatusBucket(n.Status)) })
		}},
	{"reason", func(a, b *store.Lead) bool { return a.Reason != b.Reason },
		func(leads []*store.Lead) any {
			return each(leads, func(n *store.Lead) int32 { return int32(n.Reason) })
		}},
	{"hold_until", func(a, b *store.Lead) bool { return !a.HoldUntil.Equal(b.HoldUntil) },
		func(leads []*store.Lead) any {
			return each(leads, func(n *store.Lead) *time.Time { return null(n.HoldUntil) })
		}},
	{"comment", func(a, b *store.Lead) bool { return a.Comment != b.Comment },
		func(leads []*store.Lead) any { return each(leads, func(n *store.Lead) string { return n.Comment }) }},
	{"base", func(a, b *store.Lead) bool { return a.Base != b.Base },
		func(leads []*store.Lead) any {
			return each(leads, func(n *store.Lead) string { return n.Base.String() })
		}},
	{"counts", func(a, b *store.Lead) bool { return a.Counts != b.Counts },
		func(leads []*store.Lead) any {
			return each(leads, func(n *store.Lead) int32 { return int32(n.Counts) })
		}},
	{"curr", func(a, b *store.Lead) bool { return a.Curr != b.Curr },
		func(leads []*store.Lead) any { return each(leads, func(n *store.Lead) int32 { return int32(n.Curr) }) }},
	{"goal", func(a, b *store.Lead) bool { return a.Goal != b.Goal },
		func(leads []*store.Lead) any { return each(leads, func(n *store.Lead) int64 { return int64(n.Goal) }) }},
	{"track", func(a, b *store.Lead) bool { return a.Track != b.Track },
		func(leads []*store.Lead) any { return each(leads, func(n *store.Lead) string { return n.Track }) }},
	{"cash_wm", func(a, b *store.Lead) bool { return a.Cash.WM != b.Cash.WM },
		func(leads []*store.Lead) any {
			return each(leads, func(n *store.Lead) string { return n.Cash.WM.String() })
		}},
	{"cash_pay", func(a, b *store.Lead) bool { return a.Cash.Pay != b.Cash.Pay },
		func(leads []*store.Lead) any {
			return each(leads, func(n *store.Lead) string { return n.Cash.Pay.String() })
		}},
	{"cash_ref", func(a, b *store.Lead) bool { return a.Cash.Ref != b.Cash.Ref },
		func(leads []*store.Lead) any {
			return each(leads, func(n *store.Lead) string { return n.Cash.Ref.String() })
		}},
	{"cash_cc", func(a, b *store.Lead) bool { return a.Cash.CC != b.Cash.CC },
		func(leads []*store.Lead) any {
			return each(leads, func(n *store.Lead) int32 { return int32(n.Cash.CC) })
		}},
	{"fields", func(a, b *store.Lead) bool { return !maps.Equal(a.Fields, b.Fields) },
		func(leads []*store.Lead) any { return each(leads, fieldsJSON) }},
	{"created", func(a, b *store.Lead) bool { return !a.Created.Equal(b.Created) },
		func(leads []*store.Lead) any { return each(leads, func(n *store.Lead) time.Time { return n.Created }) }},
	{"updated", func(a, b *store.Lead) bool { return !a.Updated.Equal(b.Updated) },
		func(leads []*store.Lead) any { return each(leads, func(n *store.Lead) time.Time { return n.Updated }) }},
	{"accepted_at", func(a, b *store.Lead) bool { return !a.AcceptedAt.Equal(b.AcceptedAt) },
		func(leads []*store.Lead) any {
			return each(leads, func(n *store.Lead) *time.Time { return null(n.AcceptedAt) })
		}},
	{"rev", func(a, b *store.Lead) bool { return a.Rev != b.Rev },
		func(leads []*store.Lead) any { return each(leads, func(n *store.Lead) int32 { return int32(n.Rev) }) }},
}

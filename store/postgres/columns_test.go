package postgres

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"leadhost/store"
)

// changedColumnsByArgs is what changedColumns replaced: the columns'
// query arguments of both leads compared one by one (times as the
// instants timestamptz keeps: the same instant in another zone is no
// change). Slow, but it cannot forget a column leadArgs writes;
// changedColumns must report every column it reports.
func changedColumnsByArgs(a, b *store.Lead) uint64 {
	var cols uint64
	x, y := leadArgs(a), leadArgs(b)
	for i := 1; i < len(x); i++ {
		if !reflect.DeepEqual(instant(x[i]), instant(y[i])) {
			cols |= 1 << i
		}
	}
	return cols
}

func TestLeadChangedNamesLeadCastsInOrder(t *testing.T) {
	if len(leadChanged) != len(leadCasts) {
		t.Fatalf("leadChanged has %d columns, leadCasts %d", len(leadChanged), len(leadCasts))
	}
	for i, c := range leadCasts {
		if leadChanged[i].column != c.column {
			t.Errorf("column %d: leadChanged has %q, leadCasts %q", i, leadChanged[i].column, c.column)
		}
		if (leadChanged[i].changed == nil) != (i == 0) {
			t.Errorf("column %q: a comparison for every column but the id", c.column)
		}
	}
}

// instant is a time argument in UTC, any other as it is.
func instant(arg any) any {
	switch v := arg.(type) {
	case time.Time:
		return v.UTC()
	case *time.Time:
		if v != nil {
			return v.UTC()
		}
	}
	return arg
}

// fullLead has every field of store.Lead set.
func fullLead() *store.Lead {
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	return &store.Lead{ID: 7, Offer: "acme", Ext: "e1", Status: store.StatusHold, Reason: 2, HoldUntil: at.Add(time.Hour),
		Comment: "c", Base: store.MoneyFromUnits(150, 2), Counts: 2, Curr: 643, Goal: 3, Track: "t",
		Cash:   store.Cash{WM: store.MoneyFromUnits(1, 0), Pay: store.MoneyFromUnits(2, 0), Ref: store.MoneyFromUnits(3, 0), CC: 840},
		Fields: map[string]string{"phone": "79990001122", "name": "Ann"}, Created: at, Updated: at.Add(time.Minute),
		AcceptedAt: at.Add(2 * time.Minute), Rev: 4}
}

// mutate gives the field at v another value of its kind.
func mutate(t *testing.T, name string, v reflect.Value) {
	switch v.Interface().(type) {
	case time.Time:
		v.Set(reflect.ValueOf(v.Interface().(time.Time).Add(time.Microsecond)))
		return
	case store.Money:
		m := v.Interface().(store.Money)
		v.Set(reflect.ValueOf(store.MoneyFromUnits(0, 0)))
		if m.IsZero() {
			v.Set(reflect.ValueOf(store.MoneyFromUnits(1, 0)))
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(v.Uint() + 1)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for _, k := range v.MapKeys() {
			m.SetMapIndex(k, v.MapIndex(k))
		}
		m.SetMapIndex(reflect.ValueOf("other"), reflect.ValueOf("value"))
		v.Set(m)
	default:
		t.Fatalf("field %s: no way to change a %s here: teach mutate, and changedColumns the field's column", name, v.Type())
	}
}

// TestChangedColumnsSeesEveryField changes each field of store.Lead in
// turn (nested structs field by field): each must change a column, at
// least every column the arguments' comparison saw change. A field added
// to store.Lead and forgotten here fails it.
func TestChangedColumnsSeesEveryField(t *testing.T) {
	var walk func(prefix string, typ reflect.Type, path []int)
	walk = func(prefix string, typ reflect.Type, path []int) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, p := prefix+f.Name, append(append([]int{}, path...), i)
			switch {
			case !f.IsExported():
				continue // who added the lead: written once, never edited
			case f.Name == "ID":
				continue // the row's key: never written
			case f.Name == "History":
				continue // filled by Store.History, not a column
			case f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Time]() && f.Type != reflect.TypeFor[store.Money]():
				walk(name+".", f.Type, p)
				continue
			}
			a, b := fullLead(), fullLead()
			mutate(t, name, reflect.ValueOf(b).Elem().FieldByIndex(p))
			want, got := changedColumnsByArgs(a, b), changedColumns(a, b)
			if got == 0 || got&want != want {
				t.Errorf("%s changed: columns %b, want at least %b and one", name, got, want)
			}
		}
	}
	walk("", reflect.TypeFor[store.Lead](), nil)
}

// TestChangedColumnsMissesNothing compares random pairs of leads whose
// fields each take one of a few values (equal ones among them: the same
// money at another scale, the same time in another zone, no fields and
// empty ones) with the arguments' comparison.
func TestChangedColumnsMissesNothing(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	pick := func(r *rand.Rand) *store.Lead {
		l := fullLead()
		times := []time.Time{{}, at, at.In(time.FixedZone("MSK", 3*3600)), at.Add(time.Microsecond)}
		money := []store.Money{{}, store.MoneyFromUnits(1, 0), store.MoneyFromUnits(10, 1), store.MoneyFromUnits(2, 0)}
		fields := []map[string]string{nil, {}, {"phone": "1"}, {"phone": "2"}, {"phone": "1", "email": "a@b.c"}}
		l.Ext = []string{"", "e1", "e2"}[r.IntN(3)]
		l.Status = store.Status(1 + r.IntN(12))
		l.Reason = store.Reason(r.IntN(2))
		l.HoldUntil, l.AcceptedAt = times[r.IntN(len(times))], times[r.IntN(len(times))]
		l.Created, l.Updated = times[r.IntN(len(times))], times[r.IntN(len(times))]
		l.Comment, l.Track = []string{"", "c"}[r.IntN(2)], []string{"", "t"}[r.IntN(2)]
		l.Base, l.Cash.WM = money[r.IntN(len(money))], money[r.IntN(len(money))]
		l.Cash.Pay, l.Cash.Ref = money[r.IntN(len(money))], money[r.IntN(len(money))]
		l.Counts, l.Goal, l.Rev = r.IntN(2), uint32(r.IntN(2)), uint32(r.IntN(2))
		l.Curr, l.Cash.CC = store.Currency(r.IntN(2)), store.Currency(r.IntN(2))
		l.Fields = fields[r.IntN(len(fields))]
		return l
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		a, b := pick(r), pick(r)
		if want, got := changedColumnsByArgs(a, b), changedColumns(a, b); got&want != want {
			t.Fatalf("columns %b, want at least %b:\n%+v\n%+v", got, want, a, b)
		}
	}
}

// BenchmarkChangedColumns is one lead's comparison, as a check answer's
// edit makes it (status, hold, comment, updated, rev).
func BenchmarkChangedColumns(b *testing.B) {
	a := fullLead()
	n := *a
	n.Status, n.HoldUntil, n.Comment, n.Updated, n.Rev = store.StatusCallback, time.Time{}, "note", a.Updated.Add(time.Second), a.Rev+1
	b.ReportAllocs()
	for b.Loop() {
		changedColumns(a, &n)
	}
}

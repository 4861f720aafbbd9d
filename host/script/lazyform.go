package script

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// req.query and req.form are read from the request until the script does
// more than read a field (issue 16): made whole, the five arguments of a
// Getcourse call cost the run 19 allocations before the script looked at
// one (gopher-lua boxes every key twice and grows a key list and an
// index per table). Each starts as an empty table under a metatable of
// the state's whose __index answers a field that is one text from the
// request's map, storing nothing: a read costs one boxed value. Any other
// use makes the table whole, as the eager one was, without a metatable:
// a read of a field that is a list (tag[]=, a name sent twice), an
// assignment (__newindex), and whatever made req whole (lazyreq.go:
// pairs, next, rawget, rawset, json.encode, a reply, the modules that
// take a table, setmetatable); getmetatable says nil meanwhile.

// lazyForm is req.query's or req.form's table while it is not made.
type lazyForm struct {
	t    *lua.LTable
	vals map[string][]string
}

// The forms' places in vm.forms.
const (
	formQuery = iota
	formForm
)

// newFormMeta is the state's metatable of every run's lazy forms.
func (v *vm) newFormMeta() *lua.LTable { return v.newLazyMeta(v.formIndex, v.formNewIndex) }

// lazyFormTable makes the run's form at place i (formQuery, formForm)
// for vals: an empty table, its fields read from vals until it is made.
func (v *vm) lazyFormTable(i int, vals map[string][]string) *lua.LTable {
	t := v.L.CreateTable(0, 0) // NewTable's would be sized for 32 fields
	t.Metatable = v.formMeta
	v.forms[i] = lazyForm{t: t, vals: vals}
	return t
}

// lazyFormOf is t's lazy form, or nil when t is none (or made already).
func (v *vm) lazyFormOf(t *lua.LTable) *lazyForm {
	if t.Metatable != v.formMeta {
		return nil
	}
	for i := range v.forms {
		if v.forms[i].t == t {
			return &v.forms[i]
		}
	}
	return nil
}

// formIndex is a lazy form's __index. A field made whole would be the
// text of vals[k] when that is the name's one value and no list k[]=
// shares the table's key (formTable); a list is made with the whole
// table, as are the rare fields made from both.
func (v *vm) formIndex(L *lua.LState) int {
	t, k := L.CheckTable(1), L.Get(2)
	f := v.lazyFormOf(t)
	name, ok := k.(lua.LString)
	if f == nil || !ok {
		L.Push(lua.LNil)
		return 1
	}
	var vs []string
	plain := false
	if !strings.HasSuffix(string(name), "[]") { // vals["a[]"] is field a, never field "a[]"
		vs, plain = f.vals[string(name)]
	}
	_, list := f.vals[string(name)+"[]"]
	switch {
	case plain && !list && len(vs) == 1:
		L.Push(lua.LString(vs[0]))
	case !plain && !list:
		L.Push(lua.LNil)
	default:
		v.makeForm(f)
		L.Push(t.RawGet(k))
	}
	return 1
}

// formNewIndex is a lazy form's __newindex: the table is made, then
// the script's from then on.
func (v *vm) formNewIndex(L *lua.LState) int {
	t, k, val := L.CheckTable(1), L.CheckAny(2), L.CheckAny(3)
	if f := v.lazyFormOf(t); f != nil {
		v.makeForm(f)
	}
	L.RawSet(t, k, val) // raises for a nil or NaN key, as a plain table's assignment does
	return 0
}

// makeForm makes f's table whole, a plain table as an eager req had.
func (v *vm) makeForm(f *lazyForm) {
	t, vals := f.t, f.vals
	*f = lazyForm{}
	t.Metatable = lua.LNil
	fillForm(v.L, t, vals)
}

package script

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// A hook's req is made as the script reads it (issue 16): most hooks read
// req.query and nothing else, and making every field as Lua tables (the
// headers lowercased, the body copied into a string) cost a webhook's
// run 60 allocations before its first instruction. req starts empty
// (but for json, decoded before the run so that a body that does not
// decode fails the call as before) under a metatable of the state's
// whose __index makes a field at its first read and stores it in req:
// later reads, and the script's own changes, are plain table accesses.
//
// What a script can see stays what an eager req showed: __newindex
// marks a field the script assigns before reading it (req.query = nil
// stays nil); pairs, next, rawget and json.encode (and a reply, and
// http.request's json) make every field first; getmetatable(req) is nil,
// and setmetatable(req, mt) makes every field and hands req over to mt.

// The fields made on first read, in the order an eager req had them.
var lazyReqFields = [...]string{"method", "query", "form", "headers", "ip", "body"}

// lazyReq is the run's req while some field is not made yet.
type lazyReq struct {
	t    *lua.LTable
	r    *HookRequest
	made uint8 // bit i: lazyReqFields[i] is made or was assigned
}

const allReqFields = 1<<len(lazyReqFields) - 1

// newReqMeta is the state's metatable of every run's req.
func (v *vm) newReqMeta() *lua.LTable { return v.newLazyMeta(v.reqIndex, v.reqNewIndex) }

// newLazyMeta is a metatable of the state's, shared by every run, for a
// table whose fields are made as they are read (index) and that becomes
// a plain table when written (newIndex).
func (v *vm) newLazyMeta(index, newIndex lua.LGFunction) *lua.LTable {
	mt := v.L.CreateTable(0, 2)
	mt.RawSetString("__index", v.L.NewFunction(index))
	mt.RawSetString("__newindex", v.L.NewFunction(newIndex))
	v.shared[mt] = true
	return mt
}

// lazyRequest makes the run's req for r: an empty table, its fields
// made on first read.
func (v *vm) lazyRequest(r *HookRequest) *lua.LTable {
	t := v.L.CreateTable(0, len(lazyReqFields)+1)
	t.Metatable = v.reqMeta
	v.reqState = lazyReq{t: t, r: r}
	v.req = &v.reqState
	return t
}

// isLazyReq says whether t is a req with fields not made yet.
func (v *vm) isLazyReq(t *lua.LTable) bool {
	return v.req != nil && t == v.req.t && t.Metatable == v.reqMeta
}

func reqField(k lua.LValue) int {
	if s, ok := k.(lua.LString); ok {
		for i, name := range lazyReqFields {
			if string(s) == name {
				return i
			}
		}
	}
	return -1
}

// reqIndex is req's __index: a field not made yet is made now.
func (v *vm) reqIndex(L *lua.LState) int {
	t, k := L.CheckTable(1), L.Get(2)
	i := reqField(k)
	if i < 0 || !v.isLazyReq(t) || v.req.made&(1<<i) != 0 {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(v.makeReqField(i))
	return 1
}

// reqNewIndex is req's __newindex: a field the script sets before
// reading it is the script's from then on.
func (v *vm) reqNewIndex(L *lua.LState) int {
	t, k, val := L.CheckTable(1), L.CheckAny(2), L.CheckAny(3)
	if i := reqField(k); i >= 0 && v.isLazyReq(t) {
		v.req.made |= 1 << i
	}
	L.RawSet(t, k, val) // raises for a nil or NaN key, as a plain table's assignment does
	return 0
}

// makeReqField makes field i of the run's req and stores it there.
func (v *vm) makeReqField(i int) lua.LValue {
	lr, L := v.req, v.L
	lr.made |= 1 << i
	var val lua.LValue
	switch r := lr.r; lazyReqFields[i] {
	case "method":
		val = lua.LString(r.Method)
	case "query":
		val = v.lazyFormTable(formQuery, r.Query)
	case "form":
		val = v.lazyFormTable(formForm, r.Form)
	case "headers":
		h := L.CreateTable(0, len(r.Headers))
		for k, v := range r.Headers {
			h.RawSetString(strings.ToLower(k), lua.LString(v))
		}
		val = h
	case "ip":
		val = lua.LString(r.IP)
	case "body":
		val = lua.LString(r.Body)
	}
	lr.t.RawSetString(lazyReqFields[i], val)
	return val
}

// fillReq makes every field of the run's req not made yet: before
// anything that sees a table whole.
func (v *vm) fillReq() {
	if v.req == nil {
		return
	}
	for i := range lazyReqFields {
		if v.req.made&(1<<i) == 0 {
			v.makeReqField(i)
		}
	}
}

// fillIfReq makes req whole when t is it, and req.query or req.form
// when t is one of them (lazyform.go).
func (v *vm) fillIfReq(t *lua.LTable) {
	if v.isLazyReq(t) {
		v.fillReq()
	} else if f := v.lazyFormOf(t); f != nil {
		v.makeForm(f)
	}
}

// whole is t, made whole first if it is req: for the modules that read
// a table the script hands them.
func (v *vm) whole(t *lua.LTable) *lua.LTable {
	v.fillIfReq(t)
	return t
}

// toJSON is ToJSON with req made whole wherever the value holds it.
func (v *vm) toJSON(lv lua.LValue) ([]byte, error) {
	return appendJSON(make([]byte, 0, 64), lv, 0, v.fillTable)
}

// next is Lua's next, req made whole first.
func (v *vm) next(L *lua.LState) int {
	t := L.CheckTable(1)
	v.fillIfReq(t)
	key, val := t.Next(L.Get(2))
	if key == lua.LNil {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(key)
	L.Push(val)
	return 2
}

// pairs is Lua's pairs, with next above.
func (v *vm) pairs(L *lua.LState) int {
	t := L.CheckTable(1)
	v.fillIfReq(t)
	L.Push(v.nextFn)
	L.Push(t)
	L.Push(lua.LNil)
	return 3
}

// rawget is Lua's rawget, req made whole first.
func (v *vm) rawget(L *lua.LState) int {
	t := L.CheckTable(1)
	v.fillIfReq(t)
	L.Push(t.RawGet(L.CheckAny(2)))
	return 1
}

// getmetatable is Lua's, with req's own and its forms' hidden: they had
// none.
func (v *vm) getmetatable(orig *lua.LFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		if t, ok := L.Get(1).(*lua.LTable); ok && (t.Metatable == v.reqMeta || t.Metatable == v.formMeta) {
			L.Push(lua.LNil)
			return 1
		}
		return orig.GFunction(L)
	}
}

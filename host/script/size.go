package script

import (
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

// size estimates the bytes a run holds, from what it can reach: its
// globals, the current frame's registers, and the locals and upvalues
// of the frames on its stack. It runs on the run's goroutine (the meter
// calls it between instructions) and stops counting past limit, so that
// measuring a hostile run costs no more than its bound.
//
// The figures are Go's: a string's bytes (a long string counted once,
// however many tables hold it), about 40 bytes a table entry, 64 a table
// or function. The sandbox's shared tables are not the run's.
func (v *vm) size(L *lua.LState, limit int64) int64 {
	w := sizeWalk{limit: limit, tables: map[*lua.LTable]bool{}, funcs: map[*lua.LFunction]bool{}, strs: map[*byte]bool{}}
	for t := range v.shared {
		w.tables[t] = true
	}
	w.tables[v.base], w.tables[v.meta] = true, true
	if v.globals != nil {
		w.push(v.globals)
	}
	for i := 1; i <= L.GetTop(); i++ {
		w.push(L.Get(i))
	}
	// Levels past the frames (or hidden by tail calls) answer with the
	// bottom frame again: the loop is bounded by the call stack's size.
	frames := map[lua.Debug]bool{}
	for level := 0; level <= v.limits.CallStack && !w.over(); level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			break
		}
		if frames[*dbg] {
			continue
		}
		frames[*dbg] = true
		if fn, err := L.GetInfo("f", dbg, lua.LNil); err == nil {
			w.push(fn)
		}
		for n := 1; ; n++ {
			name, val := L.GetLocal(dbg, n)
			if name == "" {
				break
			}
			w.push(val)
		}
		w.run()
	}
	w.run()
	return w.n
}

// sizeWalk visits values with a stack of its own: a table nested a
// million deep must not nest Go calls as deep.
type sizeWalk struct {
	limit, n int64
	todo     []lua.LValue
	tables   map[*lua.LTable]bool
	funcs    map[*lua.LFunction]bool
	strs     map[*byte]bool
}

func (w *sizeWalk) over() bool { return w.n > w.limit }

func (w *sizeWalk) push(v lua.LValue) {
	switch v := v.(type) {
	case lua.LString:
		if len(v) >= 1024 {
			p := unsafe.StringData(string(v))
			if w.strs[p] {
				return
			}
			w.strs[p] = true
		}
		w.n += int64(len(v)) + 16
	case *lua.LTable, *lua.LFunction:
		w.todo = append(w.todo, v)
	case *lua.LUserData:
		w.n += 64
	default:
		w.n += 16
	}
}

func (w *sizeWalk) run() {
	for len(w.todo) > 0 && !w.over() {
		v := w.todo[len(w.todo)-1]
		w.todo = w.todo[:len(w.todo)-1]
		switch v := v.(type) {
		case *lua.LTable:
			if w.tables[v] {
				continue
			}
			w.tables[v] = true
			w.n += 64
			if v.Metatable != lua.LNil {
				w.push(v.Metatable)
			}
			for k, val := v.Next(lua.LNil); k != lua.LNil && !w.over(); k, val = v.Next(k) {
				w.n += 40
				w.push(k)
				w.push(val)
			}
		case *lua.LFunction:
			if w.funcs[v] {
				continue
			}
			w.funcs[v] = true
			w.n += 64
			for _, uv := range v.Upvalues {
				if uv != nil {
					w.push(uv.Value())
				}
			}
		}
	}
}

// quickStrings is the bytes of the strings a run holds where a growing
// string is: the current frame's registers and locals, and the first
// globals. What a run measured a moment ago is looked at so meanwhile
// (meter.look), at the cost of a few hundred loads at most.
func (v *vm) quickStrings(L *lua.LState) int64 {
	var n int64
	add := func(val lua.LValue) {
		if s, ok := val.(lua.LString); ok {
			n += int64(len(s))
		}
	}
	for i := 1; i <= L.GetTop(); i++ {
		add(L.Get(i))
	}
	if dbg, ok := L.GetStack(0); ok {
		for k := 1; k <= 256; k++ {
			name, val := L.GetLocal(dbg, k)
			if name == "" {
				break
			}
			add(val)
		}
	}
	if g := v.globals; g != nil {
		k, val := g.Next(lua.LNil)
		for i := 0; i < 256 && k != lua.LNil; i++ {
			add(val)
			k, val = g.Next(k)
		}
	}
	return n
}

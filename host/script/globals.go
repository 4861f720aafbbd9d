package script

import (
	"slices"

	lua "github.com/yuin/gopher-lua"
)

// A run's global table is kept for the state's next run when the run
// left it as setup made it (issue 16): a fresh table, its _G entry and
// the bookkeeping gopher-lua adds to a table's first string key cost an
// empty run half of its allocations. Nothing of a run may reach the next
// (TestGlobalsDoNotLeakBetweenRuns): the table is kept only when the
// script added no key to it (the globals' __newindex, rawset and
// table.insert mark the run dirty; a final walk makes sure), _G is still
// the table itself, and the keys setup put there are removed. A table the
// script added keys to, even ones it removed again, is dropped: gopher-
// lua keeps a removed key's slot, and a kept table would grow with them.

// newGlobal is the globals' __newindex: a global the script creates.
func (v *vm) newGlobal(L *lua.LState) int {
	t, k, val := L.CheckTable(1), L.CheckAny(2), L.CheckAny(3)
	v.touchGlobals(t)
	L.RawSet(t, k, val) // raises for a nil or NaN key, as a plain table's assignment does
	return 0
}

// touchGlobals marks the run's globals as added to when t is them.
func (v *vm) touchGlobals(t *lua.LTable) {
	if t == v.globals {
		v.globalsDirty = true
	}
}

// globalsFor returns the run's global table: the last run's, kept, or a
// new one.
func (v *vm) globalsFor() *lua.LTable {
	if g := v.spareGlobals; g != nil {
		v.spareGlobals = nil
		return g
	}
	return v.newGlobals()
}

// noteSetup records the keys setup put in g, before the script runs.
func (v *vm) noteSetup(g *lua.LTable) {
	v.setupKeys = v.setupKeys[:0]
	for k, _ := g.Next(lua.LNil); k != lua.LNil; k, _ = g.Next(k) {
		if s, ok := k.(lua.LString); ok && s != "_G" {
			v.setupKeys = append(v.setupKeys, string(s))
		}
	}
}

// keepGlobals keeps g for the next run if the run left it as setup made
// it, with setup's keys removed.
func (v *vm) keepGlobals(g *lua.LTable) {
	if v.globalsDirty || g.Metatable != v.meta || g.RawGetString("_G") != g {
		return
	}
	for k, _ := g.Next(lua.LNil); k != lua.LNil; k, _ = g.Next(k) {
		s, ok := k.(lua.LString)
		if !ok || (s != "_G" && !slices.Contains(v.setupKeys, string(s))) {
			return
		}
	}
	for _, k := range v.setupKeys {
		g.RawSetString(k, lua.LNil)
	}
	v.spareGlobals = g
}

// tableInsert is table.insert, which adds to a table without __newindex.
func (v *vm) tableInsert(orig *lua.LFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		v.touchGlobals(L.CheckTable(1))
		return orig.GFunction(L)
	}
}

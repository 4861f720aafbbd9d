package script

import (
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// vm is one sandboxed Lua state and the tables every run on it shares.
type vm struct {
	L      *lua.LState
	base   *lua.LTable // what a run's globals fall back to; unreachable from scripts
	meta   *lua.LTable // metatable of every run's globals: __index = base, locked
	shared map[*lua.LTable]bool
	limits Limits
	run    *Run // the run in progress, read by the modules
	// keepError is the error handler of every protected call (protect.go).
	keepError *lua.LFunction
	// meter and globals are the run in progress's (meter.go, size.go).
	meter   *meter
	globals *lua.LTable
	// reqMeta is the metatable of a hook's req, req the run's while it
	// is being made (lazyreq.go); nextFn is the sandbox's next.
	reqMeta *lua.LTable
	req     *lazyReq
	nextFn  *lua.LFunction
	// formMeta is the metatable of req.query and req.form while they
	// are read field by field, forms the run's (lazyform.go).
	formMeta *lua.LTable
	forms    [2]lazyForm
	// fillTable makes req whole if t is it: the JSON encoder's view.
	fillTable func(t *lua.LTable)
	// spareGlobals is the last run's global table, kept for the next
	// (globals.go); setupKeys the keys the run's setup put in its globals;
	// globalsDirty says the script added to them.
	spareGlobals *lua.LTable
	setupKeys    []string
	globalsDirty bool
	// timer and expired are the state's deadline (deadline.go).
	timer   *deadlineTimer
	expired chan struct{}
	// env is the run in progress's Env, rets what it returned, reqState
	// its req's (Pool.Run, lazyreq.go): the state's, one run at a time.
	env      Env
	rets     []lua.LValue
	reqState lazyReq
	// calls starts a run's call on the state's goroutine (serve), done
	// says how it ended.
	calls chan struct{}
	done  chan error
}

// serve makes the calls of the state's runs, one at a time, on a
// goroutine kept with the state until it is closed: a goroutine per run
// (started, and its stack grown to the VM's depth, every time) cost an
// empty run a fifth of its CPU.
func (v *vm) serve() {
	for range v.calls {
		v.done <- v.protectedCall(0, lua.MultRet)
	}
}

// close closes the state and ends its goroutine; never while it runs a
// call.
func (v *vm) close() {
	close(v.calls)
	v.L.Close()
}

// The sandbox (SPEC §2): base without the loaders and the debugging or
// environment functions, table, string, math, and os.time/date/clock. No
// io, no package/require, no coroutines, no os.execute or os.exit.
var (
	allowedBase = []string{"assert", "error", "ipairs", "rawequal",
		"select", "tonumber", "tostring", "type", "unpack", "_VERSION"}
	allowedOs = []string{"time", "date", "clock"}
)

func init() {
	// An assignment t[n] = x pads a table's array part with nils up to n
	// (gopher-lua), below this bound; above it, keys go to the hash part.
	// The default (64 Mi) lets one statement allocate gigabytes.
	lua.MaxArrayIndex = 1 << 20
}

func newVM(limits Limits) *vm {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:        true,
		CallStackSize:       limits.CallStack,
		RegistrySize:        limits.Registry,
		RegistryMaxSize:     limits.RegistryMax,
		MinimizeStackMemory: true,
	})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath}, {lua.OsLibName, lua.OpenOs}} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	v := &vm{L: L, base: L.NewTable(), shared: make(map[*lua.LTable]bool), limits: limits, keepError: L.NewFunction(keepError)}
	G := L.G.Global
	for _, name := range allowedBase {
		v.base.RawSetString(name, G.RawGetString(name))
	}
	v.base.RawSetString("print", L.NewFunction(v.print))
	v.base.RawSetString("pcall", L.NewFunction(v.pcall))
	v.base.RawSetString("xpcall", L.NewFunction(v.xpcall))
	v.base.RawSetString("rawset", L.NewFunction(v.rawset))
	v.base.RawSetString("setmetatable", L.NewFunction(v.setmetatable))
	// next, pairs, rawget and getmetatable see a hook's req as if it had
	// been made whole (lazyreq.go).
	v.reqMeta = v.newReqMeta()
	v.formMeta = v.newFormMeta()
	v.fillTable = v.fillIfReq
	v.nextFn = L.NewFunction(v.next)
	v.base.RawSetString("next", v.nextFn)
	v.base.RawSetString("pairs", L.NewFunction(v.pairs))
	v.base.RawSetString("rawget", L.NewFunction(v.rawget))
	v.base.RawSetString("getmetatable", L.NewFunction(v.getmetatable(G.RawGetString("getmetatable").(*lua.LFunction))))

	str := G.RawGetString("string").(*lua.LTable)
	rep, format := str.RawGetString("rep").(*lua.LFunction), str.RawGetString("format").(*lua.LFunction)
	str.RawSetString("rep", L.NewFunction(v.capRep(rep)))
	str.RawSetString("format", L.NewFunction(v.capFormat(format)))
	for name, fn := range map[string]lua.LGFunction{"find": v.strFind, "match": v.strMatch, "gmatch": v.strGmatch, "gsub": v.strGsub} {
		str.RawSetString(name, L.NewFunction(fn)) // patterns.go: they stop with their run
	}
	str.RawSetString("gfind", str.RawGetString("gmatch"))
	tbl := G.RawGetString("table").(*lua.LTable)
	concat := tbl.RawGetString("concat").(*lua.LFunction)
	tbl.RawSetString("concat", L.NewFunction(v.capConcat(concat)))
	tbl.RawSetString("insert", L.NewFunction(v.tableInsert(tbl.RawGetString("insert").(*lua.LFunction))))
	osLib := G.RawGetString("os").(*lua.LTable)
	safeOs := L.NewTable()
	for _, name := range allowedOs {
		safeOs.RawSetString(name, osLib.RawGetString(name))
	}
	for name, lib := range map[string]*lua.LTable{"string": str, "table": tbl, "math": G.RawGetString("math").(*lua.LTable), "os": safeOs} {
		v.base.RawSetString(name, v.readOnly(name, lib))
	}
	// ("x"):upper() reaches the string library through the strings'
	// metatable; lock it so that getmetatable("") cannot hand it out.
	if mt, ok := L.GetMetatable(lua.LString("")).(*lua.LTable); ok {
		mt.RawSetString("__metatable", lua.LFalse)
	}
	for _, m := range builtinModules {
		v.base.RawSetString(m.name, v.readOnly(m.name, m.open(v)))
	}
	v.meta = L.NewTable()
	v.meta.RawSetString("__index", v.base)
	v.meta.RawSetString("__newindex", L.NewFunction(v.newGlobal))
	v.meta.RawSetString("__metatable", lua.LFalse)
	v.calls, v.done = make(chan struct{}), make(chan error, 1)
	go v.serve()
	return v
}

// newGlobals makes a run's global table: empty, falling back to the
// sandbox, so that nothing a run defines is seen by the next.
func (v *vm) newGlobals() *lua.LTable {
	g := v.L.CreateTable(0, 8)
	g.RawSetString("_G", g)
	v.L.SetMetatable(g, v.meta)
	return g
}

// readOnly wraps a library table so that scripts can use but not change it:
// it is shared by every run on the state.
func (v *vm) readOnly(name string, lib *lua.LTable) *lua.LTable {
	proxy := v.L.NewTable()
	mt := v.L.NewTable()
	mt.RawSetString("__index", lib)
	mt.RawSetString("__newindex", v.L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("%s is read-only", name)
		return 0
	}))
	mt.RawSetString("__metatable", lua.LFalse)
	v.L.SetMetatable(proxy, mt)
	v.shared[proxy] = true
	return proxy
}

// moduleTable is a module's table of functions, e.g. json's encode and
// decode; newVM makes it read-only and a global.
func (v *vm) moduleTable(funcs map[string]lua.LGFunction) *lua.LTable {
	t := v.L.CreateTable(0, len(funcs))
	for fname, fn := range funcs {
		t.RawSetString(fname, v.L.NewFunction(fn))
	}
	return t
}

func (v *vm) print(L *lua.LState) int {
	parts := make([]string, L.GetTop())
	for i := range parts {
		parts[i] = L.ToStringMeta(L.Get(i + 1)).String()
	}
	if r := v.run; r != nil {
		r.logFenced(L, "print", strings.Join(parts, "\t"))
	}
	return 0
}

// setmetatable takes tables only, as in Lua 5.1: gopher-lua would also
// set the one metatable all numbers (or booleans, or functions) share,
// which the next run on the state would inherit.
func (v *vm) setmetatable(L *lua.LState) int {
	t := L.CheckTable(1)
	if v.shared[t] {
		L.RaiseError("setmetatable: a library table is read-only")
	}
	L.CheckTypes(2, lua.LTNil, lua.LTTable)
	if v.isLazyReq(t) {
		v.fillReq() // req is the script's from now on, as a plain table
		t.Metatable = lua.LNil
	}
	if f := v.lazyFormOf(t); f != nil {
		v.makeForm(f) // a plain table, as req's are made above
	}
	if mt, ok := t.Metatable.(*lua.LTable); ok && mt.RawGetString("__metatable") != lua.LNil {
		L.RaiseError("cannot change a protected metatable")
	}
	L.SetMetatable(t, L.Get(2))
	L.SetTop(1)
	return 1
}

func (v *vm) rawset(L *lua.LState) int {
	t := L.CheckTable(1)
	if v.shared[t] {
		L.RaiseError("rawset: a library table is read-only")
	}
	v.fillIfReq(t)
	v.touchGlobals(t)
	L.RawSet(t, L.CheckAny(2), L.CheckAny(3)) // raises for a nil or NaN key, as Lua's rawset does
	L.SetTop(1)
	return 1
}

// The builtins below can make a huge string in one call, which no deadline
// interrupts; they check the size first.

func (v *vm) tooBig(L *lua.LState, fn string, n int64) {
	if n > int64(v.limits.MaxString) {
		L.RaiseError("%s: result of %d bytes exceeds the limit of %d", fn, n, v.limits.MaxString)
	}
}

func (v *vm) capRep(orig *lua.LFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		s, n := L.CheckString(1), L.CheckNumber(2)
		if size := float64(len(s)) * float64(n); size > float64(v.limits.MaxString) {
			v.tooBig(L, "string.rep", int64(min(size, 1<<62)))
		}
		return orig.GFunction(L)
	}
}

func (v *vm) capFormat(orig *lua.LFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		f := L.CheckString(1)
		for i := 0; i < len(f); i++ {
			if f[i] != '%' {
				continue
			}
			j := i + 1
			for j < len(f) && strings.IndexByte("-+ #0", f[j]) >= 0 {
				j++
			}
			width := 0
			for ; j < len(f) && f[j] >= '0' && f[j] <= '9'; j++ {
				width = min(width*10+int(f[j]-'0'), 1<<20)
			}
			prec := 0
			if j < len(f) && f[j] == '.' {
				for j++; j < len(f) && f[j] >= '0' && f[j] <= '9'; j++ {
					prec = min(prec*10+int(f[j]-'0'), 1<<20)
				}
			}
			if width > 1000 || prec > 1000 {
				L.RaiseError("string.format: width or precision above 1000 in %q", f)
			}
			i = j
		}
		// The result holds the format and every argument's text: a
		// string argument can be as long as MaxString, and "%s%s" doubles it.
		size := int64(len(f))
		for i := 2; i <= L.GetTop(); i++ {
			if s, ok := L.Get(i).(lua.LString); ok {
				size += int64(len(s))
			} else {
				size += 1024 // a number, or %s of another value: bounded by the width checks above
			}
		}
		v.tooBig(L, "string.format", size)
		return orig.GFunction(L)
	}
}

func (v *vm) capConcat(orig *lua.LFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		t := L.CheckTable(1)
		sep := L.OptString(2, "")
		i, j := L.OptInt(3, 1), L.OptInt(4, t.Len())
		var size int64
		for k := i; k <= j && k-i < 1<<24; k++ {
			size += int64(len(lua.LVAsString(t.RawGetInt(k)))) + int64(len(sep))
			if size > int64(v.limits.MaxString) {
				v.tooBig(L, "table.concat", size)
			}
		}
		return orig.GFunction(L)
	}
}

// errorf is how module functions raise errors a script author can act on.
func errorf(L *lua.LState, format string, a ...any) {
	L.RaiseError("%s", fmt.Sprintf(format, a...))
}

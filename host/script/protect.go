package script

import lua "github.com/yuin/gopher-lua"

// Protected calls without a traceback.
//
// gopher-lua's PCall with no error handler formats a traceback of the
// failed call (LState.stackTrace), and that traceback has one line per
// tail call the frames made: callFrame.TailCall counts them (OP_TAILCALL
// reuses the frame and adds one), and stackTrace appends "(tailcall): ?"
// that many times before cutting the list to 20 lines. An endless tail
// recursion stopped at its deadline has made tens of millions of tail
// calls, so the failure itself then allocated gigabytes and took seconds
// of CPU, long after the caller had given up (issue 12, item 4). The
// deadline was checked all along: the VM raised the error at the first
// instruction past it; the cost was the traceback of that error.
//
// With an error handler, PCall builds no traceback: it calls the handler
// with the error value instead. keepError is that handler, a Go function
// that returns the error as it is, so that it runs even when the run's
// context is done (a Lua handler would be stopped at once, and that
// failure would build the traceback again). When the call stack is full,
// calling the handler fails too, but with the states' growing call stack
// (MinimizeStackMemory) an overflow is a Go panic, which PCall reports
// without a traceback. Scripts' own pcall and xpcall go through the same
// path (pcall and xpcall below).

// keepError is PCall's error handler: the error value, unchanged.
func keepError(L *lua.LState) int { return 1 }

// protectedCall is L.PCall without a traceback; the function and its
// nargs arguments are on the stack.
func (v *vm) protectedCall(nargs, nret int) error {
	return v.L.PCall(nargs, nret, v.keepError)
}

// pcall is Lua's pcall(f, ...), without gopher-lua's traceback.
func (v *vm) pcall(L *lua.LState) int {
	L.CheckAny(1)
	if fn := L.Get(1); fn.Type() != lua.LTFunction && L.GetMetaField(fn, "__call").Type() != lua.LTFunction {
		L.Push(lua.LFalse)
		L.Push(lua.LString("attempt to call a " + fn.Type().String() + " value"))
		return 2
	}
	if err := L.PCall(L.GetTop()-1, lua.MultRet, v.keepError); err != nil {
		L.Push(lua.LFalse)
		L.Push(errorValue(err))
		return 2
	}
	L.Insert(lua.LTrue, 1)
	return L.GetTop()
}

// xpcall is Lua's xpcall(f, handler). The handler sees the error after
// the failed call has unwound, not at the point of the error as in
// Lua 5.1; the sandbox has no debug library that could tell the two
// apart. A handler that fails itself is answered with its own error.
func (v *vm) xpcall(L *lua.LState) int {
	fn := L.CheckFunction(1)
	handler := L.CheckFunction(2)
	top := L.GetTop()
	L.Push(fn)
	if err := L.PCall(0, lua.MultRet, v.keepError); err != nil {
		L.SetTop(top)
		L.Push(handler)
		L.Push(errorValue(err))
		if herr := L.PCall(1, 1, v.keepError); herr != nil {
			L.SetTop(top)
			L.Push(lua.LFalse)
			L.Push(errorValue(herr))
			return 2
		}
		res := L.Get(-1)
		L.SetTop(top)
		L.Push(lua.LFalse)
		L.Push(res)
		return 2
	}
	L.Insert(lua.LTrue, top+1)
	return L.GetTop() - top
}

// errorValue is the value a failed protected call raised.
func errorValue(err error) lua.LValue {
	if api, ok := err.(*lua.ApiError); ok && api.Object != nil {
		return api.Object
	}
	return lua.LString(err.Error())
}

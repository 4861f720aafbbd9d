package script

import (
	"strconv"
	"strings"
	"unsafe"

	lua "github.com/yuin/gopher-lua"

	"leadhost/host/script/pattern"
)

// The sandbox's string.find, match, gmatch and gsub: gopher-lua's
// (stringlib.go), on a matcher that asks the run whether to go on as it
// backtracks (host/script/pattern). gopher-lua's own cannot be stopped:
// four stuck pattern calls burned 83 CPU-seconds after their runs were
// abandoned, and moved another offer's webhook p99 from 1.5 to 126 ms.
// Now a pattern call stops at the run's deadline (or at any bound the
// run is stopped for) within 4096 matcher steps. gmatch and gsub take
// their matches one at a time, and gsub's result counts against
// MaxString as it grows.

// patternStop is the matcher's question, every 4096 steps: the run's
// bound, or its context's end. A long match yields as the VM does.
func (v *vm) patternStop() error {
	m := v.meter
	if m == nil {
		return nil
	}
	m.steps += 4096 // the matcher's steps count as instructions do
	m.yield()
	if b := m.stopped.Load(); b != nil {
		return b
	}
	return m.ctxErr()
}

func (v *vm) compilePattern(L *lua.LState, fn, p string) *pattern.Pattern {
	pat, err := pattern.Compile(p)
	if err != nil {
		L.RaiseError("%s: %v", fn, err)
	}
	return pat
}

// findFrom is one match from offset; a stopped search raises.
func (v *vm) findFrom(L *lua.LState, fn string, pat *pattern.Pattern, src []byte, offset int) *pattern.MatchData {
	md, err := pat.Find(src, offset, v.patternStop)
	if err != nil {
		L.RaiseError("%s: %v", fn, err)
	}
	return md
}

// bytesOf is s without a copy: the matcher only reads it.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// pushCaptures pushes a match's captures (the whole match when it has
// none, if whole) and says how many.
func pushCaptures(L *lua.LState, str string, md *pattern.MatchData, whole bool) int {
	if md.CaptureLength() == 2 {
		if !whole {
			return 0
		}
		L.Push(lua.LString(str[md.Capture(0):md.Capture(1)]))
		return 1
	}
	for i := 2; i < md.CaptureLength(); i += 2 {
		if md.IsPosCapture(i) {
			L.Push(lua.LNumber(md.Capture(i)))
		} else {
			L.Push(lua.LString(str[md.Capture(i):md.Capture(i+1)]))
		}
	}
	return md.CaptureLength()/2 - 1
}

// startIndex is a Lua string index (1-based, negative from the end) as
// an offset into str.
func startIndex(str string, i int) int {
	if i > 0 {
		i--
	} else if i < 0 {
		i = len(str) + i
	}
	return max(0, i)
}

func (v *vm) strFind(L *lua.LState) int {
	str, p := L.CheckString(1), L.CheckString(2)
	if p == "" {
		L.Push(lua.LNumber(1))
		L.Push(lua.LNumber(0))
		return 2
	}
	init := startIndex(str, L.OptInt(3, 1))
	if L.GetTop() == 4 && lua.LVAsBool(L.Get(4)) {
		pos := -1
		if init <= len(str) {
			pos = strings.Index(str[init:], p)
		}
		if pos < 0 {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(lua.LNumber(init + pos + 1))
		L.Push(lua.LNumber(init + pos + len(p)))
		return 2
	}
	md := v.findFrom(L, "string.find", v.compilePattern(L, "string.find", p), bytesOf(str), init)
	if md == nil {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(lua.LNumber(md.Capture(0) + 1))
	L.Push(lua.LNumber(md.Capture(1)))
	return 2 + pushCaptures(L, str, md, false)
}

func (v *vm) strMatch(L *lua.LState) int {
	str, p := L.CheckString(1), L.CheckString(2)
	offset := L.OptInt(3, 1)
	if offset < 0 {
		offset = len(str) + offset + 1
	}
	offset = max(0, offset-1)
	md := v.findFrom(L, "string.match", v.compilePattern(L, "string.match", p), bytesOf(str), offset)
	if md == nil {
		L.Push(lua.LNil)
		return 1
	}
	return pushCaptures(L, str, md, true)
}

// strGmatch returns an iterator that finds the next match when called.
func (v *vm) strGmatch(L *lua.LState) int {
	str, p := L.CheckString(1), L.CheckString(2)
	pat := v.compilePattern(L, "string.gmatch", p)
	pos, done := 0, false
	L.Push(L.NewFunction(func(L *lua.LState) int {
		if done || pos > len(str) {
			return 0
		}
		md := v.findFrom(L, "string.gmatch", pat, bytesOf(str), pos)
		if md == nil {
			done = true
			return 0
		}
		pos = max(md.Capture(0)+1, md.Capture(1))
		done = pat.Anchored
		return pushCaptures(L, str, md, true)
	}))
	return 1
}

func (v *vm) strGsub(L *lua.LState) int {
	str, p := L.CheckString(1), L.CheckString(2)
	L.CheckTypes(3, lua.LTString, lua.LTTable, lua.LTFunction)
	repl := L.CheckAny(3)
	limit := L.OptInt(4, -1)
	pat := v.compilePattern(L, "string.gsub", p)
	src := bytesOf(str)
	var out strings.Builder
	last, n := 0, 0
	for pos := 0; pos <= len(str) && n != limit; {
		md := v.findFrom(L, "string.gsub", pat, src, pos)
		if md == nil {
			break
		}
		n++
		start, end := md.Capture(0), md.Capture(1)
		out.WriteString(str[last:start])
		if r, ok := v.replacement(L, str, md, repl); ok {
			out.WriteString(r)
		} else {
			out.WriteString(str[start:end])
		}
		last = end
		if out.Len() > v.limits.MaxString {
			v.tooBig(L, "string.gsub", int64(out.Len()))
		}
		pos = max(start+1, end)
		if pat.Anchored {
			break
		}
	}
	if n == 0 {
		L.SetTop(1)
		L.Push(lua.LNumber(0))
		return 2
	}
	out.WriteString(str[last:])
	v.tooBig(L, "string.gsub", int64(out.Len()))
	L.Push(lua.LString(out.String()))
	L.Push(lua.LNumber(n))
	return 2
}

// replacement is what gsub puts for a match; false: keep the match.
func (v *vm) replacement(L *lua.LState, str string, md *pattern.MatchData, repl lua.LValue) (string, bool) {
	switch r := repl.(type) {
	case lua.LString:
		return expandReplacement(L, str, md, string(r)), true
	case *lua.LTable:
		idx := 0
		if md.CaptureLength() > 2 {
			idx = 2
		}
		var val lua.LValue
		if md.IsPosCapture(idx) {
			val = L.GetTable(r, lua.LNumber(md.Capture(idx)))
		} else {
			val = L.GetField(r, str[md.Capture(idx):md.Capture(idx+1)])
		}
		if lua.LVIsFalse(val) {
			return "", false
		}
		return lua.LVAsString(val), true
	default: // a function
		L.Push(r)
		nargs := pushCaptures(L, str, md, true)
		L.Call(nargs, 1)
		ret := L.Get(-1)
		L.Pop(1)
		if lua.LVIsFalse(ret) {
			return "", false
		}
		return lua.LVAsString(ret), true
	}
}

// expandReplacement is gsub's replacement string: %0–%9 are captures,
// %% a percent sign; gopher-lua keeps any other %x as it is.
func expandReplacement(L *lua.LState, str string, md *pattern.MatchData, repl string) string {
	if strings.IndexByte(repl, '%') < 0 {
		return repl
	}
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '%' || i == len(repl)-1 {
			b.WriteByte(c)
			continue
		}
		i++
		switch d := repl[i]; {
		case d == '%':
			b.WriteByte('%')
		case d >= '0' && d <= '9':
			b.WriteString(capture(L, str, md, 2*int(d-'0')))
		default:
			b.WriteByte('%')
			b.WriteByte(d)
		}
	}
	return b.String()
}

// capture is capture idx of a match (gopher-lua's capturedString): %1
// of a pattern without captures is the whole match.
func capture(L *lua.LState, str string, md *pattern.MatchData, idx int) string {
	if idx > 2 && idx >= md.CaptureLength() {
		L.RaiseError("invalid capture index")
	}
	if idx >= md.CaptureLength() && idx == 2 {
		idx = 0
	}
	if md.IsPosCapture(idx) {
		return strconv.Itoa(md.Capture(idx))
	}
	return str[md.Capture(idx):md.Capture(idx+1)]
}

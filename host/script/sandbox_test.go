package script

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

func mustCompile(t testing.TB, name, src string) *Script {
	t.Helper()
	s, err := Compile(name, []byte(src))
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	return s
}

// runString runs src and returns what it returned, as strings.
func runString(t testing.TB, p *Pool, src string) ([]string, error) {
	t.Helper()
	s := mustCompile(t, "scripts/test/check.lua", src)
	var out []string
	err := p.Run(context.Background(), s, nil, func(_ *Env, rets []lua.LValue) error {
		for _, r := range rets {
			out = append(out, r.String())
		}
		return nil
	})
	return out, err
}

func TestSandboxRefusesEscapes(t *testing.T) {
	t.Parallel()
	// The cases that run into the deadline get a short one; the others a
	// long one, so that a loaded machine does not turn their refusal into
	// a timeout.
	p := NewPool(Limits{Timeout: 300 * time.Millisecond, MaxString: 1 << 20})
	patient := NewPool(Limits{Timeout: 10 * time.Second, MaxString: 1 << 20, Memory: 16 << 20})
	cases := []struct {
		name, src, want string // want: a part of the error
		timeout         bool
	}{
		{"os.execute", `os.execute("touch /tmp/pwned")`, "attempt to call a non-function object", false},
		{"os.exit", `os.exit(1)`, "attempt to call a non-function object", false},
		{"io.open", `io.open("/etc/passwd")`, "attempt to index a non-table object(nil)", false},
		{"require", `require("os")`, "attempt to call a non-function object", false},
		{"load", `load("return 1")()`, "attempt to call a non-function object", false},
		{"loadstring", `loadstring("return 1")()`, "attempt to call a non-function object", false},
		{"dofile", `dofile("/etc/passwd")`, "attempt to call a non-function object", false},
		{"getfenv", `getfenv(1).x = 1`, "attempt to call a non-function object", false},
		{"collectgarbage", `collectgarbage()`, "attempt to call a non-function object", false},
		{"coroutine", `coroutine.create(print)`, "attempt to index a non-table object(nil)", false},
		{"string.rep 1e10", `return string.rep("x", 1e10)`, "string.rep: result of", false},
		{"method rep", `return ("x"):rep(1e9)`, "string.rep: result of", false},
		{"format width", `return string.format("%999999999d", 1)`, "width or precision above 1000", false},
		{"concat", `local t = {} for i = 1, 2000 do t[i] = string.rep("y", 1000) end return table.concat(t)`, "table.concat: result of", false},
		{"library write", `string.upper = nil`, "string is read-only", false},
		{"rawset library", `rawset(string, "upper", nil)`, "library table is read-only", false},
		{"string metatable", `getmetatable("").__index = {}`, "attempt to index a non-table object(boolean)", false},
		{"globals metatable", `setmetatable(_G, nil)`, "cannot change a protected metatable", false},
		{"endless loop", `while true do end`, "deadline", true},
		{"endless recursion", `local function f() return 1 + f() end return f()`, "stack overflow", false},
		{"10M-entry table", `local t = {} for i = 1, 1e7 do t[i] = i end return #t`, "stopped by the memory bound: the run holds over 16 MiB", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pool := patient
			if tc.timeout {
				pool = p
			}
			_, err := runString(t, pool, tc.src)
			var re *RunError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a RunError", err)
			}
			if !strings.Contains(re.Error(), tc.want) || re.Timeout != tc.timeout {
				t.Errorf("err = %q (timeout %v), want it to say %q (timeout %v)", re.Error(), re.Timeout, tc.want, tc.timeout)
			}
			if !strings.HasPrefix(re.Error(), "scripts/test/check.lua") {
				t.Errorf("err %q does not name the script", re.Error())
			}
			// The pool keeps serving, and the library is intact.
			out, err := runString(t, p, `return string.upper("ok"), type(string.rep)`)
			if err != nil || strings.Join(out, ",") != "OK,function" {
				t.Fatalf("after %s: %v, %v", tc.name, out, err)
			}
		})
	}
}

func TestGlobalsDoNotLeakBetweenRuns(t *testing.T) {
	t.Parallel()
	p := NewPool(Limits{})
	if _, err := runString(t, p, `leaked = "yes"; _G.other = 1; function f() end`); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // whichever pooled state serves the run
		out, err := runString(t, p, `return tostring(leaked), tostring(other), tostring(f)`)
		if err != nil || strings.Join(out, ",") != "nil,nil,nil" {
			t.Fatalf("run %d sees %v, %v", i, out, err)
		}
	}
}

// A main chunk gets no Lua 5.0 "arg" table (Compile drops it, unseen by
// scripts): arg stays a global there, "..." is empty, and a vararg
// function of the script still has its arg.
func TestArgKeepsItsMeaning(t *testing.T) {
	t.Parallel()
	p := NewPool(Limits{})
	for _, c := range []struct{ name, src, want string }{
		{"arg is a global", `local before = tostring(arg) arg = 5 return before, arg`, "nil,5"},
		{"no varargs", `return select("#", ...)`, "0"},
		{"varargs used", `local n = select("#", ...) return n, tostring(arg)`, "0,nil"},
		{"a function's arg", `local function f(...) return arg.n, arg[2] end return f("a", "b")`, "2,b"},
	} {
		out, err := runString(t, p, c.src)
		if got := strings.Join(out, ","); err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestAllowedLibrariesWork(t *testing.T) {
	t.Parallel()
	p := NewPool(Limits{})
	out, err := runString(t, p, `
		local t = {3, 1, 2}
		table.sort(t)
		return table.concat(t, ","), string.format("%05.1f", 3.14159), math.floor(2.7),
			type(os.time()), os.date("!%Y-%m-%d", 0), ("a,b"):gsub(",", ";"), select("#", 1, 2), string.rep("ab", 3)`)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(out, "|"); got != "1,2,3|003.1|2|number|1970-01-01|a;b|2|ababab" {
		t.Errorf("got %s", got)
	}
}

func TestCompileErrorsNameFileAndLine(t *testing.T) {
	t.Parallel()
	for src, want := range map[string]string{
		"local x = 1\nif x then\n  x = 2\n":       "scripts/acme/check.lua:",
		"local x = 1\nx = = 2\n":                  "scripts/acme/check.lua:2: ",
		"for i = 1, 10 do\n  print(i)\nend end\n": "scripts/acme/check.lua:3: ",
	} {
		_, err := Compile("scripts/acme/check.lua", []byte(src))
		var ce *CompileError
		if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("compile %q: %v, want prefix %q", src, err, want)
		}
	}
}

func TestRuntimeErrorNamesLine(t *testing.T) {
	t.Parallel()
	p := NewPool(Limits{})
	_, err := runString(t, p, "local x = 1\n\nerror(\"partner sent garbage\")\n")
	if err == nil || !strings.HasPrefix(err.Error(), "scripts/test/check.lua:3: partner sent garbage") {
		t.Errorf("err = %v", err)
	}
}

func TestPrintGoesToTheRunLog(t *testing.T) {
	t.Parallel()
	p := NewPool(Limits{})
	s := mustCompile(t, "scripts/test/hook.lua", `print("hello", 42, nil)`)
	var logged []string
	err := p.Run(context.Background(), s, func(e *Env) error {
		e.SetRun(&Run{Script: s.Name, Log: func(kind, msg string) { logged = append(logged, kind+": "+msg) }})
		return nil
	}, nil)
	if err != nil || len(logged) != 1 || logged[0] != "print: hello\t42\tnil" {
		t.Errorf("logged %q, %v", logged, err)
	}
}

// A library call that outlasts the deadline (pattern functions stop with
// their run now; here a Go function that blocks for a second) does not
// hold the caller: it gets its timeout right after the grace period, and
// the pool goes on serving.
func TestRunawayBuiltinIsAbandoned(t *testing.T) {
	p := NewPool(Limits{Timeout: 100 * time.Millisecond})
	s := mustCompile(t, "scripts/test/check.lua", `stuck()`)
	start := time.Now()
	err := p.Run(context.Background(), s, func(e *Env) error {
		e.Globals.RawSetString("stuck", e.L.NewFunction(func(*lua.LState) int { time.Sleep(time.Second); return 0 }))
		return nil
	}, nil)
	took := time.Since(start)
	var re *RunError
	if !errors.As(err, &re) || !re.Timeout || !strings.Contains(re.Error(), "abandoned") {
		t.Fatalf("err = %v", err)
	}
	if took > time.Second {
		t.Errorf("the caller waited %v for a run with a 100 ms deadline", took)
	}
	if out, err := runString(t, p, `return "still serving"`); err != nil || out[0] != "still serving" {
		t.Errorf("after abandoning: %v, %v", out, err)
	}
}

func TestNoLeaksThroughSharedMetatables(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	leads := processingLeads(t, st, "acme", 1)
	p := NewPool(Limits{})
	ctx := context.Background()
	attack := mustCompile(t, "scripts/acme/check.lua", `
		secret = "x"
		local tries = {
			function() getmetatable(e2i).__index = function() return 999 end end,
			function() setmetatable(print, {__index = _G}) end,
			function() setmetatable(0, {__index = function() return "num" end}) end,
			function() setmetatable(true, {__call = function() return 1 end}) end,
			function() setmetatable(json.null, {__tostring = function() return "NOTNULL" end}) end,
			function() getmetatable(json.null).__index = {} end,
		}
		local blocked = 0
		for _, f in ipairs(tries) do if not pcall(f) then blocked = blocked + 1 end end
		assert(blocked == #tries, "only " .. blocked .. " of " .. #tries .. " blocked")`)
	if _, err := p.RunCheck(ctx, attack, Check{Store: st, Offer: "acme", Leads: leads, Data: []byte(`[]`), Dry: true}); err != nil {
		t.Fatal(err)
	}
	probe := mustCompile(t, "scripts/acme/check.lua", `
		assert(e2i["5001"] == e2i[5001] and e2i[5001] ~= 999, "e2i")
		assert(rawget(_G, "secret") == nil and not pcall(function() return print.secret end), "globals")
		assert(tostring(json.decode("[null]")[1]) == "null", "json.null")`)
	for i := 0; i < 3; i++ {
		if _, err := p.RunCheck(ctx, probe, Check{Store: st, Offer: "acme", Leads: leads, Data: []byte(`[]`), Dry: true}); err != nil {
			t.Fatalf("run %d after the attack: %v", i, err)
		}
	}
}

// serving counts the goroutines of states (vm.serve).
func serving() int {
	buf := make([]byte, 1<<22)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "script.(*vm).serve(")
}

// A state's goroutine ends with it: when its pool is closed, and when a
// pool is dropped unclosed. Not parallel: it counts every state's.
func TestStatesLeaveNoGoroutines(t *testing.T) {
	// Other tests' dropped pools first: their cleanups run after a GC.
	before := serving()
	for i := 0; i < 100; i++ {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
		if now := serving(); now == before && i > 2 {
			break
		} else {
			before = now
		}
	}
	fill := func(p *Pool) {
		t.Helper()
		s := mustCompile(t, "scripts/test/check.lua", `return 1`)
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = p.Run(context.Background(), s, func(*Env) error { time.Sleep(10 * time.Millisecond); return nil }, nil)
			}()
		}
		wg.Wait()
		if p.Idle() == 0 || serving() <= before {
			t.Fatalf("%d idle states, %d goroutines serving (%d before)", p.Idle(), serving(), before)
		}
	}
	settled := func(what string) {
		t.Helper()
		for i := 0; serving() > before; i++ {
			if i == 500 {
				t.Fatalf("%s: %d goroutines serving, %d before", what, serving(), before)
			}
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
	}
	p := NewPool(Limits{})
	fill(p)
	p.Close()
	settled("closed pool")
	fill(NewPool(Limits{}))
	settled("dropped pool")
}

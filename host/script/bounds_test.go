package script

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestTailCallsStopAtTheDeadline: endless tail recursion keeps one frame,
// so it runs into the deadline; what it must not do is leave behind work
// proportional to the tail calls it made (gopher-lua's traceback of a
// failed PCall has a line per tail call: 16 bytes each, tens of millions
// of them). The run stops on its own, in the script's words, and what it
// allocated while stopping is small.
func TestTailCallsStopAtTheDeadline(t *testing.T) {
	// The first three allocate nothing per call (numbers below 128 are
	// preallocated); the last one allocates its counter (8 bytes a call),
	// hence its larger allowance.
	cases := []struct {
		name, src string
		maxMiB    uint64
	}{
		{"top level", `local function f(n) return f(n) end return f(1)`, 8},
		{"inside pcall", `local function f(n) return f(n) end pcall(f, 1) return 1`, 8},
		{"inside xpcall", `local function f(n) return f(n) end xpcall(function() return f(1) end, function(e) return e end) return 1`, 8},
		{"under a deep stack", `local function f(n) if n % 100000 == 0 and n < 19000000 then return 1 + f(n + 1) end return f(n + 1) end return f(1)`, 100},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPool(Limits{Timeout: 500 * time.Millisecond})
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := runString(t, p, tc.src)
			runtime.ReadMemStats(&after)
			var re *RunError
			if !errors.As(err, &re) || (!re.Timeout && !strings.Contains(re.Msg, "stack overflow")) {
				t.Fatalf("err = %v, want the deadline or a stack overflow", err)
			}
			if strings.Contains(re.Msg, "abandoned") {
				t.Errorf("err = %v: the run did not stop on its own", err)
			}
			if !strings.Contains(re.Msg, "scripts/test/check.lua:1") {
				t.Errorf("err = %v: want the script's file and line", err)
			}
			if grown := after.TotalAlloc - before.TotalAlloc; grown > tc.maxMiB<<20 {
				t.Errorf("the run allocated %d MiB: its failure kept a trace of every tail call", grown>>20)
			}
		})
	}
}

// TestPcallAndXpcallKeepTheirMeaning: the sandbox's own pcall and xpcall
// (protect.go) answer as Lua's do.
func TestPcallAndXpcallKeepTheirMeaning(t *testing.T) {
	t.Parallel()
	p := NewPool(Limits{})
	cases := []struct{ name, src, want string }{
		{"pcall ok", `return pcall(function(a, b) return a + b, "x" end, 1, 2)`, "true 3 x"},
		{"pcall error", `local ok, e = pcall(function() error("boom") end) return ok, e`, "false scripts/test/check.lua:1: boom"},
		{"pcall error value", `local ok, e = pcall(error, {code = 7}) return ok, e.code`, "false 7"},
		{"pcall not a function", `return pcall(42)`, "false attempt to call a number value"},
		{"xpcall ok", `return xpcall(function() return 1, 2 end, print)`, "true 1 2"},
		{"xpcall handler", `return xpcall(function() error({n = 1}) end, function(e) return e.n + 1 end)`, "false 2"},
		{"xpcall failing handler", `local ok, e = xpcall(function() error("a") end, function(e) error("b", 0) end) return ok, e`, "false b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runString(t, p, tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if s := strings.Join(got, " "); s != tc.want {
				t.Errorf("got %q, want %q", s, tc.want)
			}
		})
	}
}

package script

import (
	"context"
	"strings"
	"testing"
)

// TestKeptGlobalsHoldNothingOfTheLastRun runs each first script and then
// the check on the same state (one idle state, runs one after another):
// whether the state kept its global table (globals.go) or made a new one,
// the check sees nothing the first run did.
func TestKeptGlobalsHoldNothingOfTheLastRun(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	req := HookRequest{Method: "GET", Query: map[string][]string{"order": {"S1"}}}
	hook := func(p *Pool, src string) (string, error) {
		res, err := p.RunHook(context.Background(), mustCompile(t, "scripts/shop/hook.lua", src), Hook{Store: st, Offer: "shop", Request: req})
		return string(res.Reply.Body), err
	}
	plain := func(p *Pool, src string) (string, error) {
		out, err := runString(t, p, src)
		return strings.Join(out, ","), err
	}
	countGlobals := `local n = 0 for k in pairs(_G) do n = n + 1 end return tostring(n)`
	for _, c := range []struct {
		name         string
		first, check func(*Pool, string) (string, error)
		src, probe   string
		want         string
	}{
		{"nothing done", plain, plain, `return 1`, countGlobals, "1"},
		{"a global", plain, plain, `leaked = "yes"`, `return tostring(leaked)`, "nil"},
		{"a function", plain, plain, `function f() end`, `return tostring(f)`, "nil"},
		{"a global set and cleared", plain, plain, `x = 1 x = nil`, countGlobals, "1"},
		{"_G cleared", plain, plain, `_G = nil`, `return tostring(rawequal(_G, _G._G))`, "true"},
		{"_G replaced", plain, plain, `_G = { leaked = 1 }`, `return tostring(_G.leaked) .. tostring(rawequal(_G, _G._G))`, "niltrue"},
		{"an index", plain, plain, `_G[1] = "x"`, `return tostring(_G[1])`, "nil"},
		{"table.insert", plain, plain, `table.insert(_G, "x")`, `return tostring(_G[1]) .. #_G`, "nil0"},
		{"table.insert and remove", plain, plain, `table.insert(_G, "x") table.remove(_G)`, countGlobals, "1"},
		{"rawset", plain, plain, `rawset(_G, "y", 1)`, `return tostring(y)`, "nil"},
		{"rawset via pcall", plain, plain, `pcall(rawset, _G, "y", 1)`, `return tostring(y)`, "nil"},
		{"req after a hook", hook, plain, `return "ok"`, `return tostring(req)`, "nil"},
		{"req changed", hook, hook, `req.query.order = "changed" req.extra = 1 req = nil`, `return req.query.order .. tostring(req.extra)`, "S1nil"},
		{"req replaced", hook, hook, `req = { query = { order = "mine" } }`, `return req.query.order`, "S1"},
		{"a hook's globals", hook, plain, `seen = req.query.order`, `return tostring(seen) .. tostring(req)`, "nilnil"},
	} {
		p := NewPool(Limits{})
		for i := 0; i < 2; i++ { // the second time on a state that kept its table, if it did
			if _, err := c.first(p, c.src); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			got, err := c.check(p, c.probe)
			if err != nil || got != c.want {
				t.Errorf("%s (%d): got %q, %v; want %q", c.name, i, got, err, c.want)
			}
		}
		if p.Idle() != 1 {
			t.Fatalf("%s: %d idle states, want the one", c.name, p.Idle())
		}
		p.Close()
	}
}

// Floor is less than any Lua webhook can cost on leadhost's stack
// (testdata/wrk/run.sh): fasthttp and gopher-lua with nothing of leadhost.
// It runs the benchmark's hook.lua in a pooled state whose function is
// made once, on the connection's goroutine, with req.query a table of the
// query; core.lead.add only counts and the reply table is written as flat
// JSON. No store, no journal, no deadline (gopher-lua's loop without a
// context), no fresh globals per run, no bounds. Usage: floor ADDR HOOK.lua
package main

import (
	"os"
	"strconv"
	"sync/atomic"

	"github.com/valyala/fasthttp"
	lua "github.com/yuin/gopher-lua"
)

// state is a Lua state with the hook's function made in it.
type state struct {
	L    *lua.LState
	hook *lua.LFunction
}

func main() {
	src, err := os.ReadFile(os.Args[2])
	if err != nil {
		panic(err)
	}
	var leads atomic.Uint64
	newState := func() *state {
		L := lua.NewState(lua.Options{SkipOpenLibs: true})
		lead := L.NewTable()
		lead.RawSetString("add", L.NewFunction(func(L *lua.LState) int {
			if L.CheckTable(1).RawGetString("key") == lua.LNil {
				L.RaiseError("core.lead.add: no key")
			}
			L.Push(lua.LNumber(leads.Add(1)))
			L.Push(lua.LTrue)
			return 2
		}))
		core := L.NewTable()
		core.RawSetString("lead", lead)
		L.SetGlobal("core", core)
		hook, err := L.LoadString(string(src))
		if err != nil {
			panic(err)
		}
		return &state{L: L, hook: hook}
	}
	// A channel, not a sync.Pool: a pool loses its states at every
	// collection, and a new state costs more than a webhook.
	idle := make(chan *state, 1024)
	h := func(c *fasthttp.RequestCtx) {
		q := c.QueryArgs()
		if string(q.Peek("token")) != "bench" {
			c.SetStatusCode(fasthttp.StatusUnauthorized)
			return
		}
		var s *state
		select {
		case s = <-idle:
		default:
			s = newState()
		}
		defer func() {
			select {
			case idle <- s:
			default: // more in flight than kept idle
				s.L.Close()
			}
		}()
		L := s.L
		query := L.CreateTable(0, q.Len())
		q.VisitAll(func(k, v []byte) { query.RawSetString(string(k), lua.LString(v)) })
		req := L.CreateTable(0, 1)
		req.RawSetString("query", query)
		L.SetGlobal("req", req)
		L.Push(s.hook)
		if err := L.PCall(0, 1, nil); err != nil {
			c.SetStatusCode(fasthttp.StatusInternalServerError)
			c.SetBodyString(err.Error())
			return
		}
		reply, _ := L.Get(-1).(*lua.LTable)
		L.Pop(1)
		out := []byte{'{'}
		if reply != nil {
			reply.ForEach(func(k, v lua.LValue) {
				if len(out) > 1 {
					out = append(out, ',')
				}
				out = append(strconv.AppendQuote(out, k.String()), ':')
				switch v := v.(type) {
				case lua.LNumber:
					out = strconv.AppendFloat(out, float64(v), 'f', -1, 64)
				case lua.LBool:
					out = strconv.AppendBool(out, bool(v))
				default:
					out = strconv.AppendQuote(out, v.String())
				}
			})
		}
		c.SetContentType("application/json")
		c.SetBody(append(out, '}'))
	}
	if err := fasthttp.ListenAndServe(os.Args[1], h); err != nil {
		panic(err)
	}
}

// Package script runs integration authors' Lua scripts for the host: it
// compiles them once, keeps pools of sandboxed gopher-lua states, and runs
// each script in a fresh global environment under a deadline, with the
// modules scripts get (core, json, form, http). It knows the store
// (scripts change leads through it); of HTTP only the http module's
// outgoing requests, never the server side.
package script

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"leadhost/host/partner"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Limits bound what one run may use. The zero value means the defaults.
type Limits struct {
	Timeout     time.Duration // deadline of one run; default 5 s
	CallStack   int           // nested calls; default 200
	Registry    int           // initial data stack slots; default 1024
	RegistryMax int           // data stack slots at most; default 256 Ki
	MaxString   int           // bytes one string.rep/format or table.concat may make; default 16 MiB
	HTTPConns   int           // connections http.request keeps to one host; default partner.DefaultConnsPerHost
	Fence       *Fence        // where http.request may connect; nil: public addresses only
	Memory      int64         // bytes one run may hold (meter.go); default 64 MiB
	LogBytes    int           // bytes of core.log and print one run may write; default 64 KiB
	Leads       int           // leads one run may add with core.lead.add; default 100
	// Governor is what the pool's runs share with other pools' (the heap
	// watch, the slots of long runs: governor.go); nil: the pool's own.
	Governor *Governor
}

// The per-run bounds' defaults, and the most an offer may set.
const (
	DefaultMemory   = 64 << 20
	DefaultLogBytes = 64 << 10
	DefaultLeads    = 100
)

func (l Limits) withDefaults() Limits {
	if l.Timeout <= 0 {
		l.Timeout = 5 * time.Second
	}
	if l.CallStack <= 0 {
		l.CallStack = 200
	}
	if l.Registry <= 0 {
		l.Registry = 1024
	}
	if l.RegistryMax < l.Registry {
		l.RegistryMax = 256 * 1024
	}
	if l.MaxString <= 0 {
		l.MaxString = 16 << 20
	}
	if l.Memory <= 0 {
		l.Memory = DefaultMemory
	}
	if l.LogBytes <= 0 {
		l.LogBytes = DefaultLogBytes
	}
	if l.Leads <= 0 {
		l.Leads = DefaultLeads
	}
	if l.Governor == nil {
		l.Governor = NewGovernor(0, 0)
	}
	return l
}

// Script is a compiled Lua file, immutable and safe to share: every run
// makes its own function from it.
type Script struct {
	Name  string // as errors show it: "scripts/acme/check.lua"
	proto *lua.FunctionProto
}

// CompileError says where a script does not compile.
type CompileError struct {
	File string
	Line int // 0 when unknown
	Msg  string
}

func (e *CompileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Compile parses and compiles a script once; name is the file as errors
// should show it.
func Compile(name string, src []byte) (*Script, error) {
	chunk, err := parse.Parse(bytes.NewReader(src), name)
	if err != nil {
		var pe *parse.Error
		if errors.As(err, &pe) {
			msg := strings.TrimSpace(pe.Message)
			if pe.Token != "" {
				msg += " near '" + pe.Token + "'"
			}
			line := pe.Pos.Line
			if line < 0 {
				line = 0
				msg += " at end of file"
			}
			return nil, &CompileError{File: name, Line: line, Msg: msg}
		}
		return nil, &CompileError{File: name, Msg: strings.TrimSpace(err.Error())}
	}
	proto, err := lua.Compile(chunk, name)
	if err != nil {
		return nil, &CompileError{File: name, Msg: strings.TrimSpace(err.Error())}
	}
	// gopher-lua gives every call of a vararg function a Lua 5.0 "arg"
	// table, and a main chunk is one: a table with a 32-slot hash part
	// per run, which no script can reach (the compiler declares no local
	// "arg" in a main chunk; a script's "arg" is a global). A third of an
	// empty run's CPU went to making it.
	proto.IsVarArg &^= lua.VarArgNeedsArg
	return &Script{Name: name, proto: proto}, nil
}

// RunError is a script that raised, passed its deadline or broke a limit.
// Msg carries the script's file and line ("scripts/acme/check.lua:12: …").
type RunError struct {
	Script  string
	Msg     string
	Timeout bool  // the run passed its deadline
	Bound   Bound // the bound the run was stopped for, if one (meter.go)
}

func (e *RunError) Error() string {
	if strings.HasPrefix(e.Msg, e.Script) {
		return e.Msg
	}
	return e.Script + ": " + e.Msg
}

// Pool keeps sandboxed Lua states for reuse. A state serves one run at a
// time and is never shared between goroutines.
type Pool struct {
	limits Limits
	idle   *idleStates
	mu     sync.Mutex
	http   *fasthttp.Client // http.request's, made on first use
}

// idleStates are a pool's states between runs. A state keeps a goroutine
// of its own (vm.serve), so a pool dropped without Close must still close
// them: they are apart from the Pool for its cleanup (NewPool).
type idleStates struct {
	mu     sync.Mutex
	free   []*vm
	closed bool // retired by Close: states are closed when their runs end
}

// close closes the idle states and retires the rest.
func (s *idleStates) close() {
	s.mu.Lock()
	free := s.free
	s.free, s.closed = nil, true
	s.mu.Unlock()
	for _, v := range free {
		v.close()
	}
}

// httpClient is the pool's client for http.request: one per offer, so
// that one partner's connections are reused across its runs.
func (p *Pool) httpClient() *fasthttp.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.http == nil {
		p.http = partner.NewClient(p.limits.HTTPConns)
		// With every connection busy, a request waits for one until its
		// own deadline (fasthttp waits the sooner of the two), not 5 s:
		// a burst of webhooks queues for the partner instead of failing.
		p.http.MaxConnWaitTimeout = time.Hour
		// Every connection is dialed through the fence: a script reaches
		// no address the operator has not allowed, whatever its URL says.
		p.http.DialTimeout = p.limits.Fence.Dial
	}
	return p.http
}

// abandonGrace is how long past its deadline a run may take to stop on its
// own before the caller stops waiting for it.
const abandonGrace = 100 * time.Millisecond

// maxIdle bounds the states a pool keeps between runs.
const maxIdle = 64

// NewPool makes an empty pool; states are made on demand.
func NewPool(limits Limits) *Pool {
	p := &Pool{limits: limits.withDefaults(), idle: &idleStates{}}
	runtime.AddCleanup(p, (*idleStates).close, p.idle)
	return p
}

// Limits returns the pool's limits, defaults filled in.
func (p *Pool) Limits() Limits { return p.limits }

func (p *Pool) get() *vm {
	s := p.idle
	s.mu.Lock()
	if n := len(s.free); n > 0 {
		v := s.free[n-1]
		s.free = s.free[:n-1]
		s.mu.Unlock()
		return v
	}
	s.mu.Unlock()
	return newVM(p.limits)
}

func (p *Pool) put(v *vm) {
	s := p.idle
	s.mu.Lock()
	if !s.closed && len(s.free) < maxIdle {
		s.free = append(s.free, v)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	v.close()
}

// Close retires the pool, as a reload does for the version of an offer it
// replaced (Caddy stops the old config once the new one runs): its idle
// states are closed now, a state in use when its run ends, and the idle
// connections of its http.request client are closed. Runs may still start
// on a closed pool (one that began on the old version just before the
// swap); their states are closed after them.
func (p *Pool) Close() {
	p.idle.close()
	p.mu.Lock()
	client := p.http
	p.mu.Unlock()
	if client != nil {
		client.CloseIdleConnections()
	}
}

// Idle says how many states wait in the pool for a run.
func (p *Pool) Idle() int {
	p.idle.mu.Lock()
	defer p.idle.mu.Unlock()
	return len(p.idle.free)
}

// Env is one run's view of the state: the globals the script sees and the
// run-specific values the modules read.
type Env struct {
	L       *lua.LState
	Globals *lua.LTable
	vm      *vm
}

// SetRun hands the modules of this run their state (see modules.go).
func (e *Env) SetRun(r *Run) { e.vm.run, r.meter = r, e.vm.meter }

// Run executes s in a fresh environment: setup adds the run's globals, the
// script runs under the pool's deadline (or ctx's, if sooner), and results
// reads what it returned before the state goes back to the pool (the
// values and their slice are valid until results returns).
func (p *Pool) Run(ctx context.Context, s *Script, setup func(*Env) error, results func(*Env, []lua.LValue) error) error {
	v := p.get()
	v.env = Env{L: v.L, Globals: v.globalsFor(), vm: v} // the state's: one run at a time
	env := &v.env
	m := newMeter(ctx, v, p.limits.Governor)
	v.arm(m, p.limits.Timeout)
	v.meter, v.globals, v.globalsDirty = m, env.Globals, false
	healthy, ran := true, false
	defer func() {
		if v == nil {
			return // abandoned to the goroutine still running it
		}
		v.disarm()
		if healthy && ran {
			v.keepGlobals(env.Globals)
		}
		v.run, v.meter, v.globals, v.req, v.env, v.reqState, v.forms = nil, nil, nil, nil, Env{}, lazyReq{}, [2]lazyForm{}
		v.L.SetTop(0)
		v.L.RemoveContext()
		if healthy {
			p.put(v)
		} else {
			v.close()
		}
	}()
	if setup != nil {
		if err := setup(env); err != nil {
			return err
		}
	}
	v.noteSetup(env.Globals)
	// A candidate's run takes turns with shadow runs only (meter.yield);
	// the run's modules know it once setup has handed them their Run.
	m.shadow = v.run != nil && v.run.Shadow
	fn := v.L.NewFunctionFromProto(s.proto)
	fn.Env = env.Globals
	v.L.SetContext(m)
	v.L.Push(fn)
	// The VM checks the deadline between instructions only; one builtin
	// call (a backtracking pattern, a huge gsub) can outlast it by
	// minutes. The call runs on the state's own goroutine (vm.serve) so
	// that the caller gets its timeout regardless: past the deadline and a
	// grace period, the state is left to that goroutine, and closed when
	// the call ends; the run's modules refuse to act for it any more.
	done := v.done
	abandoned := v // the goroutine below must not read v, which is cleared on abandonment
	p.limits.Governor.enter(m)
	defer p.limits.Governor.leave(m)
	v.calls <- struct{}{}
	var err error
	finished := false
	select {
	case err = <-done:
		finished = true
	case <-m.expired:
	case <-ctx.Done():
	}
	if !finished {
		select {
		case err = <-done:
		case <-time.After(abandonGrace):
			if v.run != nil {
				v.run.abandon()
			}
			go func() { <-done; abandoned.close() }()
			v = nil // not put back, not touched again here
			healthy = false
			return &RunError{Script: s.Name, Timeout: true,
				Msg: fmt.Sprintf("stopped: the run passed its deadline inside a library call that cannot be interrupted; abandoned after %s", abandonGrace)}
		}
	}
	if err != nil {
		// A state stopped mid-instruction by its deadline, or one that hit
		// a Go panic, is not trusted with another run.
		healthy = false
		return runError(m, s.Name, err)
	}
	v.L.RemoveContext()
	ran = true
	if results == nil {
		return nil
	}
	// The values are the state's until results returns (the slice too:
	// the state's own, cleared after).
	out := v.rets[:0]
	for i := 1; i <= v.L.GetTop(); i++ {
		out = append(out, v.L.Get(i))
	}
	v.rets = out
	defer clear(out)
	return results(env, out)
}

func runError(m *meter, name string, err error) error {
	bound := m.stopped.Load()
	msg := err.Error()
	var api *lua.ApiError
	if errors.As(err, &api) && api.Object != nil {
		msg = api.Object.String()
	}
	if bound != nil {
		// The bound's error, wherever the run was when it stopped (the
		// script may have caught it once: the next instruction raised it
		// again).
		return &RunError{Script: name, Msg: strings.TrimSpace(msg), Bound: bound.Bound}
	}
	if m.timedOut() {
		return &RunError{Script: name, Msg: fmt.Sprintf("stopped: the run passed its deadline (%s)", strings.TrimSpace(msg)), Timeout: true}
	}
	return &RunError{Script: name, Msg: strings.TrimSpace(msg)}
}

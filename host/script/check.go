package script

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	lua "github.com/yuin/gopher-lua"

	"leadhost/store"
)

// Check is one status-check run of an offer's check.lua.
type Check struct {
	Store store.Store // the leads, and where the edits go
	Offer string
	// Leads are the leads the request asked about (ID modes) or that the
	// date range holds (dates mode); only they may be edited.
	Leads []*store.Lead
	// Data is the decoded partner response: JSON bytes (json.RawMessage or
	// []byte) or a Go value from a decoder (maps, slices, strings, numbers,
	// bools, nil).
	Data  any
	Words *Words // nil: StandardWords
	// Dry runs the handler and reports its edits without committing them.
	Dry bool
	// Shadow runs check.lua as a candidate beside the live version
	// (host/shadow): dry, and taking turns with shadow runs only.
	Shadow bool
	Log    func(kind, msg string)
	// Batch, when set, is a batch begun before Leads were read: RunCheck
	// seeds it with them (the handler's edits then need no second read)
	// and commits or discards it. Nil: a batch of its own.
	Batch store.Batch
	// LeaveBatch, with Batch, leaves the edits of a handler that ended
	// well in Batch uncommitted, for the caller to commit (the check
	// runner commits while it asks the partner about the next leads).
	LeaveBatch bool
}

// CheckResult is what a check run did (or, dry, would do).
type CheckResult struct {
	Edits   []store.BatchChange // accepted edits, as they change the leads
	Refused []string            // edits the handler asked for and did not get
	Commit  store.CommitResult
}

// RunCheck runs check.lua with the seed's variables: data, e2i (partner id
// → our id), ids (our id → status), i2t (our id → creation time, unix) and
// inid (our id when the check asked about one lead). Its edits land
// together when it ends well; when it raises or passes its deadline,
// nothing does.
func (p *Pool) RunCheck(ctx context.Context, s *Script, c Check) (CheckResult, error) {
	st := c.Store
	batch := c.Batch
	if batch == nil {
		batch = st.NewBatch()
	} else {
		batch.Seed(c.Leads)
	}
	run := &Run{Ctx: ctx, Script: s.Name, Offer: c.Offer, Store: st, Batch: batch, Words: orStandard(c.Words),
		Allowed: make(map[uint64]bool, len(c.Leads)), Log: c.Log, Shadow: c.Shadow}
	leave := false
	defer func() {
		if !leave {
			run.discard()
		}
	}()
	setup := func(e *Env) error {
		L, g := e.L, e.Globals
		data, err := toLua(L, c.Data)
		if err != nil {
			return fmt.Errorf("%s: partner response: %w", s.Name, err)
		}
		// All keyed by text: a lead id as a number key would make gopher-lua
		// pad the table's array part up to it (8 million nils for lead 8M).
		n := len(c.Leads)
		e2i, ids, i2t := e.vm.keyedTable(n), e.vm.keyedTable(n), e.vm.keyedTable(n)
		for _, l := range c.Leads {
			run.Allowed[l.ID] = true
			if l.Ext != "" {
				e2i.RawSetString(l.Ext, lua.LNumber(l.ID))
			}
			id := strconv.FormatUint(l.ID, 10)
			ids.RawSetString(id, lua.LNumber(l.Status))
			i2t.RawSetString(id, lua.LNumber(l.Created.Unix()))
		}
		g.RawSetString("data", data)
		g.RawSetString("e2i", e2i)
		g.RawSetString("ids", ids)
		g.RawSetString("i2t", i2t)
		if len(c.Leads) == 1 {
			g.RawSetString("inid", lua.LNumber(c.Leads[0].ID))
		}
		e.SetRun(run)
		return nil
	}
	if err := p.Run(ctx, s, setup, nil); err != nil {
		return CheckResult{Refused: run.Refused}, err
	}
	res := CheckResult{Edits: run.Batch.Changes(), Refused: run.Refused}
	if c.Dry || c.Shadow {
		return res, nil
	}
	if c.LeaveBatch && c.Batch != nil {
		leave = true
		return res, nil
	}
	cr, err := run.Batch.Commit(ctx)
	res.Commit = cr
	if err != nil {
		return res, fmt.Errorf("%s: commit: %w", s.Name, err)
	}
	return res, nil
}

// keyedTable makes a table keyed by text whose keys read the same as a
// number or as its text, as the PHP arrays of the seed did: partners send
// ids as either. Its metatable is shared by the state's runs, so it is
// locked. It is sized for n keys.
func (v *vm) keyedTable(n int) *lua.LTable {
	const name = "leadhost.keyed"
	mt, ok := v.L.G.Registry.RawGetString(name).(*lua.LTable)
	if !ok {
		mt = v.L.NewTable()
		mt.RawSetString("__index", v.L.NewFunction(func(L *lua.LState) int {
			t, k := L.CheckTable(1), L.Get(2)
			if n, ok := k.(lua.LNumber); ok {
				L.Push(t.RawGetString(scalarText(n)))
				return 1
			}
			L.Push(lua.LNil)
			return 1
		}))
		mt.RawSetString("__metatable", lua.LFalse)
		v.L.G.Registry.RawSetString(name, mt)
	}
	t := v.L.CreateTable(0, n)
	v.L.SetMetatable(t, mt)
	return t
}

// toLua converts a decoded response into a Lua value.
func toLua(L *lua.LState, v any) (lua.LValue, error) {
	switch v := v.(type) {
	case nil:
		return lua.LNil, nil
	case json.RawMessage:
		return FromJSON(L, v)
	case []byte:
		return FromJSON(L, v)
	case string:
		return lua.LString(v), nil
	case bool:
		return lua.LBool(v), nil
	case float64:
		return lua.LNumber(v), nil
	case int:
		return lua.LNumber(v), nil
	case int64:
		if v > exactInt || v < -exactInt {
			return lua.LString(strconv.FormatInt(v, 10)), nil
		}
		return lua.LNumber(v), nil
	case json.Number:
		return numberValue(string(v))
	case []any:
		t := L.CreateTable(len(v), 0)
		for i, e := range v {
			lv, err := toLua(L, e)
			if err != nil {
				return lua.LNil, err
			}
			if lv == lua.LNil {
				lv = nullValue(L)
			}
			t.RawSetInt(i+1, lv)
		}
		return t, nil
	case map[string]any:
		t := L.CreateTable(0, len(v))
		for k, e := range v {
			lv, err := toLua(L, e)
			if err != nil {
				return lua.LNil, err
			}
			t.RawSetString(k, lv)
		}
		return t, nil
	}
	return lua.LNil, fmt.Errorf("cannot hand a %T to Lua", v)
}

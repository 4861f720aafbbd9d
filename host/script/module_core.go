package script

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"leadhost/store"
)

// coreModule is core: core.lead, core.currency, core.goal and core.log.
// The functions read the state's current run; a state runs one at a time.
func (v *vm) coreModule() *lua.LTable {
	L := v.L
	core := L.NewTable()
	sub := func(name string, funcs map[string]lua.LGFunction) {
		t := L.NewTable()
		for n, f := range funcs {
			t.RawSetString(n, L.NewFunction(f))
		}
		core.RawSetString(name, v.readOnly("core."+name, t))
	}
	sub("lead", map[string]lua.LGFunction{
		"edit":      v.leadEdit,
		"approve":   v.leadApprove,
		"setstatus": func(L *lua.LState) int { return v.leadSetStatus(L, false) },
		"setstc":    func(L *lua.LState) int { return v.leadSetStatus(L, true) },
		"add":       v.leadAdd,
		"get":       v.leadGet,
	})
	sub("currency", map[string]lua.LGFunction{"id": currencyID})
	sub("goal", map[string]lua.LGFunction{"bycode": v.goalByCode})
	core.RawSetString("log", L.NewFunction(func(L *lua.LState) int {
		parts := make([]string, L.GetTop())
		for i := range parts {
			parts[i] = L.ToStringMeta(L.Get(i + 1)).String()
		}
		if r := v.run; r != nil {
			r.logFenced(L, "log", strings.Join(parts, " "))
		}
		return 0
	}))
	return core
}

// current returns the run, locked: module functions unlock it when done.
func (v *vm) current(L *lua.LState) *Run {
	r := v.run
	if r == nil || r.Store == nil {
		errorf(L, "core: not available in this kind of script")
	}
	r.mu.Lock()
	if r.abandoned {
		r.mu.Unlock()
		errorf(L, "core: the run was stopped at its deadline")
	}
	return r
}

// fail is the answer of an edit that did not happen: nil, message. It is
// also journaled, so that one odd row in a partner's answer is seen.
func fail(L *lua.LState, r *Run, msg string) int {
	r.meter.countLog(L, msg)
	r.Refused = append(r.Refused, msg)
	r.log("refused", msg)
	L.Push(lua.LNil)
	L.Push(lua.LString(msg))
	return 2
}

// leadID reads a lead id given as a number or a numeric string.
func leadID(v lua.LValue) (uint64, error) {
	switch v := v.(type) {
	case lua.LNumber:
		f := float64(v)
		if f >= 1 && f == math.Trunc(f) && f < 1<<53 {
			return uint64(f), nil
		}
	case lua.LString:
		if n, err := strconv.ParseUint(strings.TrimSpace(string(v)), 10, 64); err == nil && n > 0 {
			return n, nil
		}
	case *lua.LNilType:
		return 0, fmt.Errorf("no lead id (nil: not in e2i?)")
	}
	return 0, fmt.Errorf("%q is not a lead id", v.String())
}

func (v *vm) edit(L *lua.LState, r *Run, idv lua.LValue, p store.Patch) int {
	id, err := leadID(idv)
	if err != nil {
		return fail(L, r, err.Error())
	}
	if r.Allowed != nil && !r.Allowed[id] {
		return fail(L, r, fmt.Sprintf("lead %d is not among the leads this check asked about", id))
	}
	p.Offer, p.By = r.Offer, r.by()
	if err := r.Batch.Edit(id, p); err != nil {
		return fail(L, r, err.Error())
	}
	L.Push(lua.LTrue)
	return 1
}

// core.lead.edit(id, {accept=1, status=, reason=, hold=, comment=, base=,
// counts=, curr=, goal=, track=, ext=, cash={wm=, pay=, ref=, cc=}})
func (v *vm) leadEdit(L *lua.LState) int {
	r := v.current(L)
	defer r.mu.Unlock()
	t, ok := L.Get(2).(*lua.LTable)
	if !ok {
		return fail(L, r, fmt.Sprintf("core.lead.edit: the second argument is a %s, not a table", L.Get(2).Type()))
	}
	p, err := patchFromTable(v.whole(t), v.whole)
	if err != nil {
		return fail(L, r, "core.lead.edit: "+err.Error())
	}
	return v.edit(L, r, L.Get(1), p)
}

// core.lead.approve(id [, comment])
func (v *vm) leadApprove(L *lua.LState) int {
	r := v.current(L)
	defer r.mu.Unlock()
	p := store.Patch{Accept: true}
	if c, ok := L.Get(2).(lua.LString); ok {
		s := string(c)
		p.Comment = &s
	}
	return v.edit(L, r, L.Get(1), p)
}

// core.lead.setstatus(id, text) and core.lead.setstc(id, text), which also
// keeps the partner's text as the comment.
func (v *vm) leadSetStatus(L *lua.LState, withComment bool) int {
	r := v.current(L)
	defer r.mu.Unlock()
	text := L.Get(2).String()
	if L.Get(2) == lua.LNil {
		text = ""
	}
	act, ok := r.Words.Recognize(text)
	if !ok {
		return fail(L, r, fmt.Sprintf("status %q not recognised: lead %s unchanged", text, L.Get(1).String()))
	}
	p := act.Patch()
	if withComment {
		p.Comment = &text
	}
	return v.edit(L, r, L.Get(1), p)
}

// core.lead.add{fields = {...}, key = "…", ext = …, status = …} → id,
// created; or nil, why when the store refuses the lead (an ext another
// lead has, a status out of range, a field it does not take), so that a
// hook can answer the caller. Only a programming error raises: an
// argument of the wrong type, a key the table does not take.
func (v *vm) leadAdd(L *lua.LState) int {
	r := v.current(L)
	defer r.mu.Unlock()
	if !r.MayAdd {
		errorf(L, "core.lead.add: only hooks add leads")
	}
	t := v.whole(L.CheckTable(1))
	nl := store.NewLead{Offer: r.Offer, By: r.by()}
	var err error
	statusText, refusal := "", ""
	// Next, not ForEach: ForEach's callback boxed every key it handed over.
	for k, val := t.Next(lua.LNil); k != lua.LNil && err == nil; k, val = t.Next(k) {
		switch k.String() {
		case "fields":
			ft, ok := val.(*lua.LTable)
			if !ok {
				err = fmt.Errorf("fields is a %s, not a table", val.Type())
				break
			}
			nl.Fields = map[string]string{}
			v.whole(ft)
			for fk, fv := ft.Next(lua.LNil); fk != lua.LNil; fk, fv = ft.Next(fk) {
				if !isNull(fv) {
					nl.Fields[fk.String()] = addArg(&refusal, "fields."+fk.String(), fv)
				}
			}
		case "key":
			nl.Key = addArg(&refusal, "key", val)
		case "ext":
			nl.Ext = addArg(&refusal, "ext", val)
		case "status":
			switch val.(type) {
			case lua.LNumber, lua.LString:
				statusText = scalarText(val) // checked by the store's rules below
			default:
				err = fmt.Errorf("status is a %s, not a number or a name", val.Type())
			}
		case "comment":
			nl.Comment = addArg(&refusal, "comment", val)
		default:
			err = fmt.Errorf("unknown field %q (fields, key, ext, status, comment)", k.String())
		}
	}
	if err != nil {
		errorf(L, "core.lead.add: %v", err)
	}
	if refusal != "" {
		return fail(L, r, "core.lead.add: "+refusal)
	}
	if statusText != "" {
		st, err := store.ParseStatus(statusText)
		if err != nil {
			return fail(L, r, "core.lead.add: "+store.Describe(err))
		}
		nl.Status = st
	}
	r.meter.countLead(L)
	if r.Shadow {
		return r.standIn(L, nl)
	}
	lead, created, err := r.Store.Add(r.Ctx, nl)
	switch {
	case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrExists), errors.Is(err, store.ErrRefused):
		return fail(L, r, "core.lead.add: "+store.Describe(err))
	case err != nil:
		errorf(L, "core.lead.add: %v", err) // the store itself failed: the run cannot go on
	}
	if created {
		r.meter.added++
	}
	r.Added = append(r.Added, addedLead(nl, lead.ID, created))
	L.Push(lua.LNumber(lead.ID))
	L.Push(lua.LBool(created))
	return 2
}

// core.lead.get(id) → table, as the run sees the lead (its own edits
// included), or nil, message.
func (v *vm) leadGet(L *lua.LState) int {
	r := v.current(L)
	defer r.mu.Unlock()
	id, err := leadID(L.Get(1))
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	l, err := r.Batch.Get(id)
	if err == nil && l.Offer != r.Offer {
		err = fmt.Errorf("lead %d belongs to another offer", id)
	}
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(leadTable(L, l))
	return 1
}

func leadTable(L *lua.LState, l *store.Lead) *lua.LTable {
	t := L.CreateTable(0, 17)
	set := func(k string, v lua.LValue) { t.RawSetString(k, v) }
	set("id", lua.LNumber(l.ID))
	set("offer", lua.LString(l.Offer))
	set("ext", lua.LString(l.Ext))
	set("status", lua.LNumber(l.Status))
	set("reason", lua.LNumber(l.Reason))
	set("comment", lua.LString(l.Comment))
	set("base", lua.LString(l.Base.String()))
	set("counts", lua.LNumber(l.Counts))
	set("curr", lua.LString(l.Curr.Code()))
	set("goal", lua.LNumber(l.Goal))
	set("track", lua.LString(l.Track))
	set("created", lua.LNumber(l.Created.Unix()))
	if !l.AcceptedAt.IsZero() {
		set("accepted_at", lua.LNumber(l.AcceptedAt.Unix()))
	}
	if !l.HoldUntil.IsZero() {
		set("hold_until", lua.LNumber(l.HoldUntil.Unix()))
	}
	// cash: the payouts set on the lead, as edit's cash takes them; one
	// not set (the offer's rate applies) is absent.
	cash := L.CreateTable(0, 4)
	for _, m := range [...]struct {
		key   string
		money store.Money
	}{{"wm", l.Cash.WM}, {"pay", l.Cash.Pay}, {"ref", l.Cash.Ref}} {
		if !m.money.IsZero() {
			cash.RawSetString(m.key, lua.LString(m.money.String()))
		}
	}
	if l.Cash.CC != 0 {
		cash.RawSetString("cc", lua.LString(l.Cash.CC.String()))
	}
	set("cash", cash)
	fields := L.CreateTable(0, len(l.Fields))
	for k, v := range l.Fields {
		fields.RawSetString(k, lua.LString(v))
	}
	set("fields", fields)
	return t
}

func currencyID(L *lua.LState) int {
	c, err := store.ParseCurrency(L.Get(1).String())
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(lua.LNumber(c))
	return 1
}

func (v *vm) goalByCode(L *lua.LState) int {
	r := v.current(L)
	defer r.mu.Unlock()
	id, err := r.Store.GoalByCode(r.Ctx, L.CheckString(1), L.CheckString(2))
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(lua.LNumber(id))
	return 1
}

// addArg is the text of a value core.lead.add stores: a string, a
// number or a boolean. Anything else (a list: a parameter the caller
// sent twice, req.query.click = {"c9", "c9"}) would be stored as Lua's
// "table: 0x…", a new text each run that defeats the idempotency key;
// it sets the add's refusal instead, its first one kept.
func addArg(refusal *string, name string, v lua.LValue) string {
	switch v.(type) {
	case lua.LString, lua.LNumber, lua.LBool:
		return scalarText(v)
	}
	if *refusal == "" {
		what := v.Type().String()
		if t, ok := v.(*lua.LTable); ok && t.Len() > 0 {
			what = "list (a parameter given more than once?)"
		}
		*refusal = fmt.Sprintf("%s is a %s, not text or a number", name, what)
	}
	return ""
}

// scalarText is a number's or string's text; integers print without ".0".
func scalarText(v lua.LValue) string {
	if n, ok := v.(lua.LNumber); ok {
		f := float64(n)
		if f == math.Trunc(f) && math.Abs(f) < 1e15 {
			return strconv.FormatInt(int64(f), 10)
		}
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return v.String()
}

// patchReader turns core.lead.edit's table into a store.Patch; it keeps
// the first error. Methods rather than closures: this runs for every edit
// a handler makes.
type patchReader struct {
	p   store.Patch
	err error
	// whole makes a nested table whole before it is read (cash =
	// req.query reads the call's fields, as when req was made whole).
	whole func(*lua.LTable) *lua.LTable
}

func (r *patchReader) fail(field string, v lua.LValue, want string) {
	if r.err == nil {
		r.err = fmt.Errorf("%s is a %s (%s), want %s", field, v.Type(), v.String(), want)
	}
}

func (r *patchReader) integer(field string, v lua.LValue) (int, bool) {
	if s, ok := v.(lua.LString); ok {
		if n, e := strconv.Atoi(strings.TrimSpace(string(s))); e == nil && n >= -1<<31 && n <= 1<<31 {
			return n, true
		}
	}
	n, ok := v.(lua.LNumber)
	if !ok || float64(n) != math.Trunc(float64(n)) || math.Abs(float64(n)) > 1<<31 {
		r.fail(field, v, "an integer")
		return 0, false
	}
	return int(n), true
}

func (r *patchReader) money(field string, v lua.LValue) *store.Money {
	var m store.Money
	var e error
	switch v := v.(type) {
	case lua.LNumber:
		m, e = store.MoneyFromFloat(float64(v))
	case lua.LString:
		m, e = store.ParseMoney(string(v))
	default:
		r.fail(field, v, "a number or a decimal string")
		return nil
	}
	if e != nil && r.err == nil {
		r.err = fmt.Errorf("%s: %v", field, e)
	}
	return &m
}

func (r *patchReader) currency(field string, v lua.LValue) *store.Currency {
	var c store.Currency
	var e error
	switch v := v.(type) {
	case lua.LNumber:
		c, e = store.CurrencyByNumber(int(v))
	case lua.LString:
		c, e = store.ParseCurrency(string(v))
	default:
		r.fail(field, v, "an ISO code or id")
		return nil
	}
	if e != nil && r.err == nil {
		r.err = fmt.Errorf("%s: %v", field, e)
	}
	return &c
}

func text(v lua.LValue) *string { s := scalarText(v); return &s }

func (r *patchReader) field(k, v lua.LValue) {
	if r.err != nil || isNull(v) {
		return
	}
	p := &r.p
	switch k.String() {
	case "accept":
		switch v {
		case lua.LNumber(1), lua.LTrue:
			p.Accept = true
		case lua.LNumber(0), lua.LFalse:
		default:
			r.fail("accept", v, "1 or true")
		}
	case "status":
		if n, ok := r.integer("status", v); ok {
			if n < 0 || n > 255 {
				r.err = fmt.Errorf("status %d out of range 1..12", n)
				return
			}
			s := store.Status(n)
			p.Status = &s
		}
	case "reason":
		if n, ok := r.integer("reason", v); ok {
			if n < 1 || n > math.MaxUint16 {
				r.err = fmt.Errorf("reason %d out of range", n)
				return
			}
			rs := store.Reason(n)
			p.Reason = &rs
		}
	case "hold":
		if b, ok := v.(lua.LBool); ok {
			if b {
				p.Hold = &store.Hold{}
			}
		} else if n, ok := r.integer("hold", v); ok {
			p.Hold = &store.Hold{Days: n}
		}
	case "comment":
		p.Comment = text(v)
	case "track":
		p.Track = text(v)
	case "ext":
		p.Ext = text(v)
	case "base":
		p.Base = r.money("base", v)
	case "counts":
		if n, ok := r.integer("counts", v); ok {
			p.Counts = &n
		}
	case "curr":
		p.Curr = r.currency("curr", v)
	case "goal":
		if code, ok := v.(lua.LString); ok {
			p.GoalCode = string(code) // text is a goal's code ([goals]), as in the API; a number its id
			return
		}
		if n, ok := r.integer("goal", v); ok {
			if n < 0 || n > math.MaxInt32 {
				r.err = fmt.Errorf("goal %d out of range", n)
				return
			}
			g := uint32(n)
			p.Goal = &g
		}
	case "cash":
		ct, ok := v.(*lua.LTable)
		if !ok {
			r.fail("cash", v, "a table")
			return
		}
		p.Cash = &store.CashPatch{}
		r.whole(ct).ForEach(func(ck, cv lua.LValue) {
			if r.err != nil || isNull(cv) {
				return
			}
			switch ck.String() {
			case "wm":
				p.Cash.WM = r.money("cash.wm", cv)
			case "pay":
				p.Cash.Pay = r.money("cash.pay", cv)
			case "ref":
				p.Cash.Ref = r.money("cash.ref", cv)
			case "cc":
				p.Cash.CC = r.currency("cash.cc", cv)
			default:
				r.err = fmt.Errorf("unknown field cash.%s (wm, pay, ref, cc)", ck.String())
			}
		})
	default:
		r.err = fmt.Errorf("unknown field %q", k.String())
	}
}

// patchFromTable reads core.lead.edit's table; whole makes a nested
// table whole before it is read.
func patchFromTable(t *lua.LTable, whole func(*lua.LTable) *lua.LTable) (store.Patch, error) {
	r := patchReader{whole: whole}
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		r.field(k, v)
	}
	return r.p, r.err
}

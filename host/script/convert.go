package script

import (
	"bytes"
	"fmt"
	"leadhost/store"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

// JSON ↔ Lua, as partners' answers and webhook bodies need it:
//   - numbers that are integers beyond ±2^53 (where a float64 would round
//     them) become strings, so a 19-digit order id stays intact; so do
//     numbers beyond float64's range;
//   - null inside an array becomes json.null, so later elements keep their
//     index; null as an object's value leaves the key out (nil), as Lua has
//     no other way to say "absent";
//   - objects become tables with string keys, arrays tables with 1..n.

const maxJSONDepth = MaxJSONDepth

// MaxJSONDepth is how deep a JSON value a script gets or makes may nest;
// the webhook handler refuses a deeper body (400) before any script runs.
const MaxJSONDepth = 100

// exactInt is the largest integer a float64 holds exactly.
const exactInt = 1 << 53

// nullValue is json.null: one per state, compared by identity.
func nullValue(L *lua.LState) lua.LValue {
	if v, ok := L.G.Registry.RawGetString("leadhost.json.null").(*lua.LUserData); ok {
		return v
	}
	ud := L.NewUserData()
	ud.Value = jsonNull{}
	// Shared by every run on the state: lock it.
	mt := L.NewTable()
	mt.RawSetString("__metatable", lua.LFalse)
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int { L.Push(lua.LString("null")); return 1 }))
	ud.Metatable = mt
	L.G.Registry.RawSetString("leadhost.json.null", ud)
	return ud
}

type jsonNull struct{}

func isNull(v lua.LValue) bool {
	ud, ok := v.(*lua.LUserData)
	if !ok {
		return false
	}
	_, ok = ud.Value.(jsonNull)
	return ok
}

// FromJSON decodes one JSON document into a Lua value. It parses straight
// into Lua tables (encoding/json's token stream cost a third of a status
// check's run); FuzzFromJSON holds it to encoding/json's verdicts.
func FromJSON(L *lua.LState, data []byte) (lua.LValue, error) {
	p := jsonParser{L: L, b: data}
	p.space()
	v, err := p.value(0)
	if err != nil {
		return lua.LNil, err
	}
	p.space()
	if p.i < len(p.b) {
		return lua.LNil, p.errorf("data after the first value")
	}
	return v, nil
}

type jsonParser struct {
	L    *lua.LState
	b    []byte
	i    int
	null lua.LValue
	// The members of the objects and arrays being parsed, innermost last:
	// a table is made once its size is known, since gopher-lua gives a
	// table made without one room for 32 entries of each kind.
	members []jsonMember
	elems   []lua.LValue
}

type jsonMember struct {
	key string
	val lua.LValue
}

func (p *jsonParser) errorf(format string, a ...any) error {
	return fmt.Errorf("json: at byte %d: %s", p.i, fmt.Sprintf(format, a...))
}

func (p *jsonParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (lua.LValue, error) {
	if depth > maxJSONDepth {
		return lua.LNil, p.errorf("nested deeper than %d", maxJSONDepth)
	}
	if p.i >= len(p.b) {
		return lua.LNil, p.errorf("unexpected end of input")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		return lua.LString(s), err
	case c == 't':
		return lua.LTrue, p.literal("true")
	case c == 'f':
		return lua.LFalse, p.literal("false")
	case c == 'n':
		return lua.LNil, p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		return lua.LNil, p.errorf("unexpected %q", c)
	}
}

func (p *jsonParser) literal(word string) error {
	if !bytes.HasPrefix(p.b[p.i:], []byte(word)) {
		return p.errorf("invalid literal")
	}
	p.i += len(word)
	return nil
}

func (p *jsonParser) object(depth int) (lua.LValue, error) {
	p.i++ // {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return p.L.CreateTable(0, 0), nil
	}
	mark := len(p.members)
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return lua.LNil, p.errorf("object key must be a string")
		}
		k, err := p.str()
		if err != nil {
			return lua.LNil, err
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return lua.LNil, p.errorf("missing ':' after object key")
		}
		p.i++
		p.space()
		v, err := p.value(depth + 1)
		if err != nil {
			return lua.LNil, err
		}
		p.members = append(p.members, jsonMember{k, v})
		p.space()
		if p.i >= len(p.b) {
			return lua.LNil, p.errorf("unexpected end of input in object")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			t := p.L.CreateTable(0, len(p.members)-mark)
			for _, m := range p.members[mark:] {
				t.RawSetString(m.key, m.val) // null: the key stays absent
			}
			clear(p.members[mark:]) // no lingering references for the collector
			p.members = p.members[:mark]
			return t, nil
		default:
			return lua.LNil, p.errorf("expected ',' or '}' in object")
		}
	}
}

func (p *jsonParser) array(depth int) (lua.LValue, error) {
	p.i++ // [
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return p.L.CreateTable(0, 0), nil
	}
	mark := len(p.elems)
	for {
		p.space()
		v, err := p.value(depth + 1)
		if err != nil {
			return lua.LNil, err
		}
		if v == lua.LNil {
			if p.null == nil {
				p.null = nullValue(p.L)
			}
			v = p.null
		}
		p.elems = append(p.elems, v)
		p.space()
		if p.i >= len(p.b) {
			return lua.LNil, p.errorf("unexpected end of input in array")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			t := p.L.CreateTable(len(p.elems)-mark, 0)
			for _, v := range p.elems[mark:] {
				t.Append(v)
			}
			clear(p.elems[mark:]) // no lingering references for the collector
			p.elems = p.elems[:mark]
			return t, nil
		default:
			return lua.LNil, p.errorf("expected ',' or ']' in array")
		}
	}
}

func (p *jsonParser) number() (lua.LValue, error) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	intStart := p.i
	if digits() == 0 || (p.b[intStart] == '0' && p.i-intStart > 1) {
		return lua.LNil, p.errorf("invalid number")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return lua.LNil, p.errorf("invalid number")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return lua.LNil, p.errorf("invalid number")
		}
	}
	return numberValue(string(p.b[start:p.i]))
}

// str reads a JSON string at p.i, unescaping it.
func (p *jsonParser) str() (string, error) {
	p.i++ // opening quote
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := string(p.b[start:p.i])
			p.i++
			return s, nil
		}
		if c == '\\' {
			return p.escaped(start)
		}
		if c < 0x20 {
			return "", p.errorf("control character in string")
		}
		p.i++
	}
	return "", p.errorf("unterminated string")
}

func (p *jsonParser) escaped(start int) (string, error) {
	out := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(out), nil
		case c < 0x20:
			return "", p.errorf("control character in string")
		case c != '\\':
			out = append(out, c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.b) {
			break
		}
		e := p.b[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.errorf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					r2, ok := p.hex4()
					if !ok {
						return "", p.errorf("invalid \\u escape")
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						out = utf8.AppendRune(out, dec)
						continue
					}
					p.i = save
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", p.errorf("invalid escape \\%c", e)
		}
	}
	return "", p.errorf("unterminated string")
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(p.b[p.i:p.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(n), true
}

func numberValue(text string) (lua.LValue, error) {
	if isIntegerText(text) {
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil || n > exactInt || n < -exactInt {
			return lua.LString(text), nil // a float64 would round it
		}
		return lua.LNumber(n), nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		// Beyond float64 (1E700): keep the text rather than fail the
		// whole document over one odd number.
		return lua.LString(text), nil
	}
	return lua.LNumber(f), nil
}

func isIntegerText(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// maxJSONOutput bounds what json.encode (and a hook's table reply) may
// produce: a table shared by reference many times over encodes to an
// exponential size with a modest depth.
const maxJSONOutput = 16 << 20

var errJSONTooBig = fmt.Errorf("json.encode: result over %d bytes", maxJSONOutput)

// ToJSON encodes a Lua value. A table whose keys are exactly 1..n is an
// array; any other table an object with its keys as strings (sorted, so
// the output is stable); an empty table is {}. It appends to one buffer
// and walks tables without ForEach's callback, which boxed every key it
// handed over: a hook's reply of three fields had cost 27 allocations.
func ToJSON(v lua.LValue) ([]byte, error) {
	return appendJSON(make([]byte, 0, 64), v, 0, nil)
}

// appendJSON appends v's JSON to b; fill, if set, sees every table first
// (vm.toJSON).
func appendJSON(b []byte, v lua.LValue, depth int, fill func(*lua.LTable)) ([]byte, error) {
	if len(b) > maxJSONOutput {
		return nil, errJSONTooBig
	}
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("json.encode: nested deeper than %d (a cycle?)", maxJSONDepth)
	}
	switch v := v.(type) {
	case *lua.LNilType:
		b = append(b, "null"...)
	case lua.LBool:
		b = strconv.AppendBool(b, bool(v))
	case lua.LNumber:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("json.encode: %v is not a JSON number", f)
		}
		if f == math.Trunc(f) && math.Abs(f) < 1e15 {
			b = strconv.AppendInt(b, int64(f), 10)
		} else {
			b = strconv.AppendFloat(b, f, 'g', -1, 64)
		}
	case lua.LString:
		b = store.AppendJSONString(b, string(v))
	case *lua.LUserData:
		if isNull(v) {
			return append(b, "null"...), nil
		}
		return nil, fmt.Errorf("json.encode: cannot encode userdata")
	case *lua.LTable:
		if fill != nil {
			fill(v)
		}
		return appendJSONTable(b, v, depth, fill)
	default:
		return nil, fmt.Errorf("json.encode: cannot encode a %s", v.Type())
	}
	return b, nil
}

// jsonMemberOut is one member of an object being encoded.
type jsonMemberOut struct {
	k string
	v lua.LValue
}

func appendJSONTable(b []byte, t *lua.LTable, depth int, fill func(*lua.LTable)) ([]byte, error) {
	var err error
	// An array: 1..n all set (Len is the last set index of the array
	// part, where every integer key up to MaxArrayIndex lives) and no
	// key after n.
	if n := t.Len(); n > 0 && arrayOnly(t, n) {
		b = append(b, '[')
		for i := 1; i <= n; i++ {
			if i > 1 {
				b = append(b, ',')
			}
			if b, err = appendJSON(b, t.RawGetInt(i), depth+1, fill); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	var room [16]jsonMemberOut // most objects: no allocation for their members
	members := room[:0]
	for k, val := t.Next(lua.LNil); k != lua.LNil; k, val = t.Next(k) {
		switch k.(type) {
		case lua.LString, lua.LNumber:
			members = append(members, jsonMemberOut{k.String(), val})
		default:
			return nil, fmt.Errorf("json.encode: a %s key", k.Type())
		}
	}
	slices.SortStableFunc(members, func(x, y jsonMemberOut) int { return strings.Compare(x.k, y.k) })
	b = append(b, '{')
	for i, m := range members {
		if i > 0 {
			b = append(b, ',')
		}
		b = store.AppendJSONString(b, m.k)
		b = append(b, ':')
		if b, err = appendJSON(b, m.v, depth+1, fill); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// arrayOnly says whether t's keys are exactly 1..n, n its Len.
func arrayOnly(t *lua.LTable, n int) bool {
	for i := 1; i <= n; i++ {
		if t.RawGetInt(i) == lua.LNil {
			return false
		}
	}
	k, _ := t.Next(lua.LNumber(n))
	return k == lua.LNil
}

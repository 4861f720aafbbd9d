package script

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"

	lua "github.com/yuin/gopher-lua"
)

// JSON ↔ Lua, as partners' answers and webhook bodies need it:
//   - numbers that are integers beyond ±2^53 (where a float64 would round
//     them) become strings, so a 19-digit order id stays intact;
//   - null inside an array becomes json.null, so later elements keep their
//     index; null as an object's value leaves the key out (nil), as Lua has
//     no other way to say "absent";
//   - objects become tables with string keys, arrays tables with 1..n.

const maxJSONDepth = 100

// exactInt is the largest integer a float64 holds exactly.
const exactInt = 1 << 53

// nullValue is json.null: one per state, compared by identity.
func nullValue(L *lua.LState) lua.LValue {
	if v, ok := L.G.Registry.RawGetString("leadhost.json.null").(*lua.LUserData); ok {
		return v
	}
	ud := L.NewUserData()
	ud.Value = jsonNull{}
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

// FromJSON decodes one JSON document into a Lua value.
func FromJSON(L *lua.LState, data []byte) (lua.LValue, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(L, dec, 0)
	if err != nil {
		return lua.LNil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return lua.LNil, fmt.Errorf("json: data after the first value")
	}
	return v, nil
}

func decodeValue(L *lua.LState, dec *json.Decoder, depth int) (lua.LValue, error) {
	if depth > maxJSONDepth {
		return lua.LNil, fmt.Errorf("json: nested deeper than %d", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return lua.LNil, fmt.Errorf("json: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		tbl := L.NewTable()
		if t == '[' {
			for i := 1; dec.More(); i++ {
				v, err := decodeValue(L, dec, depth+1)
				if err != nil {
					return lua.LNil, err
				}
				if v == lua.LNil {
					v = nullValue(L)
				}
				tbl.RawSetInt(i, v)
			}
		} else {
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return lua.LNil, fmt.Errorf("json: %w", err)
				}
				v, err := decodeValue(L, dec, depth+1)
				if err != nil {
					return lua.LNil, err
				}
				tbl.RawSetString(kt.(string), v)
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return lua.LNil, fmt.Errorf("json: %w", err)
		}
		return tbl, nil
	case string:
		return lua.LString(t), nil
	case json.Number:
		return numberValue(string(t))
	case bool:
		return lua.LBool(t), nil
	case nil:
		return lua.LNil, nil
	}
	return lua.LNil, fmt.Errorf("json: unexpected %v", tok)
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
		return lua.LNil, fmt.Errorf("json: number %s: %w", text, err)
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

// ToJSON encodes a Lua value. A table whose keys are exactly 1..n is an
// array; any other table an object with its keys as strings (sorted, so
// the output is stable); an empty table is {}.
func ToJSON(v lua.LValue) ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeValue(&buf, v, 0); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func encodeValue(buf *bytes.Buffer, v lua.LValue, depth int) error {
	if depth > maxJSONDepth {
		return fmt.Errorf("json.encode: nested deeper than %d (a cycle?)", maxJSONDepth)
	}
	switch v := v.(type) {
	case *lua.LNilType:
		buf.WriteString("null")
	case lua.LBool:
		buf.WriteString(strconv.FormatBool(bool(v)))
	case lua.LNumber:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("json.encode: %v is not a JSON number", f)
		}
		if f == math.Trunc(f) && math.Abs(f) < 1e15 {
			buf.WriteString(strconv.FormatInt(int64(f), 10))
		} else {
			buf.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
		}
	case lua.LString:
		b, _ := json.Marshal(string(v))
		buf.Write(b)
	case *lua.LUserData:
		if isNull(v) {
			buf.WriteString("null")
			return nil
		}
		return fmt.Errorf("json.encode: cannot encode userdata")
	case *lua.LTable:
		n := v.Len()
		isArray := n > 0
		count := 0
		v.ForEach(func(k, _ lua.LValue) {
			count++
			if kn, ok := k.(lua.LNumber); !ok || float64(kn) != math.Trunc(float64(kn)) || kn < 1 || int(kn) > n {
				isArray = false
			}
		})
		if isArray && count == n {
			buf.WriteByte('[')
			for i := 1; i <= n; i++ {
				if i > 1 {
					buf.WriteByte(',')
				}
				if err := encodeValue(buf, v.RawGetInt(i), depth+1); err != nil {
					return err
				}
			}
			buf.WriteByte(']')
			return nil
		}
		type kv struct {
			k string
			v lua.LValue
		}
		var pairs []kv
		var err error
		v.ForEach(func(k, val lua.LValue) {
			switch k.(type) {
			case lua.LString, lua.LNumber:
				pairs = append(pairs, kv{k.String(), val})
			default:
				err = fmt.Errorf("json.encode: a %s key", k.Type())
			}
		})
		if err != nil {
			return err
		}
		sort.Slice(pairs, func(i, j int) bool { return pairs[i].k < pairs[j].k })
		buf.WriteByte('{')
		for i, p := range pairs {
			if i > 0 {
				buf.WriteByte(',')
			}
			kb, _ := json.Marshal(p.k)
			buf.Write(kb)
			buf.WriteByte(':')
			if err := encodeValue(buf, p.v, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return fmt.Errorf("json.encode: cannot encode a %s", v.Type())
	}
	return nil
}

package script

import (
	"leadhost/host/partner"
	"net/url"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// form.encode(table) → "a=1&b=2" (keys sorted; an array value repeats its
// key as key[]); form.decode(text) → table (a repeated key or key[] gives
// an array). This is the seed's "Form Urlencoded" action.
func (v *vm) formModule() *lua.LTable {
	return v.moduleTable(map[string]lua.LGFunction{
		"encode": func(L *lua.LState) int {
			L.Push(lua.LString(encodeForm(L, v.whole(L.CheckTable(1)))))
			return 1
		},
		"decode": func(L *lua.LState) int {
			vals, err := url.ParseQuery(L.CheckString(1))
			if err != nil {
				errorf(L, "form.decode: %v", err)
			}
			L.Push(formTable(L, vals))
			return 1
		},
	})
}

// encodeForm writes a table as a form with partner.EncodeForm, the
// encoder of every request leadhost sends: a table value is an array,
// sent as key[]=….
func encodeForm(L *lua.LState, t *lua.LTable) string {
	fields := map[string][]string{}
	t.ForEach(func(k, val lua.LValue) {
		key := k.String()
		if sub, ok := val.(*lua.LTable); ok {
			list := make([]string, 0, sub.Len())
			for i := 1; i <= sub.Len(); i++ {
				list = append(list, formScalar(L, key, sub.RawGetInt(i)))
			}
			fields[strings.TrimSuffix(key, "[]")+"[]"] = list
			return
		}
		fields[key] = append(fields[key], formScalar(L, key, val))
	})
	return partner.EncodeForm(fields)
}

func formScalar(L *lua.LState, key string, v lua.LValue) string {
	switch v := v.(type) {
	case lua.LString, lua.LNumber:
		return v.String()
	case lua.LBool:
		if v {
			return "1"
		}
		return "0"
	}
	errorf(L, "form.encode: field %q is a %s", key, v.Type())
	return ""
}

// formTable turns named values (a decoded form or query, a request's
// fields) into a table: a name with one value maps to that string, one
// with several — or written key[] — to an array named without the
// brackets.
func formTable(L *lua.LState, vals map[string][]string) *lua.LTable {
	t := L.CreateTable(0, len(vals))
	fillForm(L, t, vals)
	return t
}

// fillForm sets vals' fields in t, as formTable makes them. A name sent
// both plain and with brackets (a=1&a[]=2) is one list, the plain
// values first: the same list on every call, not whichever spelling the
// map gave last.
func fillForm(L *lua.LState, t *lua.LTable, vals map[string][]string) {
	for k, vs := range vals {
		name, isArray := strings.CutSuffix(k, "[]")
		if !isArray {
			if _, both := vals[name+"[]"]; both {
				continue // made with the bracketed spelling
			}
			if len(vs) == 1 {
				t.RawSetString(name, lua.LString(vs[0]))
				continue
			}
		}
		plain := vals[name]
		if !isArray {
			plain = nil // vs is the plain values already
		}
		arr := L.CreateTable(len(plain)+len(vs), 0)
		for _, s := range plain {
			arr.Append(lua.LString(s))
		}
		for _, s := range vs {
			arr.Append(lua.LString(s))
		}
		t.RawSetString(name, arr)
	}
}

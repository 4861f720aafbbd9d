package script

import (
	lua "github.com/yuin/gopher-lua"
)

// json.encode(value) → string; json.decode(text) → value (raises on bad
// JSON); json.null stands for null inside arrays.
func (v *vm) jsonModule() *lua.LTable {
	t := v.moduleTable(map[string]lua.LGFunction{
		"encode": func(L *lua.LState) int {
			b, err := v.toJSON(L.CheckAny(1))
			if err != nil {
				errorf(L, "%v", err)
			}
			L.Push(lua.LString(b))
			return 1
		},
		"decode": func(L *lua.LState) int {
			val, err := FromJSON(L, []byte(L.CheckString(1)))
			if err != nil {
				errorf(L, "json.decode: %v", err)
			}
			L.Push(val)
			return 1
		},
	})
	t.RawSetString("null", nullValue(v.L))
	return t
}

package script

import lua "github.com/yuin/gopher-lua"

// builtinModules are the modules every script gets, by the global name it
// uses them under, in one table as k6 keeps its modules: each lives in a
// file of its own (module_<name>.go) whose function builds its table,
// and newVM makes every one a read-only global of each new state. A new
// module is a line here and a file.
var builtinModules = []struct {
	name string
	open func(v *vm) *lua.LTable
}{
	{"core", (*vm).coreModule}, // core.lead.*, core.currency, core.goal, core.log (module_core.go)
	{"json", (*vm).jsonModule}, // json.encode, json.decode, json.null (module_json.go)
	{"form", (*vm).formModule}, // form.encode, form.decode (module_form.go)
	{"http", (*vm).httpModule}, // http.request, for hooks and send.lua (module_http.go)
}

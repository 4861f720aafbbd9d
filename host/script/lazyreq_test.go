package script

import (
	"context"
	"leadhost/store"
	"testing"
)

// TestReqReadsAsAWholeTable holds a hook's req, made as the script reads
// it (lazyreq.go), to what the table made whole before the run showed:
// every way a script can look at it, change it or hand it on answers as
// it did (these cases pass on the eager req too).
func TestReqReadsAsAWholeTable(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	req := HookRequest{Method: "POST", IP: "10.0.0.7", Body: []byte("a=1&b=2"),
		Query:   map[string][]string{"order": {"S1"}, "tag[]": {"x", "y"}},
		Form:    map[string][]string{"a": {"1"}, "b": {"2"}},
		Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Trace": "t1"}}
	jsonReq := req
	jsonReq.JSON, jsonReq.Body, jsonReq.Form = []byte(`{"id":5,"items":[1,2]}`), []byte(`{"id":5,"items":[1,2]}`), nil
	cases := []hookCase{
		{"fields", req, `return req.method .. " " .. req.ip .. " " .. req.body .. " " .. req.query.order .. " " ..
			req.query.tag[2] .. " " .. req.form.b .. " " .. req.headers["x-trace"] .. " " .. tostring(req.json)`,
			"POST 10.0.0.7 a=1&b=2 S1 y 2 t1 nil"},
		{"the same table twice", req, `return tostring(req.query == req.query) .. tostring(req.headers == req.headers)`, "truetrue"},
		{"json", jsonReq, `return req.json.id .. " " .. #req.json.items .. " " .. req.body`, `5 2 {"id":5,"items":[1,2]}`},
		{"pairs", req, `local ks = {} for k in pairs(req) do ks[#ks + 1] = k end table.sort(ks) return table.concat(ks, ",")`,
			"body,form,headers,ip,method,query"},
		{"pairs after a read", jsonReq, `local _ = req.query local ks = {} for k in pairs(req) do ks[#ks + 1] = k end
			table.sort(ks) return table.concat(ks, ",")`, "body,form,headers,ip,json,method,query"},
		{"next", req, `local n, k = 0, next(req) while k do n = n + 1 k = next(req, k) end return tostring(n)`, "6"},
		{"rawget", req, `return rawget(req, "method") .. " " .. rawget(req, "query").order`, "POST S1"},
		{"json.encode", req, `return json.encode(req)`,
			`{"body":"a=1\u0026b=2","form":{"a":"1","b":"2"},"headers":{"content-type":"application/x-www-form-urlencoded","x-trace":"t1"},"ip":"10.0.0.7","method":"POST","query":{"order":"S1","tag":["x","y"]}}`},
		{"json.encode nested", req, `return json.encode({ r = { req } })`,
			`{"r":[{"body":"a=1\u0026b=2","form":{"a":"1","b":"2"},"headers":{"content-type":"application/x-www-form-urlencoded","x-trace":"t1"},"ip":"10.0.0.7","method":"POST","query":{"order":"S1","tag":["x","y"]}}]}`},
		{"assigned before a read", req, `req.query = nil req.method = "X" return tostring(req.query) .. req.method`, "nilX"},
		{"assigned after a read", req, `local q = req.query req.query = nil return tostring(req.query) .. q.order`, "nilS1"},
		{"rawset", req, `rawset(req, "query", nil) return tostring(req.query) .. req.ip`, "nil10.0.0.7"},
		{"new keys", req, `req.seen = 1 return req.seen .. req.method`, "1POST"},
		{"getmetatable", req, `return tostring(getmetatable(req))`, "nil"},
		{"setmetatable", req, `setmetatable(req, { __index = function(_, k) return "mt:" .. k end })
			return req.missing .. " " .. req.method .. " " .. tostring(getmetatable(req) ~= nil)`, "mt:missing POST true"},
		{"setmetatable nil", req, `setmetatable(req, nil) return req.ip .. tostring(getmetatable(req))`, "10.0.0.7nil"},
		{"form.encode", req, `return form.encode(req.form)`, "a=1&b=2"},
		{"core.lead.add refuses req", req, `local ok, err = pcall(core.lead.add, req) return tostring(ok) .. " " .. tostring(err):match("unknown field") `, "false unknown field"},
		{"reply", req, `return req`,
			`{"body":"a=1\u0026b=2","form":{"a":"1","b":"2"},"headers":{"content-type":"application/x-www-form-urlencoded","x-trace":"t1"},"ip":"10.0.0.7","method":"POST","query":{"order":"S1","tag":["x","y"]}}`},
		{"reply headers", req, `return "x", 200, req.form`, "x"},
		{"a global holding it", req, `r = req return r.method`, "POST"},
		{"other tables", req, `local t = {} t.method = 1 return tostring(t.query) .. t.method`, "nil1"},
	}
	checkReplies(t, st, cases)
}

// TestReqFormsReadAsWholeTables holds req.query and req.form, read field
// by field until the script does more (lazyform.go), to what the tables
// made whole before the run showed: every case passes on eager tables too.
func TestReqFormsReadAsWholeTables(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	req := HookRequest{Method: "POST", IP: "10.0.0.7", Body: []byte("a=1&b=2"),
		Query: map[string][]string{"order": {"S1"}, "tag[]": {"x", "y"}, "dup": {"a", "b"}, "one[]": {"z"}, "in[][]": {"w"}},
		Form:  map[string][]string{"a": {"1"}, "b": {"2"}}}
	get := req
	get.Method, get.Body, get.Form, get.Query = "GET", nil, nil, map[string][]string{"wm": {"12.50"}, "tip": {"1"}}
	keys := `local ks = {} for k in pairs(req.query) do ks[#ks + 1] = k end table.sort(ks) return table.concat(ks, ",")`
	cases := []hookCase{
		{"fields", req, `local q = req.query return q.order .. " " .. tostring(q.missing) .. " " .. q.tag[2] .. " " ..
			q.dup[1] .. q.dup[2] .. " " .. q.one[1] .. " " .. tostring(q["tag[]"]) .. " " .. q["in[]"][1] .. " " .. tostring(q[1])`,
			"S1 nil y ab z nil w nil"},
		{"a field after a list", req, `local q = req.query local t = q.tag return t[1] .. q.order .. tostring(getmetatable(q))`, "xS1nil"},
		{"the same list twice", req, `return tostring(req.query.tag == req.query.tag) .. tostring(req.query == req.query)`, "truetrue"},
		{"read twice", req, `local q = req.query return q.order .. q.order`, "S1S1"},
		{"assigned nil before a read", req, `local q = req.query q.order = nil return tostring(q.order) .. q.dup[1]`, "nila"},
		{"assigned after a read", req, `local q = req.query local o = q.order q.order = "Z" return o .. q.order`, "S1Z"},
		{"a new key", req, `local q = req.query q.x = 1 return q.x .. q.order`, "1S1"},
		{"rawset nil", req, `rawset(req.query, "order", nil) return tostring(req.query.order) .. req.query.dup[2]`, "nilb"},
		{"rawget", req, `return rawget(req.query, "order") .. tostring(rawget(req.query, "zz"))`, "S1nil"},
		{"pairs", req, keys, "dup,in[],one,order,tag"},
		{"pairs after a read", req, `local _ = req.query.order ` + keys, "dup,in[],one,order,tag"},
		{"next", req, `local n, k = 0, next(req.query) while k do n = n + 1 k = next(req.query, k) end return tostring(n)`, "5"},
		{"length", req, `return tostring(#req.query)`, "0"},
		{"json.encode", req, `return json.encode({ q = req.query, f = req.form })`,
			`{"f":{"a":"1","b":"2"},"q":{"dup":["a","b"],"in[]":["w"],"one":["z"],"order":"S1","tag":["x","y"]}}`},
		{"reply", req, `return req.form`, `{"a":"1","b":"2"}`},
		{"getmetatable", req, `return tostring(getmetatable(req.query)) .. tostring(getmetatable(req.form))`, "nilnil"},
		{"setmetatable", req, `local q = setmetatable(req.query, { __index = function(_, k) return "mt:" .. k end })
			return q.missing .. " " .. q.order`, "mt:missing S1"},
		{"form.encode", req, `return form.encode(req.form)`, "a=1&b=2"},
		{"no form", get, `return tostring(next(req.form)) .. json.encode(req.form) .. tostring(req.form.a)`, "nil{}nil"},
		{"fields of an add", req, `local id = core.lead.add{ key = "f1", fields = req.form } return core.lead.get(id).fields.b`, "2"},
		{"cash of an edit", get, `local id = core.lead.add{ key = "c1" } local ok, err = core.lead.edit(id, { cash = req.query })
			return tostring(ok) .. " " .. tostring(err)`, "nil core.lead.edit: unknown field cash.tip (wm, pay, ref, cc)"},
	}
	checkReplies(t, st, cases)
}

// req, req.query and the globals refuse a nil or NaN key as a plain
// table does: a typo such as q[q.missing] = v raises, it is not kept
// under nil.
func TestReqBadKeyAssignmentRaises(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	req := HookRequest{Method: "GET", Query: map[string][]string{"order": {"S1"}, "wm": {"5"}}}
	checkReplies(t, st, []hookCase{
		{"a plain table, nil key (reference)", req, `local q = {order = "S1"} return tostring((pcall(function() q[nil] = 1 end)))`, "false"},
		{"req.query, nil key", req, `local q = req.query return tostring((pcall(function() q[nil] = 1 end)))`, "false"},
		{"req.query, NaN key", req, `local q = req.query return tostring((pcall(function() q[0/0] = 1 end)))`, "false"},
		{"req, nil key", req, `return tostring((pcall(function() req[nil] = 1 end)))`, "false"},
		{"rawset, nil key", req, `return tostring((pcall(function() rawset({}, nil, 1) end)))`, "false"},
		{"req.query after a swallowed nil key", req, `local q = req.query pcall(function() q[q.missing] = "x" end) return tostring(q[nil])`, "nil"},
	})
}

// A name sent both plain and with brackets (a=1&a[]=2&a=3) is one list,
// the plain values first, on every call: it was whichever spelling Go's
// map gave last, varying from call to call.
func TestFormNameSentBothWaysIsOneList(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	p := NewPool(Limits{})
	s := mustCompile(t, "shop/hook.lua", `return json.encode({q = req.query.a, f = form.decode("b=1&b[]=2&b=3").b})`)
	req := HookRequest{Method: "GET", Query: map[string][]string{"a": {"1", "3"}, "a[]": {"2"}, "z": {"0"}}}
	for i := range 50 {
		res, err := p.RunHook(context.Background(), s, Hook{Store: st, Offer: "shop", Request: req})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(res.Reply.Body), `{"f":["1","3","2"],"q":["1","3","2"]}`; got != want {
			t.Fatalf("call %d: %s, want %s", i, got, want)
		}
	}
}

// hookCase is a hook run on req whose reply body must be want.
type hookCase struct {
	name string
	req  HookRequest
	src  string
	want string
}

// checkReplies runs each case's src as shop's hook, on a pool of its
// own, and compares the reply's body.
func checkReplies(t *testing.T, st store.Store, cases []hookCase) {
	t.Helper()
	p := NewPool(Limits{})
	for _, c := range cases {
		s := mustCompile(t, "scripts/shop/hook.lua", c.src)
		res, err := p.RunHook(context.Background(), s, Hook{Store: st, Offer: "shop", Request: c.req})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := string(res.Reply.Body); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}

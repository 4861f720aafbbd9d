package script

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

func TestJSONToLua(t *testing.T) {
	t.Parallel()
	p := NewPool(Limits{})
	cases := []struct{ name, src, want string }{
		{"big ids stay exact", `local d = json.decode('{"id": 9007199254740993, "small": 55501, "neg": -9223372036854775809}')
			return type(d.id), d.id, type(d.small), d.small, d.neg`, "string,9007199254740993,number,55501,-9223372036854775809"},
		{"nulls keep array positions", `local a = json.decode('[1, null, 3]')
			return #a, a[2] == json.null, a[3]`, "3,true,3"},
		{"null in an object is absent", `local o = json.decode('{"a": null, "b": 2}')
			return tostring(o.a), o.b`, "nil,2"},
		{"round trip", `return json.encode(json.decode('{"b":[1,2.5,"x",null,true],"a":{"c":{}}}'))`, `{"a":{"c":{}},"b":[1,2.5,"x",null,true]}`},
		{"seed shape", `local d = json.decode('{"55501":{"id":55501,"status":"approved"}}')
			return d["55501"].status`, "approved"},
		{"form encode", `return form.encode({phone = "+7 999", name = "Иван", ids = {1, 2}, ok = true})`,
			"ids[]=1&ids[]=2&name=%D0%98%D0%B2%D0%B0%D0%BD&ok=1&phone=%2B7+999"},
		{"form decode", `local f = form.decode("a=1&b[]=x&b[]=y&c=%D0%B4")
			return f.a, #f.b, f.b[2], f.c`, "1,2,y,д"},
	}
	for _, tc := range cases {
		out, err := runString(t, p, tc.src)
		if err != nil || strings.Join(out, ",") != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, strings.Join(out, ","), err, tc.want)
		}
	}
	for _, bad := range []string{`json.decode('{"a":')`, `json.decode('[1] 2')`, `json.encode({f = print})`,
		`local t = {} t.t = t return json.encode(t)`, `json.decode(string.rep("[", 200) .. string.rep("]", 200))`} {
		if _, err := runString(t, p, bad); err == nil || !strings.Contains(err.Error(), "json") {
			t.Errorf("%s: err = %v, want a json error", bad, err)
		}
	}
}

func TestOutOfRangeNumbersAreRefused(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	leads := processingLeads(t, st, "acme", 1)
	s := mustCompile(t, "scripts/acme/check.lua", `
		local id = e2i[5001]
		local a, wa = core.lead.edit(id, {status = 5, reason = 65537})
		local b, wb = core.lead.edit(id, {goal = -1})
		local c, wc = core.lead.edit(id, {goal = "4294967297"})
		local d, wd = core.lead.edit(id, {counts = 1e12})
		assert(not a and not b and not c and not d, "an out-of-range number was taken")
		return wa`)
	res, err := NewPool(Limits{}).RunCheck(context.Background(), s, Check{Store: st, Offer: "acme", Leads: leads, Data: []byte(`[]`)})
	if err != nil || len(res.Refused) != 4 {
		t.Fatalf("refused %q, %v", res.Refused, err)
	}
	if got, _ := st.Get(context.Background(), leads[0].ID); got.Rev != 1 {
		t.Errorf("lead changed: %+v", got)
	}
}

func TestHugeResultsAreRefused(t *testing.T) {
	t.Parallel()
	// A generous deadline: this is about the size limit, not the deadline,
	// and -race makes encoding 16 MiB slow.
	p := NewPool(Limits{Timeout: time.Minute})
	for src, want := range map[string]string{
		`local t = {} for i = 1, 30 do t = {t, t} end return json.encode(t)`: "json.encode: result over",
		`local t = {} t[30000000] = 1 return #t`:                             "", // no 2.4 GB padding: the key goes to the hash part
	} {
		_, err := runString(t, p, src)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: err = %v, want %q", src, err, want)
		}
	}
}

// TestToJSONMatchesTheOldEncoder holds ToJSON to the encoder it replaced
// (convert_old_test.go), byte for byte and error for error, on the
// values scripts reply with.
func TestToJSONMatchesTheOldEncoder(t *testing.T) {
	t.Parallel()
	p := NewPool(Limits{})
	cases := []struct{ name, src string }{
		{"reply", `return { ok = true, lead = 17, created = false }`},
		{"empty table", `return {}`},
		{"array", `return { 1, "two", true, 4.5 }`},
		{"nested", `return { a = { b = { 1, { c = "d" } }, e = {} }, f = { { }, { 1 } } }`},
		{"array with a hole", `return { 1, nil, 3 }`},
		{"trailing nil", `local t = { 1, 2, 3 } t[3] = nil return t`},
		{"array and keys", `return { 1, 2, x = "y" }`},
		{"sparse numbers", `return { [1] = "a", [3] = "c" }`},
		{"numbers only from 2", `return { [2] = "b", [3] = "c" }`},
		{"float and negative keys", `return { [1.5] = "x", [-1] = "y", [0] = "z" }`},
		{"big index", `local t = {} t[2^21] = 1 return t`},
		{"array then a big index", `local t = { 1, 2 } t[2^21] = 3 return t`},
		{"integers and floats", `return { 0, -0, 1e15 - 1, 1e15, -1e15, 2^53, 2^53 + 2, 0.1, -2.5e-7, 1e300, 123456789.125 }`},
		{"NaN", `return { x = 0/0 }`},
		{"infinity", `return { 1/0 }`},
		{"minus infinity", `return { y = { -1/0 } }`},
		{"unicode", `return { ["ключ"] = "значение 😀", ["é"] = "\226\128\168 \226\128\169" }`},
		{"control characters", `return { s = "\0\1\8\9\10\12\13\31\127 \"q\" \\ / <a&b>" }`},
		{"invalid UTF-8", `return { "\255\254", "\226\128" }`},
		{"json.null", `return { 1, json.null, 3, k = json.null }`},
		{"only json.null", `return { json.null }`},
		{"a boolean key", `return { [true] = 1 }`},
		{"a table key", `return { [{}] = 1 }`},
		{"a function", `return { f = print }`},
		{"too deep", `local t = {} local c = t for i = 1, 120 do c.x = {} c = c.x end return t`},
		{"a cycle", `local t = {} t.self = t return t`},
		{"a string", `return "plain"`},
		{"nil", `return nil`},
		{"a number", `return 42`},
		{"deleted keys", `local t = { a = 1, b = 2, c = 3 } t.b = nil return t`},
		{"all keys deleted", `local t = { a = 1 } t.a = nil return t`},
		{"array emptied", `local t = { 1, 2 } t[1] = nil t[2] = nil return t`},
		{"many keys", `local t = {} for i = 1, 40 do t["k" .. i] = i end return t`},
		{"long array", `local t = {} for i = 1, 300 do t[i] = i * 1.5 end return t`},
	}
	for _, c := range cases {
		s := mustCompile(t, "scripts/test/json.lua", c.src)
		err := p.Run(context.Background(), s, nil, func(_ *Env, rets []lua.LValue) error {
			var v lua.LValue = lua.LNil
			if len(rets) > 0 {
				v = rets[0]
			}
			got, gotErr := ToJSON(v)
			want, wantErr := oldToJSON(v)
			if string(got) != string(want) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Errorf("%s: got %s, %v; the old encoder %s, %v", c.name, got, gotErr, want, wantErr)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
}

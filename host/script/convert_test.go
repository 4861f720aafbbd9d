package script

import (
	"strings"
	"testing"
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
			"ids%5B%5D=1&ids%5B%5D=2&name=%D0%98%D0%B2%D0%B0%D0%BD&ok=1&phone=%2B7+999"},
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

package script

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

// FuzzFromJSON holds the hand-written parser to encoding/json: the same
// documents accepted and refused, and strings unescaped alike.
func FuzzFromJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,null,"x\u00e9\ud83d\ude00"],"b":{"c":true}}`, `[]`, `{}`, `"\/\b\f\n\r\t"`,
		`-0.5e+3`, `9007199254740993`, `[1,]`, `{"a" 1}`, `01`, `"\ud800"`, `tru`, `[` + strings.Repeat("[", 5) + `]`} {
		f.Add(s)
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	f.Fuzz(func(t *testing.T, in string) {
		v, err := FromJSON(L, []byte(in))
		if err != nil && strings.Contains(err.Error(), "nested deeper") {
			return // our depth limit is stricter than encoding/json's
		}
		if valid := json.Valid([]byte(in)); valid != (err == nil) {
			t.Fatalf("%q: encoding/json says valid=%v, we say %v", in, valid, err)
		}
		if err != nil || !utf8.ValidString(in) {
			return
		}
		var want string
		if strings.HasPrefix(strings.TrimSpace(in), `"`) && json.Unmarshal([]byte(in), &want) == nil {
			if got, ok := v.(lua.LString); !ok || string(got) != want {
				t.Fatalf("%q: string %q, encoding/json %q", in, v, want)
			}
		}
	})
}

// FuzzJSONString holds the hand-written string encoder to json.Marshal,
// byte for byte: control characters, HTML, U+2028, invalid UTF-8.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\s/", "<a&b>", "\x00\x1f\x7f\n\r\t\b\f", "\u2028\u2029é😀", "\xff\xfe bad", "\xe2\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got bytes.Buffer
		appendJSONString(&got, s)
		want, _ := json.Marshal(s)
		if got.String() != string(want) {
			t.Fatalf("%q: %s, json.Marshal %s", s, got.String(), want)
		}
	})
}

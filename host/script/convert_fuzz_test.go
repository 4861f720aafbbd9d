package script

import (
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

// FuzzToJSON holds ToJSON to the encoder it replaced
// (convert_old_test.go) on whatever JSON decodes to.
func FuzzToJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,null,"x\u00e9"],"b":{"c":true},"1":2}`, `[]`, `{}`, `[[],{}]`, `[1.5e300,-0,0.1]`,
		`{"\u2028<&>":"\u0000"}`, `[1,2,{"x":[3]}]`, `9007199254740993`} {
		f.Add(s)
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	f.Fuzz(func(t *testing.T, in string) {
		v, err := FromJSON(L, []byte(in))
		if err != nil {
			return
		}
		got, gotErr := ToJSON(v)
		want, wantErr := oldToJSON(v)
		if string(got) != string(want) || (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%q: %s, %v; the old encoder %s, %v", in, got, gotErr, want, wantErr)
		}
	})
}

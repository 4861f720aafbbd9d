package store

import (
	"encoding/json"
	"testing"
)

// FuzzJSONString holds the hand-written string encoder to json.Marshal,
// byte for byte: control characters, HTML, U+2028, invalid UTF-8.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\s/", "<a&b>", "\x00\x1f\x7f\n\r\t\b\f", "\u2028\u2029é😀", "\xff\xfe bad", "\xe2\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendJSONString(nil, s)
		want, _ := json.Marshal(s)
		if string(got) != string(want) {
			t.Fatalf("%q: %s, json.Marshal %s", s, got, want)
		}
	})
}

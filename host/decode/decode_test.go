package decode

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of decoded fixtures")

// TestDecodeGolden decodes every fixture in testdata/decode by its
// extension and compares the result, as JSON, with its .golden file.
func TestDecodeGolden(t *testing.T) {
	formats := map[string]string{".xml": "xml", ".form": "form", ".ser": "serialize", ".txt": "text", ".json": "json"}
	files, _ := filepath.Glob("testdata/decode/*")
	n := 0
	for _, f := range files {
		format, ok := formats[filepath.Ext(f)]
		if !ok {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			v, err := Decode(format, body)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			got, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden := f + ".golden"
			if *update {
				os.WriteFile(golden, append(got, '\n'), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
				t.Errorf("decoded:\n%s\nwant (%s):\n%s", got, golden, want)
			}
		})
	}
	if n < 5 {
		t.Fatalf("only %d fixtures found", n)
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ format, body, want string }{
		{"json", `{"a":`, "json"},
		{"xml", `<a><b></a>`, "xml"},
		{"xml", `just text`, "no root"},
		{"xml", `<a/><b/>`, "more than one root"},
		{"serialize", `a:2:{i:0;s:1:"x";}`, "serialize"},
		{"serialize", `s:10:"abc";`, `string length "10"`},
		{"serialize", `i:12x;`, "int"},
		{"serialize", `a:99999999999:{`, "array length"},
		{"serialize", `i:1;i:2;`, "after the value"},
		{"form", `a=%zz`, "form"},
		{"yaml", `a: 1`, "unknown format"},
	} {
		if _, err := Decode(tc.format, []byte(tc.body)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: err = %v, want it to mention %q", tc.format, tc.body, err, tc.want)
		}
	}
}

func fuzzDecoder(f *testing.F, format string, seeds ...string) {
	files, _ := filepath.Glob("testdata/decode/*")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil && !strings.HasSuffix(file, ".golden") {
			f.Add(b)
		}
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		// Any input: a value or an error, never a panic or a hang.
		if v, err := Decode(format, body); err == nil {
			if _, err := json.Marshal(v); err != nil && format != "json" {
				t.Fatalf("%q decoded to something unusable: %v", body, err)
			}
		}
	})
}

func FuzzDecodeXML(f *testing.F) {
	fuzzDecoder(f, "xml", `<a b="1"><c>x</c><c>y</c></a>`, `<a>`)
}

func FuzzDecodeSerialize(f *testing.F) {
	fuzzDecoder(f, "serialize", `a:1:{i:0;a:1:{i:0;N;}}`, `s:3:"a"b";`, `d:NaN;`)
}

func FuzzDecodeForm(f *testing.F) {
	fuzzDecoder(f, "form", `a[]=1&a=2&b=%41`, `=`)
}

// A serialize answer's declared counts size nothing on their word: arrays
// that claim millions of entries, nested, in an answer of two megabytes,
// cost about the answer, not gigabytes.
func TestSerializeAllocatesOnEvidence(t *testing.T) {
	var in strings.Builder
	const levels = 20
	for range levels {
		in.WriteString("a:1000000:{i:0;") // no more than the answer could hold, far more than it does
	}
	pad := strings.Repeat("x", 2<<20)
	fmt.Fprintf(&in, "s:%d:\"%s\";", len(pad), pad)
	for range levels {
		in.WriteString("}")
	}
	body := []byte(in.String())
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Decode("serialize", body)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("arrays shorter than they claim were read")
	}
	if used := after.TotalAlloc - before.TotalAlloc; used > 16<<20 {
		t.Errorf("decoding a %d-byte answer allocated %d MB", len(body), used>>20)
	}
}

package postgres

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"leadhost/store"
)

// TestChangesJSONIsJSONMarshal holds the hand-written history changes
// to json.Marshal's bytes.
func TestChangesJSONIsJSONMarshal(t *testing.T) {
	texts := []string{"", "status", "hold", `a "quoted" \ back`, "line\nbreak\ttab\x00nul", "<b>&</b>", "\u2028\u2029",
		"Перезвонить", "bad \xff utf-8 \xc3", "emoji 😀"}
	cases := [][]store.FieldChange{nil, {}}
	r := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		var fs []store.FieldChange
		for range 1 + r.IntN(3) {
			fs = append(fs, store.FieldChange{Field: texts[r.IntN(len(texts))], Old: texts[r.IntN(len(texts))], New: texts[r.IntN(len(texts))]})
		}
		cases = append(cases, fs)
	}
	for _, fs := range cases {
		want, err := json.Marshal(fs)
		if err != nil {
			t.Fatal(err)
		}
		if got := changesJSON(fs); got != string(want) {
			t.Fatalf("changes %q:\n got %s\nwant %s", fs, got, want)
		}
	}
}

package script

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"leadhost/store"
)

// wordsLabel is how the README names an action in its table of words.
func wordsLabel(a Action) string {
	switch {
	case a.Accept:
		return "approve"
	case a.Trash:
		return "5 + trash reason"
	}
	return fmt.Sprintf("%d %s", a.Status, a.Status)
}

// The README's table of status words is the standard table: every word,
// under what it does, and nothing else. On a difference the test prints
// the table as the code has it.
func TestStatusWordsReference(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(readme), "| becomes | words |")
	if start < 0 {
		t.Fatal(`README has no "| becomes | words |" table`)
	}
	section := string(readme[start:])
	section = section[:strings.Index(section, "\n\n")]
	documented := map[string][]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| ([^|]+) \\| ([^|]+) \\|$").FindAllStringSubmatch(section, -1) {
		if m[1] == "becomes" || strings.HasPrefix(m[1], "---") {
			continue
		}
		for _, w := range strings.Split(m[2], ",") {
			documented[m[1]] = append(documented[m[1]], strings.TrimSpace(w))
		}
	}
	code := map[string][]string{}
	var order []Action
	for a, words := range standardWords {
		code[wordsLabel(a)] = append([]string(nil), words...)
		order = append(order, a)
	}
	sort.Slice(order, func(i, j int) bool { return rank(order[i]) < rank(order[j]) })
	var want strings.Builder
	want.WriteString("| becomes | words |\n|---|---|\n")
	for _, a := range order {
		fmt.Fprintf(&want, "| %s | %s |\n", wordsLabel(a), strings.Join(standardWords[a], ", "))
	}
	if len(documented) != len(code) {
		t.Fatalf("the README's table has %d rows, the code %d; the code's table:\n%s", len(documented), len(code), want.String())
	}
	for label, words := range code {
		got := append([]string(nil), documented[label]...)
		sort.Strings(got)
		sort.Strings(words)
		if strings.Join(got, ",") != strings.Join(words, ",") {
			t.Errorf("README row %q is %q; the code's table:\n%s", label, got, want.String())
			return
		}
	}
}

// rank orders the table as the statuses go: approve, then 2..12.
func rank(a Action) int {
	switch {
	case a.Accept:
		return 0
	case a.Trash:
		return int(store.StatusCancel)*2 + 1
	}
	return int(a.Status) * 2
}

// Words that came to mean nothing, or the wrong thing, before: a deleted
// order, a status sent as its number, a plain decline (a cancel, not
// trash).
func TestRecognize(t *testing.T) {
	t.Parallel()
	w := StandardWords()
	for _, tc := range []struct {
		text string
		want Action
	}{
		{"deleted", Action{Status: store.StatusDeleted}},
		{"Удалён", Action{Status: store.StatusDeleted}},
		{"6", Action{Status: store.StatusPacking}},
		{" 12 ", Action{Status: store.StatusDeleted}},
		{"declined", Action{Status: store.StatusCancel}},
		{"Fake", Action{Status: store.StatusCancel, Trash: true}},
		{"approved", Action{Accept: true}},
	} {
		if got, ok := w.Recognize(tc.text); !ok || got != tc.want {
			t.Errorf("%q: %+v %v, want %+v", tc.text, got, ok, tc.want)
		}
	}
	for _, text := range []string{"0", "13", "something new"} {
		if got, ok := w.Recognize(text); ok {
			t.Errorf("%q recognised as %+v", text, got)
		}
	}
}

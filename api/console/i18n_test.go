package console

import (
	"io/fs"
	"os"
	"regexp"
	"testing"
)

// Every message a page or the code asks for is in the catalog, in both
// languages: a missing one would show as its key.
func TestEveryMessageInBothLanguages(t *testing.T) {
	used := regexp.MustCompile(`\.?T "([a-z0-9_.]+)"|\bT\("([a-z0-9_.]+)"\)`)
	var sources []string
	err := fs.WalkDir(templateFiles, "templates", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := templateFiles.ReadFile(p)
			sources = append(sources, string(b))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"console.go", "access.go", "overview.go", "journal.go", "leads.go", "offer.go", "offer_files.go", "held.go"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, string(b))
	}
	seen := 0
	for _, src := range sources {
		for _, m := range used.FindAllStringSubmatch(src, -1) {
			key := m[1] + m[2]
			seen++
			msg, ok := messages[key]
			if !ok || msg[0] == "" || msg[1] == "" {
				t.Errorf("message %q is not in the catalog in English and Russian", key)
			}
		}
	}
	if seen < 50 {
		t.Errorf("found only %d uses of messages: is the pattern still right?", seen)
	}
}

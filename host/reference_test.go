package host

import (
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// tomlKeys lists every key offer.toml takes, as dotted paths.
func tomlKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(Duration{}) {
			out = append(out, tomlKeys(ft, prefix+name+".")...)
			continue
		}
		out = append(out, prefix+name)
	}
	return out
}

// The README's offer.toml reference names every key the code reads, and
// nothing else: it cannot drift from OfferConfig.
func TestOfferTomlReference(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(readme), "### offer.toml reference")
	if start < 0 {
		t.Fatal("README has no \"### offer.toml reference\" section")
	}
	section := string(readme[start:])
	for _, next := range []string{"\n## ", "\n### "} { // up to the next section, of either level
		if end := strings.Index(section[4:], next); end >= 0 {
			section = section[:end+4]
		}
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_.]+)`").FindAllStringSubmatch(section, -1) {
		documented[m[1]] = true
	}
	code := map[string]bool{}
	for _, k := range tomlKeys(reflect.TypeOf(OfferConfig{}), "") {
		code[k] = true
		if !documented[k] {
			t.Errorf("offer.toml key %s is not in the README's reference", k)
		}
	}
	var extra []string
	for k := range documented {
		if !code[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("the README's reference names keys the code does not read: %v", extra)
	}
}

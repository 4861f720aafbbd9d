package host

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

func TestLoadSettings(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) string {
		path := filepath.Join(dir, "leadhost.toml")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Setenv("LEADHOST_TEST_TOKEN", "from-env")
	s, errs := LoadSettings(write(`listen = "127.0.0.1:9090"
api_token_env = "LEADHOST_TEST_TOKEN"
trusted_proxies = ["10.0.0.0/8", "192.0.2.7"]
[mail]
smtp = "mail.example:25"
to = ["ops@example.com"]
window = "30m"
[[reasons]]
id = 18
code = "blacklist"
label = "Чёрный список"
trash = true
`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	proxies, _ := s.Proxies()
	if s.Listen != "127.0.0.1:9090" || s.Token() != "from-env" || len(proxies) != 2 || s.Mail.Window.Minutes() != 30 ||
		len(s.Reasons) != 1 || s.Reasons[0].Code != "blacklist" || !s.Reasons[0].Trash {
		t.Errorf("settings %+v", s)
	}
	// Every problem, each at its line: an unknown key hides nothing.
	_, errs = LoadSettings(write("listen = \":8080\"\ncolour = \"red\"\ntrusted_proxies = [\"nowhere\"]\n[mail]\nto = [\"ops\"]\n"))
	var all []string
	for _, e := range errs {
		all = append(all, e.Error())
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{`leadhost.toml:2: unknown key "colour"`, `leadhost.toml:3: trusted_proxies "nowhere": not an address or a range`, `leadhost.toml:5: mail.to "ops": not an e-mail address`} {
		if !strings.Contains(text, want) {
			t.Errorf("problems\n%s\nwithout %q", text, want)
		}
	}
}

// The README's leadhost.toml reference names every key the code reads,
// and nothing else.
func TestSettingsReference(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(readme), "### leadhost.toml reference")
	if start < 0 {
		t.Fatal(`README has no "### leadhost.toml reference" section`)
	}
	section := string(readme[start:])
	for _, next := range []string{"\n## ", "\n### "} {
		if end := strings.Index(section[4:], next); end >= 0 {
			section = section[:end+4]
		}
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_.]+)`").FindAllStringSubmatch(section, -1) {
		documented = append(documented, m[1])
	}
	code := tomlKeys(reflect.TypeOf(Settings{}), "")
	sort.Strings(documented)
	sort.Strings(code)
	if strings.Join(documented, " ") != strings.Join(code, " ") {
		t.Errorf("README documents %v\nthe code reads %v", documented, code)
	}
}

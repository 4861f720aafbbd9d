package host

import (
	"net/netip"
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
script_http_allow = ["10.1.2.3", "192.168.0.0/16", "127.0.0.1:9000"]
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
	if f, err := s.Fence(); err != nil || f.Check("10.1.2.3:443", netip.MustParseAddrPort("10.1.2.3:443")) != nil {
		t.Errorf("script_http_allow does not allow 10.1.2.3: %v", err)
	}
	_, errs = LoadSettings(write("listen = \":8080\"\ncolour = \"red\"\ntrusted_proxies = [\"nowhere\"]\nscript_http_allow = [\"partner.local\"]\nstore = \"mysql://db\"\n[mail]\nto = [\"ops\"]\n"))
	var all []string
	for _, e := range errs {
		all = append(all, e.Error())
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{`leadhost.toml:2: unknown key "colour"`, `leadhost.toml:3: trusted_proxies "nowhere": not an address or a range`, `leadhost.toml:7: mail.to "ops": not an e-mail address`,
		`leadhost.toml:5: store "mysql://db": want badger:FOLDER or postgres://user@host/database`,
		`leadhost.toml:4: script_http_allow "partner.local": want an address, a range (10.0.0.0/8) or an address and port (127.0.0.1:9000)`} {
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

package main

import (
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// leadhost.toml beside the scripts folder fills what no flag gives; a
// flag on the command line wins; --config naming a missing file is an
// error, a missing default file is none.
func TestSettingsFileAndFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	scripts := filepath.Join(dir, "scripts")
	os.MkdirAll(scripts, 0o755)
	os.WriteFile(filepath.Join(dir, "leadhost.toml"), []byte(`listen = "127.0.0.1:9191"
data = "/srv/leads"
store = "postgres"
trusted_proxies = ["10.0.0.0/8"]
script_http_allow = ["10.1.2.3"]
[mail]
smtp = "mail.example:25"
to = ["ops@example.com"]
[[reasons]]
id = 18
code = "blacklist"
label = "Blacklist"
trash = true
`), 0o644)
	parse := func(args ...string) (hostConfig, error) {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var cfg hostConfig
		fs.StringVar(&cfg.listen, "listen", ":8080", "")
		fs.StringVar(&cfg.data, "data", "./data", "")
		fs.StringVar(&cfg.store, "store", "", "")
		fs.StringVar(&cfg.scripts, "scripts", "./scripts", "")
		fs.StringVar(&cfg.mail.Server, "smtp", "", "")
		config := fs.String("config", "", "")
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return cfg, applySettings(fs, *config, &cfg)
	}
	cfg, err := parse("--scripts", scripts, "--data", "./here")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.listen != "127.0.0.1:9191" || cfg.data != "./here" || cfg.store != "postgres" || cfg.mail.Server != "mail.example:25" ||
		len(cfg.mail.To) != 1 || len(cfg.proxies) != 1 || len(cfg.reasons) != 1 || cfg.reasons[0].Code != "blacklist" {
		t.Errorf("config %+v", cfg)
	}
	if err := cfg.fence.Check("10.1.2.3:80", netip.MustParseAddrPort("10.1.2.3:80")); err != nil {
		t.Errorf("script_http_allow not applied: %v", err)
	}
	if _, err := parse("--scripts", filepath.Join(t.TempDir(), "scripts")); err != nil {
		t.Errorf("no settings file beside the scripts: %v", err)
	}
	if _, err := parse("--config", filepath.Join(dir, "nosuch.toml")); err == nil || !strings.Contains(err.Error(), "nosuch.toml") {
		t.Errorf("a --config that is not there: %v", err)
	}
}

// A lead command reads leadhost.toml as serve does: the lead goes into
// the data folder the file names, not ./data.
func TestLeadCommandsReadTheSettingsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	scripts := filepath.Join(dir, "scripts")
	os.MkdirAll(filepath.Join(scripts, "acme"), 0o755)
	for _, f := range []string{"offer.toml", "check.lua"} {
		b, _ := os.ReadFile(filepath.Join("../../host/testdata/scripts/acme", f))
		os.WriteFile(filepath.Join(scripts, "acme", f), b, 0o644)
	}
	data := filepath.Join(dir, "leads")
	os.WriteFile(filepath.Join(dir, "leadhost.toml"), []byte("data = \""+data+"\"\n[[reasons]]\nid = 18\ncode = \"blacklist\"\nlabel = \"Blacklist\"\n"), 0o644)
	if code, _, errOut := leadhost(t, `{"offer":"acme","status":2}`, "lead", "add", "--scripts", scripts); code != exitOK {
		t.Fatalf("lead add: %s", errOut)
	}
	if _, err := os.Stat(data); err != nil {
		t.Errorf("the lead did not go into the settings' data folder: %v", err)
	}
	if code, _, errOut := leadhost(t, `{"status":5,"reason":18}`, "lead", "edit", "1", "--scripts", scripts); code != exitOK {
		t.Errorf("a cancel with the network's reason 18: %s", errOut)
	}
}

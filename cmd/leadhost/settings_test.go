package main

import (
	"flag"
	"io"
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
trusted_proxies = ["10.0.0.0/8"]
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
	if cfg.listen != "127.0.0.1:9191" || cfg.data != "./here" || cfg.mail.Server != "mail.example:25" ||
		len(cfg.mail.To) != 1 || len(cfg.proxies) != 1 || len(cfg.reasons) != 1 || cfg.reasons[0].Code != "blacklist" {
		t.Errorf("config %+v", cfg)
	}
	if _, err := parse("--scripts", filepath.Join(t.TempDir(), "scripts")); err != nil {
		t.Errorf("no settings file beside the scripts: %v", err)
	}
	if _, err := parse("--config", filepath.Join(dir, "nosuch.toml")); err == nil || !strings.Contains(err.Error(), "nosuch.toml") {
		t.Errorf("a --config that is not there: %v", err)
	}
}

package host

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"leadhost/host/script"
	"leadhost/store"
)

// SettingsFile is the network's settings file, beside the scripts folder
// (or named by --config).
const SettingsFile = "leadhost.toml"

// Settings is leadhost.toml: what a network sets once — every flag of
// serve, its own rejection reasons, the mail defaults, the admin token
// (or the name of the variable holding it) and the proxies it trusts.
// Flags given on the command line win over it. Unknown keys are errors,
// each with its line, as in offer.toml.
type Settings struct {
	Listen      string `toml:"listen"`        // address to serve on; default :8080
	Data        string `toml:"data"`          // database folder; default ./data
	Store       string `toml:"store"`         // where leads are kept: badger:FOLDER or postgres://… (ParseStoreSpec)
	Scripts     string `toml:"scripts"`       // offers folder; default ./scripts
	Node        string `toml:"node"`          // this serve's name among nodes sharing a PostgreSQL store; default the host name
	NoFsync     bool   `toml:"no_fsync"`      // acknowledge writes before they reach the disk
	APIToken    string `toml:"api_token"`     // the admin API's bearer token
	APITokenEnv string `toml:"api_token_env"` // or the name of the environment variable holding it
	// TrustedProxies are the addresses or ranges ("10.0.0.0/8") of the
	// proxies in front of leadhost: behind one of them, a webhook's req.ip
	// is the client's address from X-Forwarded-For or Forwarded; from
	// anyone else those headers are not believed.
	TrustedProxies []string `toml:"trusted_proxies"`
	// ForwardedHeader is the one header those proxies write the client's
	// address in: "X-Forwarded-For" (default) or "Forwarded". Only it is
	// read, so that a caller's own header passed through is not believed.
	ForwardedHeader string `toml:"forwarded_header"`
	// ScriptHTTPAllow are the internal addresses ("10.1.2.3"), ranges
	// ("192.168.0.0/16") or address:port ("127.0.0.1:9000") a script's
	// http.request may reach besides public ones: an internal partner.
	// leadhost's own listen address stays out of reach whatever it says.
	ScriptHTTPAllow []string     `toml:"script_http_allow"`
	Mail            MailSettings `toml:"mail"`
	// Reasons are the network's own rejection reasons, beside the seed's
	// 1..17: [[reasons]] id = 18, code = "…", label = "…", trash = true.
	Reasons []store.ReasonInfo `toml:"reasons"`
}

// MailSettings is [mail]: where error mails go, by default.
type MailSettings struct {
	SMTP        string   `toml:"smtp"` // host:port; none: no mails
	From        string   `toml:"from"`
	To          []string `toml:"to"`
	User        string   `toml:"user"`         // PLAIN auth
	PasswordEnv string   `toml:"password_env"` // the variable holding the password
	Window      Duration `toml:"window"`       // at most one mail per offer in this time
}

// SettingsPath is where serve looks for leadhost.toml when --config does
// not say: beside the scripts folder.
func SettingsPath(scripts string) string {
	return filepath.Join(filepath.Dir(filepath.Clean(scripts)), SettingsFile)
}

// LoadSettings reads a leadhost.toml; a file that does not exist is no
// settings (an error wrapping os.ErrNotExist). Every problem is reported,
// each with its line.
func LoadSettings(path string) (Settings, []error) {
	var s Settings
	src, err := os.ReadFile(path)
	if err != nil {
		return s, []error{err}
	}
	errs, ok := decodeStrict(path, src, &s)
	if !ok {
		return Settings{}, errs
	}
	bad := func(key, format string, a ...any) {
		errs = append(errs, &LoadError{File: path, Line: keyLine(src, key), Msg: key + " " + fmt.Sprintf(format, a...)})
	}
	if s.APIToken != "" && s.APITokenEnv != "" {
		bad("api_token_env", "%q: give the token or the variable's name, not both", s.APITokenEnv)
	}
	if _, err := ParseStoreSpec(s.Store, ".", "postgres://set-by-the-environment"); err != nil {
		bad("store", "%s", strings.TrimPrefix(err.Error(), "store ")) // its words begin with the key
	}
	if _, err := s.Proxies(); err != nil {
		bad("trusted_proxies", "%v", err)
	}
	if _, err := s.Fence(); err != nil {
		bad("script_http_allow", "%v", err)
	}
	switch strings.ToLower(s.ForwardedHeader) {
	case "", "x-forwarded-for", "forwarded":
	default:
		bad("forwarded_header", "%q: want X-Forwarded-For or Forwarded", s.ForwardedHeader)
	}
	for _, to := range s.Mail.To {
		if !strings.Contains(to, "@") {
			bad("mail.to", "%q: not an e-mail address", to)
		}
	}
	if _, err := store.StandardReasons().With(s.Reasons...); err != nil {
		bad("reasons", "%v", err)
	}
	return s, errs
}

// Proxies are the trusted proxies as address ranges.
func (s Settings) Proxies() ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, p := range s.TrustedProxies {
		if !strings.Contains(p, "/") {
			ip := net.ParseIP(p)
			if ip == nil {
				return nil, fmt.Errorf("%q: not an address or a range", p)
			}
			bits := 32
			if ip.To4() == nil {
				bits = 128
			}
			p = fmt.Sprintf("%s/%d", ip, bits)
		}
		_, n, err := net.ParseCIDR(p)
		if err != nil {
			return nil, fmt.Errorf("%q: not an address or a range", p)
		}
		out = append(out, n)
	}
	return out, nil
}

// Fence is where scripts' http.request may connect: public addresses
// and script_http_allow.
func (s Settings) Fence() (*script.Fence, error) { return script.NewFence(s.ScriptHTTPAllow) }

// Token is the admin API's token the settings give: api_token, or the
// value of the variable api_token_env names.
func (s Settings) Token() string {
	if s.APITokenEnv != "" {
		return os.Getenv(s.APITokenEnv)
	}
	return s.APIToken
}

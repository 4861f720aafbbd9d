package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"leadhost/api"
	"leadhost/host"
	"leadhost/host/app"
	"leadhost/host/check"
	"leadhost/host/script"
	"leadhost/store"
)

// service is what the CLI's lead and check commands talk to: the app on
// a database the command opened itself (app.App), or, when a serve holds
// the folder, that serve's admin API (api.Client). Both give the same
// answers and errors, so a command's output and exit code do not depend
// on which it got.
type service interface {
	AddLead(ctx context.Context, input []byte, by string) (*store.Lead, bool, error)
	EditLead(ctx context.Context, id uint64, input []byte, by string) (*store.Lead, error)
	LeadWithHistory(ctx context.Context, id uint64) (*store.Lead, error)
	CheckNow(ctx context.Context, offer string, req app.CheckRequest) (*check.Report, error)
	HeldItems(ctx context.Context, outbox string) ([]store.FeedItem, error)
	ReleaseHeld(ctx context.Context, outbox string, lead uint64, rev uint32, by string) (store.FeedItem, error)
	DropHeld(ctx context.Context, outbox string, lead uint64, rev uint32, by string) (store.FeedItem, error)
	Shadow(ctx context.Context, offer string) (*app.ShadowView, error)
	ShadowReplay(ctx context.Context, offer string, last int) (*app.ShadowView, error)
	Promote(ctx context.Context, offer, by string) (host.Promoted, error)
}

var (
	_ service = (*app.App)(nil)
	_ service = (*api.Client)(nil)
)

// openService opens the app on dataDir (or the PostgreSQL database at
// databaseURL, which any number of processes share) for one command, or
// finds the serve that holds dataDir through the address it keeps
// there. done closes what was opened.
func openService(ctx context.Context, dataDir, databaseURL, scriptsDir, token string, reasons []store.ReasonInfo) (s service, done func() error, err error) {
	a, err := app.Open(ctx, app.Config{Data: dataDir, DatabaseURL: databaseURL, Scripts: scriptsDir, OneShot: true, Reasons: reasons,
		Load: host.LoadOptions{Governor: script.NewGovernor(0, startCPUs)}})
	if err == nil {
		return a, a.Close, nil
	}
	c, err := serveHolding(dataDir, token, err)
	if err != nil {
		return nil, nil, err
	}
	return c, func() error { return nil }, nil
}

// serveHolding is the admin API of the serve that holds dataDir, which
// opening it failed on (openErr): a client for it when openErr says the
// folder is locked and the serve left its address there, else openErr.
func serveHolding(dataDir, token string, openErr error) (*api.Client, error) {
	if !errors.Is(openErr, app.ErrLocked) {
		return nil, openErr
	}
	info, err := app.ReadServeInfo(dataDir)
	if err != nil {
		return nil, fmt.Errorf("%w; and no serve's address found there: %v", openErr, err)
	}
	if token == "" {
		token = info.Token // no api_token: the serve's own, for changes
	}
	return &api.Client{Base: info.URL, Token: token}, nil
}

// storeFlags are the flags that say where leads are kept, for every
// command that opens the store: --data, --store, and the settings file
// (leadhost.toml beside --scripts, or --config) that fills what they do
// not give, as serve reads it.
type storeFlags struct {
	fs                           *flag.FlagSet
	data, store, scripts, config *string
}

func addStoreFlags(fs *flag.FlagSet) *storeFlags {
	return addStoreFlagsWith(fs, fs.String("data", "./data", "database directory"))
}

// addStoreFlagsWith is addStoreFlags with a --data flag of the command's
// own (restore's names the folder to fill).
func addStoreFlagsWith(fs *flag.FlagSet, data *string) *storeFlags {
	return &storeFlags{fs: fs,
		data:    data,
		store:   fs.String("store", "", "where leads are kept, as serve's --store (default: $"+host.DatabaseURLEnv+" when set, else Badger in --data)"),
		scripts: fs.String("scripts", "./scripts", "offers folder (their rules, sends and postbacks apply)"),
		config:  fs.String("config", "", "the network's settings (default: leadhost.toml beside --scripts, if there)"),
	}
}

// given says which of the flags were set on the command line.
func (f *storeFlags) given() map[string]bool {
	given := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	return given
}

// resolve reads leadhost.toml where the flags are silent, as serve does
// (so that a command reads and writes where serve keeps leads), and says
// where that is: PostgreSQL (URL) or Badger in *f.data, which it sets.
func (f *storeFlags) resolve() (host.StoreSpec, host.Settings, error) {
	given := f.given()
	path := *f.config
	if path == "" {
		path = host.SettingsPath(*f.scripts)
	}
	st, errs := host.LoadSettings(path)
	switch {
	case len(errs) == 1 && errors.Is(errs[0], os.ErrNotExist) && *f.config == "":
		st = host.Settings{} // none: flags and defaults
	case len(errs) > 0:
		return host.StoreSpec{}, st, errors.Join(errs...)
	}
	if st.Data != "" && !given["data"] {
		*f.data = st.Data
	}
	if st.Store != "" && !given["store"] {
		*f.store = st.Store
	}
	spec, err := host.ParseStoreSpec(*f.store, *f.data, os.Getenv(host.DatabaseURLEnv))
	if err != nil {
		return spec, st, err
	}
	if spec.URL == "" {
		*f.data = spec.Dir
	}
	return spec, st, nil
}

// serviceFlags are the flags of the commands that reach the host (lead,
// check): where it keeps its data and offers, and the admin API's token.
type serviceFlags struct {
	*storeFlags
	token *string
}

func addServiceFlags(fs *flag.FlagSet) *serviceFlags {
	return &serviceFlags{storeFlags: addStoreFlags(fs),
		token: fs.String("api-token", os.Getenv("LEADHOST_API_TOKEN"), "the admin API's token, when a serve holds the data folder"),
	}
}

// open opens the service where the flags and leadhost.toml say.
func (f *serviceFlags) open(ctx context.Context) (service, func() error, error) {
	spec, st, err := f.resolve()
	if err != nil {
		return nil, nil, err
	}
	return openService(ctx, *f.data, spec.URL, *f.scripts, f.apiToken(st), st.Reasons)
}

// apiToken is the admin API's token for a serve holding the data folder:
// --api-token (or LEADHOST_API_TOKEN), else leadhost.toml's.
func (f *serviceFlags) apiToken(st host.Settings) string {
	if tok := st.Token(); tok != "" && !f.given()["api-token"] && *f.token == "" {
		*f.token = tok
	}
	return *f.token
}

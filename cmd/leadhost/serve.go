package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"leadhost/api"
	"leadhost/host"
	"leadhost/host/app"
	"leadhost/host/notify"
	"leadhost/host/script"
	"leadhost/store"
	"leadhost/store/postgres"
)

// sharedRecount is how often a node of a cluster counts the leads by
// status again, so that its metrics and console show other nodes' changes.
const sharedRecount = 15 * time.Second

// runServe is `leadhost serve` (and `leadhost` alone): webhooks, the
// offers with hot reload, the status-check scheduler and the send outbox
// in one process, until ctx ends (SIGINT, SIGTERM). Then it stops taking
// requests, lets runs and sends in flight finish, and closes the store.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("leadhost serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg hostConfig
	fs.StringVar(&cfg.listen, "listen", ":8080", "address to serve webhooks on")
	fs.StringVar(&cfg.data, "data", "./data", "database directory")
	fs.StringVar(&cfg.store, "store", "", "where leads are kept: badger:FOLDER, postgres://user@host/database, or postgres for the URL in "+host.DatabaseURLEnv+" (default: that URL when set, else Badger in --data)")
	fs.StringVar(&cfg.scripts, "scripts", "./scripts", "offers folder, hot-reloaded")
	fs.StringVar(&cfg.node, "node", "", "this serve's name among the nodes sharing a PostgreSQL store (default: the host name, plus :PORT when a live node already has it)")
	fs.BoolVar(&cfg.noSync, "no-fsync", false, "acknowledge writes before they reach the disk (a machine crash may lose the last ones)")
	fs.StringVar(&cfg.apiToken, "api-token", os.Getenv("LEADHOST_API_TOKEN"), "bearer token of the admin API (/api/…); none: direct loopback clients may read, changes need the token serve leaves in DATA/leadhost-serve.json (the CLI uses it)")
	fs.StringVar(&cfg.mail.Server, "smtp", "", "SMTP server (host:port) for error mails; none: no mails")
	fs.StringVar(&cfg.mail.From, "mail-from", "leadhost@localhost", "sender of error mails")
	mailTo := fs.String("mail-to", "", "recipients of error mails, comma-separated (an offer's [notify] to replaces them for that offer)")
	fs.StringVar(&cfg.mail.User, "smtp-user", "", "SMTP user (PLAIN auth; the password from LEADHOST_SMTP_PASSWORD)")
	fs.DurationVar(&cfg.mailWindow, "mail-window", notify.DefaultWindow, "at most one error mail per offer in this time")
	fs.Int64Var(&cfg.minFreeMB, "min-free-mb", store.DefaultMinFreeDisk>>20, "MiB kept free on the data folder's disk: under it, no writes (503) until space is freed; under twice it, no journal")
	config := fs.String("config", "", "the network's settings file (default: leadhost.toml beside --scripts, if there)")
	if rest, err := parseInterleaved(fs, args); err != nil {
		return exitUsage
	} else if len(rest) > 0 {
		fmt.Fprintf(stderr, "leadhost serve: unexpected %q\n", rest)
		return exitUsage
	}
	if *mailTo != "" {
		cfg.mail.To = strings.Split(*mailTo, ",")
	}
	cfg.mail.Password = os.Getenv("LEADHOST_SMTP_PASSWORD")
	if err := applySettings(fs, *config, &cfg); err != nil {
		fmt.Fprintf(stderr, "leadhost: %v\n", err)
		return exitError
	}
	spec, err := host.ParseStoreSpec(cfg.store, cfg.data, os.Getenv(host.DatabaseURLEnv))
	if err != nil {
		fmt.Fprintf(stderr, "leadhost: %v\n", err)
		return exitUsage
	}
	where := "data " + spec.Dir
	if spec.URL != "" {
		where = "store " + postgres.Redact(spec.URL) + ", data " + cfg.data
	} else {
		cfg.data = spec.Dir
	}
	cfg.databaseURL = spec.URL
	cfg.log = slog.New(slog.NewTextHandler(stderr, nil))
	h, err := startHost(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "leadhost: %v\n", err)
		return exitError
	}
	fmt.Fprintf(stdout, "leadhost listening on %s (%s, scripts %s, %d offers, node %s)\n", h.addr, where, cfg.scripts, len(h.app.Offers.Offers()), h.app.Node())
	h.wait()
	return exitOK
}

// applySettings fills cfg from leadhost.toml (--config, or beside the
// scripts folder when there is one) where no flag was given: flags win.
func applySettings(fs *flag.FlagSet, path string, cfg *hostConfig) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	explicit := path != ""
	if !explicit {
		path = host.SettingsPath(cfg.scripts)
	}
	st, errs := host.LoadSettings(path)
	if len(errs) == 1 && errors.Is(errs[0], os.ErrNotExist) && !explicit {
		return nil // no settings file: flags and defaults
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	set := func(flag string, dst *string, v string) {
		if v != "" && !given[flag] {
			*dst = v
		}
	}
	set("listen", &cfg.listen, st.Listen)
	set("data", &cfg.data, st.Data)
	set("store", &cfg.store, st.Store)
	set("scripts", &cfg.scripts, st.Scripts)
	set("node", &cfg.node, st.Node)
	if tok := st.Token(); tok != "" && !given["api-token"] && os.Getenv("LEADHOST_API_TOKEN") == "" {
		cfg.apiToken = tok
	}
	if st.NoFsync && !given["no-fsync"] {
		cfg.noSync = true
	}
	set("smtp", &cfg.mail.Server, st.Mail.SMTP)
	set("mail-from", &cfg.mail.From, st.Mail.From)
	set("smtp-user", &cfg.mail.User, st.Mail.User)
	if len(st.Mail.To) > 0 && !given["mail-to"] {
		cfg.mail.To = st.Mail.To
	}
	if st.Mail.PasswordEnv != "" && cfg.mail.Password == "" {
		cfg.mail.Password = os.Getenv(st.Mail.PasswordEnv)
	}
	if st.Mail.Window.Duration > 0 && !given["mail-window"] {
		cfg.mailWindow = st.Mail.Window.Duration
	}
	cfg.reasons = st.Reasons
	cfg.proxies, _ = st.Proxies() // checked by LoadSettings
	cfg.forwardedHeader = st.ForwardedHeader
	cfg.fence, _ = st.Fence() // checked by LoadSettings
	if st.APITokenEnv != "" && cfg.apiToken == "" {
		// Named, but not set: serving the admin API without a token by
		// mistake would open it to whatever runs on this host.
		return fmt.Errorf("%s: api_token_env names %s, which is not set", path, st.APITokenEnv)
	}
	return nil
}

// hostConfig is what serve is started with.
type hostConfig struct {
	listen, data, scripts string
	node                  string // --node: the name among nodes; "": app.App.Join's default
	store                 string // --store as given; "" : host.ParseStoreSpec's default
	databaseURL           string // the PostgreSQL store's; "": Badger in data
	noSync                bool
	log                   *slog.Logger
	sendBackoff           time.Duration // first retry of a send; 0: send.DefaultBaseDelay
	sendPoll              time.Duration // 0: a second
	noJournal             bool          // inbound calls left out of the journal (bench)
	apiToken              string        // the admin API's bearer token; "": loopback reads, changes with a local token
	mail                  notify.Settings
	mailWindow            time.Duration
	reasons               []store.ReasonInfo // the network's own, beside the seed's
	proxies               []*net.IPNet       // trusted to say who the client is
	forwardedHeader       string             // the header they say it in
	minFreeMB             int64              // free disk kept (store.Options.MinFreeDisk); 0: the default
	fence                 *script.Fence      // where scripts may make requests; nil: public addresses only
	heartbeat, leaseTTL   time.Duration      // app.Config's (tests: a node dead, a lease expired, sooner); 0: the defaults
}

// runningHost is a started serve: its parts, for wait and for tests.
type runningHost struct {
	addr       net.Addr
	localToken string // changes through the admin API need it when no api_token is set
	app        *app.App
	st         store.Store
	done       chan struct{}
}

// startHost opens the app, serves its HTTP side on cfg.listen and runs
// it until ctx ends; then it stops taking requests, lets runs and sends
// in flight finish and closes the app.
func startHost(ctx context.Context, cfg hostConfig) (*runningHost, error) {
	log := cfg.log
	fence := cfg.fence
	if fence == nil {
		fence, _ = script.NewFence(nil)
	}
	a, err := app.Open(ctx, app.Config{Data: cfg.data, DatabaseURL: cfg.databaseURL, Scripts: cfg.scripts, NoSync: cfg.noSync, Log: log,
		SendBackoff: cfg.sendBackoff, SendPoll: cfg.sendPoll, Mail: cfg.mail, MailWindow: cfg.mailWindow, Reasons: cfg.reasons,
		MinFreeDisk: cfg.minFreeMB << 20, Load: host.LoadOptions{Fence: fence, Governor: script.NewGovernor(0, startCPUs)}, Node: cfg.node,
		Heartbeat: cfg.heartbeat, LeaseTTL: cfg.leaseTTL})
	if err != nil {
		return nil, err
	}
	metrics := api.NewMetrics(a)
	a.Observe(metrics.Observe)
	// Leads are counted before anything writes (the server and the app's
	// loops start below), so that the count is exact.
	untrack, err := metrics.TrackLeads(ctx, a.Store)
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("counting leads: %w", err)
	}
	if _, shared := a.Store.(store.Cluster); shared {
		// Other nodes' changes reach this one's counts (the metrics, the
		// console's overview) only by counting again.
		follow, stopFollowing := context.WithCancel(ctx)
		go metrics.FollowShared(follow, a.Store, sharedRecount)
		stopTracking := untrack
		untrack = func() { stopFollowing(); stopTracking() }
	}
	// With no token set, changes through the admin API need one anyway:
	// this serve's own, left for the CLI in the data folder (see
	// api.Server.LocalToken).
	localToken := ""
	if cfg.apiToken == "" {
		localToken = rand.Text()
	}
	server := &api.Server{App: a, Log: log, NoJournal: cfg.noJournal, APIToken: cfg.apiToken, LocalToken: localToken, Metrics: metrics, TrustedProxies: cfg.proxies, ForwardedHeader: cfg.forwardedHeader}
	srv := server.HTTP()
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		untrack()
		a.Close()
		return nil, err
	}
	// No script may call this serve, whatever script_http_allow says: no
	// run starts before it listens (webhooks come through it, and the
	// app's loops start below).
	fence.SetListeners(ln.Addr())
	// Named once the port is known (a default name may need it), and
	// registered before the scheduler's first run takes a lease.
	if err := a.Join(ctx, ln.Addr()); err != nil {
		ln.Close()
		untrack()
		a.Close()
		return nil, err
	}
	// The CLI finds this serve through the data folder, which a
	// PostgreSQL store does not otherwise need.
	err = os.MkdirAll(cfg.data, 0o700)
	var removeInfo func()
	if err == nil {
		removeInfo, err = app.WriteServeInfo(cfg.data, ln.Addr(), localToken)
	}
	if err != nil {
		ln.Close()
		untrack()
		a.Close()
		return nil, err
	}
	h := &runningHost{addr: ln.Addr(), localToken: localToken, app: a, st: a.Store, done: make(chan struct{})}
	ctx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { a.Run(ctx); close(ran) }()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	go func() {
		defer close(h.done)
		defer stop()
		select {
		case <-ctx.Done():
		case err := <-served:
			log.Error("server stopped", "err", err)
		}
		log.Info("stopping: no new requests; finishing runs and sends in flight")
		removeInfo()
		stop()
		if err := server.Shutdown(srv); err != nil {
			log.Error("stopping the server", "err", err)
		}
		<-ran
		untrack()
		if err := a.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
		log.Info("stopped")
	}()
	return h, nil
}

// wait returns when the host has stopped and closed the store.
func (h *runningHost) wait() { <-h.done }

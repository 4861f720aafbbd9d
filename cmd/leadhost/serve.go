package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"leadhost/api"
	"leadhost/host"
	"leadhost/host/check"
	"leadhost/host/notify"
	"leadhost/host/send"
	"leadhost/store"
)

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
	fs.StringVar(&cfg.scripts, "scripts", "./scripts", "offers folder, hot-reloaded")
	fs.BoolVar(&cfg.noSync, "no-fsync", false, "acknowledge writes before they reach the disk (a machine crash may lose the last ones)")
	fs.StringVar(&cfg.apiToken, "api-token", os.Getenv("LEADHOST_API_TOKEN"), "bearer token of the admin API (/api/…); none: loopback clients only")
	fs.StringVar(&cfg.mail.Server, "smtp", "", "SMTP server (host:port) for error mails; none: no mails")
	fs.StringVar(&cfg.mail.From, "mail-from", "leadhost@localhost", "sender of error mails")
	mailTo := fs.String("mail-to", "", "recipients of error mails, comma-separated (an offer's [notify] to replaces them for that offer)")
	fs.StringVar(&cfg.mail.User, "smtp-user", "", "SMTP user (PLAIN auth; the password from LEADHOST_SMTP_PASSWORD)")
	fs.DurationVar(&cfg.mailWindow, "mail-window", notify.DefaultWindow, "at most one error mail per offer in this time")
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
	cfg.log = slog.New(slog.NewTextHandler(stderr, nil))
	h, err := startHost(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "leadhost: %v\n", err)
		return exitError
	}
	fmt.Fprintf(stdout, "leadhost listening on %s (data %s, scripts %s, %d offers)\n", h.addr, cfg.data, cfg.scripts, len(h.reg.Offers()))
	h.wait()
	return exitOK
}

// hostConfig is what serve is started with.
type hostConfig struct {
	listen, data, scripts string
	noSync                bool
	log                   *slog.Logger
	sendBackoff           time.Duration // first retry of a send; 0: send.DefaultBaseDelay
	sendPoll              time.Duration // 0: a second
	noJournal             bool          // inbound calls left out of the journal (bench)
	apiToken              string        // the admin API's bearer token; "": loopback only
	mail                  notify.Settings
	mailWindow            time.Duration
}

// runningHost is a started serve: its parts, for wait and for tests.
type runningHost struct {
	addr   net.Addr
	st     *store.Store
	reg    *host.Registry
	sender *send.Sender
	sched  *check.Scheduler
	done   chan struct{}
}

// startHost opens the store, loads the offers and starts the server, the
// reload watcher, the scheduler and the sender; they stop when ctx ends.
func startHost(ctx context.Context, cfg hostConfig) (*runningHost, error) {
	log := cfg.log
	reg := host.NewRegistry(cfg.scripts)
	if _, err := reg.Reload(); err != nil {
		return nil, err
	}
	for offer, errs := range reg.Errors() {
		for _, e := range errs {
			log.Error("offer does not load", "offer", offer, "err", e)
		}
	}
	st, err := store.Open(store.Options{
		Dir: cfg.data, NoSync: cfg.noSync, Policies: reg, Logger: log,
		Feeds: []string{send.Feed, send.PostbackFeed},
		JournalTTL: func(offer string) time.Duration {
			if o, ok := reg.Offer(offer); ok && o.Config.JournalDays > 0 {
				return time.Duration(o.Config.JournalDays) * 24 * time.Hour
			}
			return 0 // the default
		},
		FeedFilter: func(feed string, ev store.Event) bool { return send.Wants(reg, feed, ev) },
	})
	if err != nil {
		return nil, errors.New(explainOpen(err))
	}
	metrics := api.NewMetrics(st, send.Feed, send.PostbackFeed)
	mailer := notify.New(cfg.mail, cfg.mailWindow, log)
	mailer.For = func(offer string) (notify.Settings, time.Duration, bool) {
		o, ok := reg.Offer(offer)
		if !ok || o.Config.Notify == nil {
			return notify.Settings{}, 0, false
		}
		nc := o.Config.Notify
		return notify.Settings{To: nc.To, Server: nc.Server, From: nc.From}, nc.Window.Duration, true
	}
	st.WatchJournal(func(e store.JournalEntry) {
		metrics.Observe(e)
		mailer.Observe(e)
	})
	record := func(e store.JournalEntry) { st.Record(e) }
	// The two outboxes: new leads to send, status changes to report.
	outbox := func(newSender func(*store.Store, send.OfferSource) (*send.Sender, error), kind string) (*send.Sender, error) {
		sn, err := newSender(st, reg)
		if err != nil {
			return nil, err
		}
		sn.Log, sn.BaseDelay, sn.Poll = log, cfg.sendBackoff, cfg.sendPoll
		sn.OnAttempt = func(a *send.Attempt) {
			log.Info(kind, "offer", a.Offer, "lead", a.LeadID, "try", a.Try, "outcome", a.Outcome, "status", a.Status, "ext", a.Ext, "err", store.Mask(a.Err))
			journalAttempt(record, reg, kind, a)
		}
		return sn, nil
	}
	sender, err := outbox(send.New, "send")
	if err != nil {
		st.Close()
		return nil, err
	}
	postbacks, err := outbox(send.NewPostbacks, "postback-out")
	if err != nil {
		st.Close()
		return nil, err
	}
	// A sender reads its outbox when woken: only for changes that went
	// into it, not for every lead of every offer.
	unsubscribe := st.Subscribe(func(ev store.Event) {
		if send.Wants(reg, send.Feed, ev) {
			sender.Wake()
		}
		if send.Wants(reg, send.PostbackFeed, ev) {
			postbacks.Wake()
		}
	})
	sched := &check.Scheduler{Offers: reg, Runner: check.NewRunner(st), Log: log, OnRun: func(r *check.Report) {
		log.Info("check", "offer", r.Offer, "mode", r.Mode, "requests", len(r.Exchanges), "leads", r.Leads,
			"edits", len(r.Edits), "took", r.Duration.Round(time.Millisecond), "err", store.Mask(r.Error()))
		journalCheck(record, r)
	}}
	srv := (&api.Server{Offers: reg, Store: st, Log: log, NoJournal: cfg.noJournal,
		Registry: reg, Checks: sched, APIToken: cfg.apiToken, Metrics: metrics}).HTTP()
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		unsubscribe()
		st.Close()
		return nil, err
	}
	h := &runningHost{addr: ln.Addr(), st: st, reg: reg, sender: sender, sched: sched, done: make(chan struct{})}

	// Leads are counted before anything writes (the server, the scheduler
	// and the senders start below), so that the count is exact.
	untrack, err := metrics.TrackLeads(ctx, st)
	if err != nil {
		ln.Close()
		unsubscribe()
		st.Close()
		return nil, fmt.Errorf("counting leads: %w", err)
	}
	ctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	run := func(name string, fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil && !errors.Is(err, context.Canceled) {
				log.Error(name+" stopped", "err", err)
			}
		}()
	}
	run("reload", func() error {
		return reg.Watch(ctx, log, host.WatchOptions{OnReload: func(changes []string, err error) {
			journalReload(record, reg, changes, err)
		}})
	})
	run("scheduler", func() error { return sched.Run(ctx) })
	run("sender", func() error { return sender.Run(ctx) })
	run("postbacks", func() error { return postbacks.Run(ctx) })
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
		stop()
		if err := api.Shutdown(srv); err != nil {
			log.Error("stopping the server", "err", err)
		}
		wg.Wait()
		unsubscribe()
		untrack()
		mctx, mcancel := context.WithTimeout(context.Background(), 10*time.Second)
		mailer.Close(mctx) // what is pending goes out now
		mcancel()
		if err := st.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
		log.Info("stopped")
	}()
	return h, nil
}

// wait returns when the host has stopped and closed the store.
func (h *runningHost) wait() { <-h.done }

// explainOpen says what to do when the database is held by another
// process, the common case of a second leadhost on the same folder.
func explainOpen(err error) string {
	msg := err.Error()
	if strings.Contains(msg, "Cannot acquire directory lock") || strings.Contains(msg, "resource temporarily unavailable") {
		return msg + " (another leadhost uses this --data folder: stop it, or point this one elsewhere)"
	}
	return msg
}

// journalAttempt records a send or an outgoing postback.
func journalAttempt(record func(store.JournalEntry), reg *host.Registry, kind string, a *send.Attempt) {
	status := "ok"
	if a.Outcome != "sent" && a.Outcome != "rejected" {
		status = "error"
	}
	var version uint64
	if o, ok := reg.Offer(a.Offer); ok {
		version = o.Version
	}
	detail, _ := json.Marshal(a)
	record(store.JournalEntry{Offer: a.Offer, Kind: kind, Status: status, Duration: a.Duration, Version: version,
		Summary:  fmt.Sprintf("lead %d try %d: %s %s → %d %s", a.LeadID, a.Try, a.Method, a.URL, a.Status, a.Outcome),
		Request:  a.Body,
		Response: a.Response,
		Detail:   detail})
}

// journalCheck records a check run: its requests and answers (cut), and
// its edits while they are few.
func journalCheck(record func(store.JournalEntry), r *check.Report) {
	status := "ok"
	switch {
	case r.Dry:
		status = "dry" // a person trying a script: neither a failure nor a recovery
	case r.Err != nil && !r.Stopped:
		status = "error"
	}
	kept := *r
	if len(kept.Edits) > 200 {
		kept.Edits = kept.Edits[:200] // the summary counts them all
	}
	if len(kept.Exchanges) > 50 {
		kept.Exchanges = kept.Exchanges[:50]
	}
	detail, _ := json.Marshal(&kept)
	record(store.JournalEntry{At: r.Started, Offer: r.Offer, Kind: "check", Status: status, Duration: r.Duration, Version: r.Version,
		Summary: fmt.Sprintf("%s: %d leads, %d requests, %d edits%s", r.Mode, r.Leads, len(r.Exchanges), len(r.Edits), errSuffix(r.Error())),
		Detail:  detail})
}

// journalReload records what a reload changed: each offer loaded,
// unloaded, or not loaded with its problems (file:line).
func journalReload(record func(store.JournalEntry), reg *host.Registry, changes []string, err error) {
	if err != nil {
		record(store.JournalEntry{Kind: "reload", Status: "error", Summary: err.Error()})
		return
	}
	for _, change := range changes {
		offer, _, _ := strings.Cut(change, ":")
		e := store.JournalEntry{Offer: offer, Kind: "reload", Status: "ok", Summary: change}
		if o, ok := reg.Offer(offer); ok {
			e.Version = o.Version
		}
		if errs := reg.Errors()[offer]; len(errs) > 0 {
			msgs := make([]string, len(errs))
			for i, le := range errs {
				msgs[i] = le.Error()
			}
			e.Status, e.Summary = "error", change+": "+strings.Join(msgs, "; ")
		}
		record(e)
	}
}

func errSuffix(msg string) string {
	if msg == "" {
		return ""
	}
	return "; " + msg
}

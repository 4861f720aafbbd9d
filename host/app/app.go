// Package app assembles leadhost: the offers registry, the store opened
// with the offers' edit policies and outbox feeds, the two outboxes (sends
// and outgoing postbacks), the status-check scheduler, the shadow runs of
// the offers' candidate versions (host/shadow), the journal and its
// observers (error mails, and whatever the caller adds, such as metrics).
// `leadhost serve`, every CLI command that reads or writes leads and the
// benchmarks open the same App, so a lead added or edited from any of them
// follows the same rules, reaches the same outboxes and is journaled the
// same way. The HTTP side (package api) sits on top of it.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"leadhost/host"
	"leadhost/host/check"
	"leadhost/host/notify"
	"leadhost/host/send"
	"leadhost/host/shadow"
	"leadhost/store"
)

// Config is what an App is opened with.
type Config struct {
	// Data is the database folder (ignored with InMemory).
	Data     string
	InMemory bool
	// DatabaseURL, when set, keeps leads in that PostgreSQL database
	// instead of Badger in Data (host.ParseStoreSpec).
	DatabaseURL string
	// Scripts is the offers folder.
	Scripts string
	// NoSync acknowledges writes before they reach the disk.
	NoSync bool
	// OneShot opens the store for one command (the CLI): no background
	// garbage collection of the value log.
	OneShot bool
	Log     *slog.Logger
	// SendBackoff is the first retry of a send (0: send.DefaultBaseDelay);
	// SendPoll how often the outboxes look for due items (0: a second).
	SendBackoff, SendPoll time.Duration
	// Mail and MailWindow configure error mails (no server: none).
	Mail       notify.Settings
	MailWindow time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Reasons are the network's own rejection reasons, beside the seed's.
	Reasons []store.ReasonInfo
	// Load says how offers load (leadhost test accepts the examples'
	// placeholder secrets: nothing leaves the machine).
	Load host.LoadOptions
	// MinFreeDisk and JournalBudget bound the disk the store uses
	// (store.Options; 0: its defaults).
	MinFreeDisk, JournalBudget int64
	// ClaimExpiry is how long an outbox item begun by a process that
	// never joined the cluster stays its own on a shared PostgreSQL store
	// (store.Options; 0: its default); a node's claims live as long as
	// its heartbeats (DeadAfterBeats × Heartbeat).
	ClaimExpiry time.Duration
	// Node is this serve's name among the nodes sharing a store ("": the
	// host name, see Join); Heartbeat how often it says it is alive (0:
	// DefaultHeartbeat); LeaseTTL how long its check runs' leases last
	// unless renewed (0: check.DefaultLeaseTTL).
	Node                string
	Heartbeat, LeaseTTL time.Duration
}

// App is leadhost assembled. Open it, add observers, Run it (serve) or
// just call its lead methods (the CLI), then Close it.
type App struct {
	Store     store.Store
	Offers    *host.Registry
	Sends     *send.Sender // new leads to partners
	Postbacks *send.Sender // status changes to trackers
	Checks    *check.Scheduler
	// Shadow runs the offers' candidates (next/) on the live inputs.
	Shadows *shadow.Shadow
	// Pressure is the calls in flight (webhooks, postbacks: the api marks
	// them) that check runs give way to.
	Pressure *host.Pressure

	log         *slog.Logger
	mailer      *notify.Notifier
	unsubscribe func()

	mu        sync.RWMutex
	observers []func(store.JournalEntry)
	refused   refusals
	now       func() time.Time

	cfgNode string
	node    node
}

// Open opens the store with the offers' policies, feeds and journal
// retention, then loads the offers. The store comes first: a folder held
// by a running serve is ErrLocked before anything else is read, so that
// the CLI goes to that serve even from where no scripts folder is.
// Nothing runs in the background until Run.
func Open(ctx context.Context, cfg Config) (*App, error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := host.NewRegistry(cfg.Scripts)
	reg.Options = cfg.Load
	reasons, err := store.StandardReasons().With(cfg.Reasons...)
	if err != nil {
		return nil, fmt.Errorf("reasons: %w", err)
	}
	opts := store.Options{
		Dir: cfg.Data, InMemory: cfg.InMemory, NoSync: cfg.NoSync, Policies: reg, Logger: log, Now: cfg.Now, Reasons: reasons,
		Feeds:       []string{send.Feed, send.PostbackFeed},
		MinFreeDisk: cfg.MinFreeDisk, JournalBudget: cfg.JournalBudget, ClaimExpiry: cfg.ClaimExpiry, Node: cfg.Node,
		DeadAfter: DeadAfterBeats * cmp.Or(cfg.Heartbeat, DefaultHeartbeat), // the outbox's claims live as long as the node
		JournalTTL: func(offer string) time.Duration {
			if o, ok := reg.Offer(offer); ok && o.Config.JournalDays > 0 {
				return time.Duration(o.Config.JournalDays) * 24 * time.Hour
			}
			return 0 // the default
		},
		FeedFilter: func(feed string, ev store.Event) bool { return send.Wants(reg, feed, ev) },
	}
	if cfg.OneShot {
		opts.GCInterval = -1
	}
	st, err := openStore(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	// The policies and feed filter above read the registry when leads
	// change; nothing changes one before Open returns.
	if _, err := reg.Reload(); err != nil {
		st.Close()
		return nil, err
	}
	for offer, errs := range reg.Errors() {
		for _, e := range errs {
			log.Error("offer does not load", "offer", offer, "err", e)
		}
	}
	if err := defineGoals(ctx, st, reg); errors.Is(err, store.ErrDiskFull) {
		// Opened on a nearly full disk: a new goal is defined at the
		// next reload, or when Run starts, once there is room.
		log.Error("defining the offers' goals", "err", err)
	} else if err != nil {
		st.Close()
		return nil, err
	}
	a := &App{Store: st, Offers: reg, log: log, now: cfg.Now, Shadows: shadow.New(st, reg, 0, log), cfgNode: cfg.Node, Pressure: &host.Pressure{}}
	if a.now == nil {
		a.now = time.Now
	}
	a.node = node{every: cfg.Heartbeat, started: a.now().UTC().Truncate(time.Second), nudge: make(chan struct{}, 1)}
	if a.node.every <= 0 {
		a.node.every = DefaultHeartbeat
	}
	a.node.cluster, _ = st.(store.Cluster) // nil on Badger: the only node
	if a.node.cluster != nil {
		// A check run asked for before Join (the CLI's, which never
		// joins) takes the offer's lease too, under a name that says
		// whose it is; Join gives a serve its node name.
		host, _ := os.Hostname()
		a.node.provisional = fmt.Sprintf("%s (pid %d)", host, os.Getpid())
	}
	a.mailer = notify.New(cfg.Mail, cfg.MailWindow, log)
	a.mailer.For = func(offer string) (notify.Settings, time.Duration, bool) {
		o, ok := reg.Offer(offer)
		if !ok || o.Config.Notify == nil {
			return notify.Settings{}, 0, false
		}
		nc := o.Config.Notify
		return notify.Settings{To: nc.To, Server: nc.Server, From: nc.From}, nc.Window.Duration, true
	}
	a.Observe(a.mailer.Observe)
	st.WatchJournal(a.fanOut)

	outbox := func(newSender func(store.Store, send.OfferSource) (*send.Sender, error), kind store.JournalKind) (*send.Sender, error) {
		sn, err := newSender(st, reg)
		if err != nil {
			return nil, err
		}
		sn.Log, sn.BaseDelay, sn.Poll = log, cfg.SendBackoff, cfg.SendPoll
		if kind == store.KindSend {
			sn.OnReply = a.Shadows.Send
		}
		sn.OnAttempt = func(at *send.Attempt) {
			level := slog.LevelInfo
			if at.Outcome.Failed() {
				level = slog.LevelWarn // a retry, a hold, a refusal: an operator may need to look
			}
			log.Log(context.Background(), level, string(kind), "offer", at.Offer, "lead", at.LeadID, "try", at.Try, "outcome", at.Outcome, "status", at.Status, "ext", at.Ext, "err", store.Mask(at.Err))
			st.Record(attemptEntry(reg, kind, at))
		}
		return sn, nil
	}
	if a.Sends, err = outbox(send.New, store.KindSend); err != nil {
		st.Close()
		return nil, err
	}
	if a.Postbacks, err = outbox(send.NewPostbacks, store.KindPostbackOut); err != nil {
		st.Close()
		return nil, err
	}
	// A sender reads its outbox when woken: only for changes that went
	// into it, not for every lead of every offer.
	a.unsubscribe = st.Subscribe(func(ev store.Event) {
		if send.Wants(reg, send.Feed, ev) {
			a.Sends.Wake()
		}
		if send.Wants(reg, send.PostbackFeed, ev) {
			a.Postbacks.Wake()
		}
	})
	runner := check.NewRunner(st)
	runner.Now = cfg.Now
	runner.OnAnswer = a.Shadows.Check
	runner.Pressure = a.Pressure
	a.Checks = &check.Scheduler{Offers: reg, Runner: runner, Log: log, Now: cfg.Now, OnRun: func(r *check.Report) {
		level := slog.LevelInfo
		if r.Err != nil && !r.Stopped {
			level = slog.LevelWarn
		}
		log.Log(context.Background(), level, "check", "offer", r.Offer, "mode", r.Mode, "requests", len(r.Exchanges), "leads", r.Leads,
			"edits", len(r.Edits), "took", time.Duration(r.Duration).Round(time.Millisecond), "err", store.Mask(r.Error()))
		st.Record(checkEntry(r))
	}, LeaseTTL: cfg.LeaseTTL}
	if a.node.cluster != nil {
		a.Checks.Leases, a.Checks.Node = a.node.cluster, a.node.provisional
	}
	return a, nil
}

// Outbox is one of the app's outboxes: its name, its store feed and the
// sender that works through it.
type Outbox struct {
	Name   string
	Feed   store.Feed
	Sender *send.Sender
}

// Held counts the items an outbox holds for a person, by offer (up to
// 10,000 read).
func (ob Outbox) Held(ctx context.Context) (map[string]int, error) {
	held, err := ob.Feed.Held(ctx, 10_000)
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, it := range held {
		counts[it.Offer]++
	}
	return counts, nil
}

// Outboxes are the app's outboxes: sends, then outgoing postbacks.
func (a *App) Outboxes() []Outbox {
	sends, _ := a.Store.Feed(send.Feed)
	postbacks, _ := a.Store.Feed(send.PostbackFeed)
	return []Outbox{{send.Feed, sends, a.Sends}, {send.PostbackFeed, postbacks, a.Postbacks}}
}

// defineGoals gives every goal of the loaded offers ([goals]) its id in
// the store, once: a goal keeps its id across reloads.
func defineGoals(ctx context.Context, st store.Store, reg *host.Registry) error {
	for _, o := range reg.Offers() {
		for code := range o.Config.Goals {
			if _, err := st.DefineGoal(ctx, o.ID, code); err != nil {
				return err
			}
		}
	}
	return nil
}

// Observe adds fn to what hears every journal entry as it is kept
// (metrics, mails). fn must be quick: it runs on the journal's writer.
func (a *App) Observe(fn func(store.JournalEntry)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.observers = append(a.observers, fn)
}

func (a *App) fanOut(e store.JournalEntry) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	for _, fn := range a.observers {
		fn(e)
	}
}

// Run hot-reloads the offers and runs the scheduler and both outboxes
// until ctx ends, then waits for runs and sends in flight to finish.
func (a *App) Run(ctx context.Context) {
	var wg sync.WaitGroup
	run := func(name string, fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil && !errors.Is(err, context.Canceled) {
				a.log.Error(name+" stopped", "err", err)
			}
		}()
	}
	run("reload", func() error {
		return a.Offers.Watch(ctx, a.log, host.WatchOptions{OnReload: func(changes []string, err error) {
			a.reloaded(ctx, changes, err)
		}})
	})
	run("shadow", func() error { return a.Shadows.Run(ctx) })
	run("refusals", func() error {
		// A source's refused calls left out of the journal are said when
		// its minute is over, even when it sends no more.
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil // the last minute is said by Close, once no call comes any more
			case <-tick.C:
				a.Store.Record(a.refused.flush(a.now())...)
			}
		}
	})
	if err := defineGoals(ctx, a.Store, a.Offers); err != nil { // those Open had no room for
		a.log.Error("defining the offers' goals", "err", err)
	}
	// The heartbeat goes on until the runs and sends in flight ended: a
	// node's outbox claims live as long as its heartbeats, and a send
	// begun before the stop may take its partner's whole timeout.
	beat, stopBeat := context.WithCancel(context.WithoutCancel(ctx))
	beating := make(chan struct{})
	go func() { defer close(beating); a.heartbeat(beat) }()
	run("scheduler", func() error { return a.Checks.Run(ctx) })
	run("sender", func() error { return a.Sends.Run(ctx) })
	run("postbacks", func() error { return a.Postbacks.Run(ctx) })
	wg.Wait()
	stopBeat()
	<-beating
	a.leave() // once the runs in flight gave up their leases, recording their ends
}

// Close sends the error mails still pending, retires the offers' Lua
// pools and closes the store (which writes the journal's queue). Call it
// after Run has returned.
func (a *App) Close() error {
	a.unsubscribe()
	for _, o := range a.Offers.Offers() {
		o.Pool.Close() // the Lua states and partner connections of every version still loaded
	}
	for _, c := range a.Offers.Candidates() {
		if c.Offer != nil {
			c.Offer.Pool.Close()
		}
	}
	a.Store.Record(a.refused.flush(a.now().Add(time.Minute))...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	a.mailer.Close(ctx)
	cancel()
	return a.Store.Close()
}

// ErrLocked is returned by Open when another process (a running serve)
// holds the data folder.
var ErrLocked = errors.New("the data folder is in use by another leadhost")

// DescribeOpen tells a held folder, the common case of a second leadhost
// on the same data, from other failures to open.
func DescribeOpen(dir string, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "Cannot acquire directory lock") || strings.Contains(msg, "resource temporarily unavailable") {
		return fmt.Errorf("%s: %w (stop it, or point this one elsewhere)", dir, ErrLocked)
	}
	return err
}

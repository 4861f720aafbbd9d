// Package notify e-mails people when an offer fails (SPEC §5): errors are
// grouped per offer and kind, at most one mail per offer per window goes
// out with the counts and the latest examples, and a "recovered" mail
// follows when the offer works again. It reads what the journal records.
package notify

import (
	"context"
	"fmt"
	"log/slog"
	"net/smtp"
	"sort"
	"strings"
	"sync"
	"time"

	"leadhost/store"
)

// Settings say where mail goes.
type Settings struct {
	Server string   // host:port of the SMTP server
	From   string   // envelope and header sender
	To     []string // recipients
	// User and Password, when set, authenticate (PLAIN; the server must
	// offer STARTTLS unless it is on loopback).
	User, Password string
}

// DefaultWindow is the least time between two mails about one offer.
const DefaultWindow = 15 * time.Minute

// examples is how many of the latest errors a mail quotes per kind.
const examples = 5

// Notifier collects failures and mails them. Make it with New; Observe
// every journal entry; Close sends what is pending.
type Notifier struct {
	// Global settings; For, when set, may give an offer its own (nil: the
	// global ones).
	Global Settings
	For    func(offer string) (Settings, time.Duration, bool)
	Window time.Duration
	Log    *slog.Logger
	Now    func() time.Time
	// send delivers one mail; smtp by default (tests may replace it).
	send func(s Settings, subject, body string) error

	mu     sync.Mutex
	offers map[string]*offerState
	timers map[string]*time.Timer
	wg     sync.WaitGroup
	closed bool
}

type offerState struct {
	lastMail  time.Time
	failing   map[store.JournalKind]bool // kinds that failed with no success since
	recovered bool                       // every failing kind has worked since: the next mail says so
	pending   map[store.JournalKind]*kindErrors
}

type kindErrors struct {
	count  int
	latest []string // newest last
	first  time.Time
}

// New makes a notifier with the global settings.
func New(global Settings, window time.Duration, log *slog.Logger) *Notifier {
	if window <= 0 {
		window = DefaultWindow
	}
	if log == nil {
		log = slog.Default()
	}
	n := &Notifier{Global: global, Window: window, Log: log, offers: map[string]*offerState{}, timers: map[string]*time.Timer{}}
	n.send = n.sendSMTP
	return n
}

func (n *Notifier) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

func (n *Notifier) settings(offer string) (Settings, time.Duration, bool) {
	if n.For != nil {
		if s, w, ok := n.For(offer); ok {
			if s.Server == "" {
				s.Server = n.Global.Server
			}
			if s.From == "" {
				s.From = n.Global.From
			}
			if s.User == "" {
				s.User, s.Password = n.Global.User, n.Global.Password
			}
			if w <= 0 {
				w = n.Window
			}
			return s, w, s.Server != "" && len(s.To) > 0
		}
	}
	return n.Global, n.Window, n.Global.Server != "" && len(n.Global.To) > 0
}

// Observe takes one journal entry: an error is queued for its offer's
// next mail; a success after errors makes the offer recovered.
func (n *Notifier) Observe(e store.JournalEntry) {
	if n == nil || e.Offer == "" {
		return
	}
	if _, _, ok := n.settings(e.Offer); !ok {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	st := n.offers[e.Offer]
	if st == nil {
		st = &offerState{pending: map[store.JournalKind]*kindErrors{}, failing: map[store.JournalKind]bool{}}
		n.offers[e.Offer] = st
	}
	switch e.Status {
	case store.JournalError:
		st.failing[e.Kind], st.recovered = true, false
		k := st.pending[e.Kind]
		if k == nil {
			k = &kindErrors{first: e.At}
			st.pending[e.Kind] = k
		}
		k.count++
		k.latest = append(k.latest, fmt.Sprintf("%s  %s", e.At.Format(time.RFC3339), store.Mask(e.Summary)))
		if len(k.latest) > examples {
			k.latest = k.latest[len(k.latest)-examples:]
		}
	case store.JournalOK:
		// Recovered when every kind that failed has worked again: a
		// webhook that works says nothing about sends that still fail.
		if !st.failing[e.Kind] {
			return
		}
		delete(st.failing, e.Kind)
		if len(st.failing) > 0 {
			return
		}
		st.recovered = true
	default:
		return
	}
	n.schedule(e.Offer, st)
}

// schedule sends the offer's mail now if its window allows, or when it
// does; called with n.mu held.
func (n *Notifier) schedule(offer string, st *offerState) {
	_, window, _ := n.settings(offer)
	// The first mail waits a moment (a tenth of the window, 30 s at
	// most) so that a burst of failures arrives as one mail.
	wait := max(st.lastMail.Add(window).Sub(n.now()), min(window/10, 30*time.Second))
	if n.timers[offer] == nil {
		n.timers[offer] = time.AfterFunc(wait, func() {
			n.mu.Lock()
			defer n.mu.Unlock()
			delete(n.timers, offer)
			if !n.closed {
				n.flush(offer, st)
			}
		})
	}
}

// flush writes and sends the offer's mail; called with n.mu held. The
// sending itself happens outside the lock.
func (n *Notifier) flush(offer string, st *offerState) {
	if len(st.pending) == 0 && !st.recovered {
		return
	}
	s, window, _ := n.settings(offer)
	subject, body := compose(offer, st, window)
	st.pending = map[store.JournalKind]*kindErrors{}
	st.recovered = false
	st.lastMail = n.now()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.send(s, subject, body); err != nil {
			n.Log.Error("sending the error mail", "offer", offer, "err", err)
		}
	}()
}

func compose(offer string, st *offerState, window time.Duration) (string, string) {
	var b strings.Builder
	if len(st.pending) == 0 {
		fmt.Fprintf(&b, "Offer %s works again: its last operations went well.\n", offer)
		return fmt.Sprintf("[leadhost] %s recovered", offer), b.String()
	}
	kinds := make([]string, 0, len(st.pending))
	total := 0
	for k, e := range st.pending {
		kinds = append(kinds, string(k))
		total += e.count
	}
	sort.Strings(kinds)
	fmt.Fprintf(&b, "Offer %s: %d failed operations since the last mail (at most one mail every %s).\n", offer, total, window)
	if st.recovered {
		b.WriteString("It has worked again since.\n")
	}
	for _, k := range kinds {
		e := st.pending[store.JournalKind(k)]
		fmt.Fprintf(&b, "\n%s: %d failed, the first at %s. The latest:\n", k, e.count, e.first.Format(time.RFC3339))
		for _, line := range e.latest {
			fmt.Fprintf(&b, "  %s\n", line)
		}
	}
	b.WriteString("\nThe journal has each of them: leadhost journal --offer " + offer + " --status error, or GET /api/journal?offer=" + offer + "&status=error\n")
	word := "errors"
	if total == 1 {
		word = "error"
	}
	return fmt.Sprintf("[leadhost] %s: %d %s (%s)", offer, total, word, strings.Join(kinds, ", ")), b.String()
}

// Close sends what is pending now, ignoring windows, and waits for the
// mails in flight.
func (n *Notifier) Close(ctx context.Context) {
	if n == nil {
		return
	}
	n.mu.Lock()
	for offer, t := range n.timers {
		t.Stop()
		delete(n.timers, offer)
	}
	for offer, st := range n.offers {
		n.flush(offer, st)
	}
	n.closed = true
	n.mu.Unlock()
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func (n *Notifier) sendSMTP(s Settings, subject, body string) error {
	msg := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s",
		s.From, strings.Join(s.To, ", "), subject, n.now().Format(time.RFC1123Z), strings.ReplaceAll(body, "\n", "\r\n"))
	var auth smtp.Auth
	if s.User != "" {
		host, _, _ := strings.Cut(s.Server, ":")
		auth = smtp.PlainAuth("", s.User, s.Password, host)
	}
	return smtp.SendMail(s.Server, auth, s.From, s.To, []byte(msg))
}

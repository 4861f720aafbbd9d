package send

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"leadhost/host"
	"leadhost/host/hosttest"
	"leadhost/store"
)

type oneOffer struct{ o *host.Offer }

func (s oneOffer) Offer(id string) (*host.Offer, bool) {
	if s.o != nil && s.o.ID == id {
		return s.o, true
	}
	return nil, false
}

// partnerAt loads testdata/partner with its url pointed at base and
// extra lines appended to [send].
func partnerAt(t *testing.T, base, extra string) *host.Offer {
	t.Helper()
	return partnerNamed(t, "partner", base, extra)
}

// partnerNamed is partnerAt as the offer named id.
func partnerNamed(t *testing.T, id, base, extra string) *host.Offer {
	t.Helper()
	dir := filepath.Join(t.TempDir(), id)
	os.MkdirAll(dir, 0o755)
	for _, name := range []string{"offer.toml", "send.lua"} {
		b, err := os.ReadFile(filepath.Join("testdata/partner", name))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(b), "http://partner.test", base)
		if name == "offer.toml" {
			text += extra
		}
		os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
	}
	o, errs := host.LoadOffer(dir)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return o
}

type fakePartner struct {
	mu    sync.Mutex
	calls []string // bodies
	times []time.Time
}

func (p *fakePartner) serve(t *testing.T, reply func(n int, body string) (int, string)) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.calls = append(p.calls, r.URL.RawQuery+" "+string(b))
		p.times = append(p.times, time.Now())
		n := len(p.calls)
		p.mu.Unlock()
		code, out := reply(n, string(b))
		w.WriteHeader(code)
		io.WriteString(w, out)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (p *fakePartner) n() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.calls) }

// env is a store with the outbox and a sender running until the test ends.
type env struct {
	st     store.Store
	sender *Sender
	stop   func()
	mu     sync.Mutex
	tries  []*Attempt
}

func newEnv(t *testing.T, o *host.Offer, before func(store.Store), configure ...func(*Sender)) *env {
	t.Helper()
	return newEnvFrom(t, oneOffer{o}, before, configure...)
}

// outboxStore opens an in-memory store keeping the feeds, filled as
// serve fills them (Wants) for the offers src gives; the caller closes it.
func outboxStore(t *testing.T, src OfferSource, feeds ...string) store.Store {
	t.Helper()
	st, err := store.Open(store.Options{InMemory: true, Feeds: feeds,
		FeedFilter: func(feed string, ev store.Event) bool { return Wants(src, feed, ev) }})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// newEnvFrom is newEnv with the offers src gives.
func newEnvFrom(t *testing.T, src OfferSource, before func(store.Store), configure ...func(*Sender)) *env {
	t.Helper()
	st := outboxStore(t, src, Feed)
	if before != nil {
		before(st)
	}
	s, err := New(st, src)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{st: st, sender: s}
	s.BaseDelay, s.Poll, s.Timeout, s.SettleEvery = 40*time.Millisecond, 10*time.Millisecond, 300*time.Millisecond, 20*time.Millisecond
	s.Log = slog.New(slog.DiscardHandler)
	s.OnAttempt = func(a *Attempt) {
		e.mu.Lock()
		e.tries = append(e.tries, a)
		e.mu.Unlock()
		if os.Getenv("SEND_DEBUG") != "" {
			t.Logf("attempt %+v", *a)
		}
	}
	for _, c := range configure {
		c(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	var once sync.Once
	e.stop = func() { once.Do(func() { cancel(); <-done; st.Close() }) }
	t.Cleanup(e.stop)
	return e
}

func (e *env) add(t *testing.T, offer string, fields map[string]string) *store.Lead {
	t.Helper()
	l, _, err := e.st.Add(context.Background(), store.NewLead{Offer: offer, Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	e.sender.Wake()
	return l
}

func (e *env) lead(t *testing.T, id uint64) *store.Lead {
	l, err := e.st.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// A JSON send with lead macros; the partner's id becomes ext and status 2;
// a rejection becomes status 5 with the reason; nothing is sent twice.
func TestSendOutcomes(t *testing.T) {
	t.Parallel()
	p := &fakePartner{}
	base := p.serve(t, func(n int, body string) (int, string) {
		if strings.Contains(body, "70000000002") {
			return 409, `{"error":"duplicate"}` // a 4xx is an answer for send.lua
		}
		return 200, `{"id":"P-` + body[len(body)-4:len(body)-2] + `"}`
	})
	e := newEnv(t, partnerAt(t, base, ""), nil)
	a := e.add(t, "partner", map[string]string{"phone": "70000000001", "name": "Ann", "utm_source": "vk"})
	b := e.add(t, "partner", map[string]string{"phone": "70000000002", "name": "Bob"})
	hosttest.Eventually(t, "both sent", func() bool { return e.lead(t, a.ID).Status != 1 && e.lead(t, b.ID).Status != 1 })
	if l := e.lead(t, a.ID); l.Status != store.StatusProcessing || l.Ext == "" {
		t.Errorf("sent lead: %+v", l)
	}
	if l := e.lead(t, b.ID); l.Status != store.StatusCancel || l.Reason != store.ReasonDuplicate {
		t.Errorf("rejected lead: %+v", l)
	}
	time.Sleep(100 * time.Millisecond)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.calls) != 2 || p.calls[0] != `key=K&lead=1 {"name":"Ann","phone":"70000000001","source":"vk"}` {
		t.Errorf("partner got %q", p.calls)
	}
}

// Five partner failures open the circuit: no more requests until it
// half-opens; the leads wait, new, and go out when the partner is back.
func TestCircuitBreaker(t *testing.T) {
	t.Parallel()
	p := &fakePartner{}
	var mu sync.Mutex
	down := true
	base := p.serve(t, func(n int, _ string) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return 503, "maintenance"
		}
		return 200, fmt.Sprintf(`{"id":"P%d"}`, n)
	})
	var clk struct {
		sync.Mutex
		t time.Time
	}
	clk.t = time.Now()
	now := func() time.Time { clk.Lock(); defer clk.Unlock(); return clk.t }
	e := newEnv(t, partnerAt(t, base, ""), nil, func(s *Sender) { s.Now = now })
	var leads []*store.Lead
	for range 8 {
		leads = append(leads, e.add(t, "partner", map[string]string{"phone": "7999"}))
	}
	hosttest.Eventually(t, "the circuit open", func() bool { open, _ := e.sender.Circuit("partner"); return open })
	n := p.n()
	time.Sleep(300 * time.Millisecond) // the circuit stays open for a minute
	if p.n() != n || n != breakAfter {
		t.Errorf("%d requests while open (%d before), want %d", p.n(), n, breakAfter)
	}
	for _, l := range leads {
		if e.lead(t, l.ID).Status != store.StatusNew {
			t.Fatalf("lead %d moved while the partner was down", l.ID)
		}
	}
	// The partner is back, and two minutes pass: the circuit half-opens.
	mu.Lock()
	down = false
	mu.Unlock()
	clk.Lock()
	clk.t = clk.t.Add(2 * time.Minute)
	clk.Unlock()
	hosttest.Eventually(t, "all sent after recovery", func() bool {
		for _, l := range leads {
			if e.lead(t, l.ID).Status != store.StatusProcessing {
				return false
			}
		}
		return true
	})
}

// A send whose outcome a crash left unknown is held for a person, unless
// the partner recognises repeats.
func TestSendInDoubt(t *testing.T) {
	t.Parallel()
	for _, idempotent := range []bool{false, true} {
		p := &fakePartner{}
		base := p.serve(t, func(int, string) (int, string) { return 200, `{"id":"X"}` })
		extra := ""
		if idempotent {
			extra = "idempotent = true\n"
		}
		o := partnerAt(t, base, extra)
		var lead *store.Lead
		e := newEnv(t, o, func(st store.Store) {
			// The last process began the attempt and died before its outcome.
			l, _, err := st.Add(context.Background(), store.NewLead{Offer: "partner", Fields: map[string]string{"phone": "7"}})
			if err != nil {
				t.Fatal(err)
			}
			lead = l
			feed, _ := st.Feed(Feed)
			items, _ := feed.Pending(context.Background(), 10)
			if _, err := feed.Begin(context.Background(), items[0]); err != nil {
				t.Fatal(err)
			}
		})
		if idempotent {
			hosttest.Eventually(t, "sent again", func() bool { return e.lead(t, lead.ID).Status == store.StatusProcessing })
			continue
		}
		hosttest.Eventually(t, "held", func() bool { e.mu.Lock(); defer e.mu.Unlock(); return len(e.tries) == 1 })
		time.Sleep(100 * time.Millisecond)
		feed, _ := e.st.Feed(Feed)
		pending, _ := feed.Pending(context.Background(), 10)
		held, _ := feed.Held(context.Background(), 10)
		if p.n() != 0 || e.lead(t, lead.ID).Status != store.StatusNew || len(pending) != 0 || len(held) != 1 ||
			!strings.Contains(held[0].LastError, "in doubt") || e.tries[0].Outcome != Held {
			t.Errorf("in doubt: %d sends, lead %+v, pending %+v, held %+v", p.n(), e.lead(t, lead.ID), pending, held)
		}
		// A person checked with the partner and releases it: it goes out.
		if _, err := feed.Release(context.Background(), held[0].LeadID, held[0].Rev); err != nil {
			t.Fatal(err)
		}
		e.sender.Wake()
		hosttest.Eventually(t, "sent after release", func() bool { return e.lead(t, lead.ID).Status == store.StatusProcessing })
	}
}

// A person who settles a held lead by an edit (its partner's id, a status
// past new) settles its held send too: it no longer waits for a decision.
func TestEditSettlesAHeldSend(t *testing.T) {
	t.Parallel()
	p := &fakePartner{}
	base := p.serve(t, func(int, string) (int, string) { return 200, `{"id":"X"}` })
	var lead *store.Lead
	e := newEnv(t, partnerAt(t, base, ""), func(st store.Store) {
		l, _, err := st.Add(context.Background(), store.NewLead{Offer: "partner", Fields: map[string]string{"phone": "7"}})
		if err != nil {
			t.Fatal(err)
		}
		lead = l
		feed, _ := st.Feed(Feed)
		items, _ := feed.Pending(context.Background(), 10)
		if _, err := feed.Begin(context.Background(), items[0]); err != nil { // in doubt after a crash
			t.Fatal(err)
		}
	})
	feed, _ := e.st.Feed(Feed)
	hosttest.Eventually(t, "held", func() bool { held, _ := feed.Held(context.Background(), 10); return len(held) == 1 })
	ext := "9009"
	if _, err := e.st.Edit(context.Background(), lead.ID, store.Patch{Ext: &ext, Status: ptr(store.StatusProcessing), By: "api"}); err != nil {
		t.Fatal(err)
	}
	hosttest.Eventually(t, "the held send settled", func() bool { held, _ := feed.Held(context.Background(), 10); return len(held) == 0 })
	if p.n() != 0 {
		t.Errorf("the partner got %d sends of a lead a person settled", p.n())
	}
}

// rate = 20: five leads take at least 200 ms; a slow partner that
// recognises repeats is retried.
func TestRateAndTimeout(t *testing.T) {
	t.Parallel()
	p := &fakePartner{}
	base := p.serve(t, func(n int, _ string) (int, string) {
		if n == 1 {
			time.Sleep(600 * time.Millisecond) // past the 300 ms deadline
		}
		return 200, fmt.Sprintf(`{"id":"P%d"}`, n)
	})
	e := newEnv(t, partnerAt(t, base, "rate = 20\nidempotent = true\n"), nil)
	for range 5 {
		e.add(t, "partner", map[string]string{"phone": "7"})
	}
	hosttest.Eventually(t, "all sent", func() bool {
		page, _ := e.st.List(context.Background(), store.Query{Offer: "partner", Statuses: store.Statuses(store.StatusProcessing)})
		return len(page.Leads) == 5
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	// Arrival times jitter a little, a span cannot shrink: after the slow
	// first one, 5 requests at 20/s span at least 4 gaps of 50 ms.
	if len(p.times) != 6 {
		t.Fatalf("%d requests, want 6", len(p.times))
	}
	if span := p.times[5].Sub(p.times[1]); span < 180*time.Millisecond {
		t.Errorf("5 requests over %s at rate 20/s", span)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tries[0].Outcome != Retry || !strings.Contains(e.tries[0].Err, "no answer in time") {
		t.Errorf("first try %+v", e.tries[0])
	}
}

// A partner answering with an id another lead already has (it took the
// order as a repeat): the second lead is held for a person, not sent
// again and again.
func TestAnswerThatCannotBeRecordedIsHeld(t *testing.T) {
	t.Parallel()
	p := &fakePartner{}
	base := p.serve(t, func(int, string) (int, string) { return 200, `{"id":"SAME"}` })
	e := newEnv(t, partnerAt(t, base, ""), nil)
	a := e.add(t, "partner", map[string]string{"phone": "1"})
	hosttest.Eventually(t, "the first sent", func() bool { return e.lead(t, a.ID).Status == store.StatusProcessing })
	b := e.add(t, "partner", map[string]string{"phone": "1"})
	hosttest.Eventually(t, "the second held", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.tries) == 2 && e.tries[1].Outcome == Held
	})
	time.Sleep(150 * time.Millisecond)
	if p.n() != 2 || e.lead(t, b.ID).Status != store.StatusNew || !strings.Contains(e.tries[1].Err, `already has ext "SAME"`) {
		t.Errorf("%d sends, lead %+v, try %+v", p.n(), e.lead(t, b.ID), e.tries[1])
	}
}

// Every status change goes to the tracker once, in order (a change that
// failed holds back the lead's later ones), with the change's own
// status; a 500 is retried, a 4xx is not.
func TestOutgoingPostbacks(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	fails := 1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r.URL.RawQuery)
		if fails > 0 {
			fails--
			w.WriteHeader(500)
			return
		}
		if r.URL.Query().Get("status") == "trash" {
			w.WriteHeader(400) // this tracker takes no trash postbacks
		}
	}))
	t.Cleanup(srv.Close)
	dir := filepath.Join(t.TempDir(), "tracked")
	os.MkdirAll(dir, 0o755)
	b, _ := os.ReadFile("testdata/tracked/offer.toml")
	os.WriteFile(filepath.Join(dir, "offer.toml"), []byte(strings.ReplaceAll(string(b), "http://tracker.test", srv.URL)), 0o644)
	o, errs := host.LoadOffer(dir)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	src := oneOffer{o}
	st := outboxStore(t, src, Feed, PostbackFeed)
	defer st.Close()
	pb, err := NewPostbacks(st, src)
	if err != nil {
		t.Fatal(err)
	}
	pb.BaseDelay, pb.Poll, pb.Log = 20*time.Millisecond, 10*time.Millisecond, slog.New(slog.DiscardHandler)
	var attempts []*Attempt
	pb.OnAttempt = func(a *Attempt) { mu.Lock(); attempts = append(attempts, a); mu.Unlock() }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { pb.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	l, _, err := st.Add(ctx, store.NewLead{Offer: "tracked", Fields: map[string]string{"subid": "clk-9", "sub1": "a b"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Edit(ctx, l.ID, store.Patch{Status: ptr(store.StatusProcessing)}); err != nil {
		t.Fatal(err)
	}
	hosttest.Eventually(t, "the first two changes", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 3 })
	wm, _ := store.ParseMoney("150")
	rub, _ := store.CurrencyID("RUB")
	if _, err := st.Edit(ctx, l.ID, store.Patch{Accept: true, Cash: &store.CashPatch{WM: &wm, CC: &rub}}); err != nil {
		t.Fatal(err)
	}
	trash, _, _ := st.Add(ctx, store.NewLead{Offer: "tracked", Status: store.StatusCancel, Reason: store.ReasonTrash})
	_ = trash
	hosttest.Eventually(t, "all postbacks", func() bool {
		feed, _ := st.Feed(PostbackFeed)
		items, _ := feed.Pending(ctx, 10)
		// An item is acknowledged before its attempt is reported: wait
		// for the reports too.
		mu.Lock()
		defer mu.Unlock()
		return len(items) == 0 && len(attempts) == 5
	})
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		"click=clk-9&lead=1&status=wait&code=1&reason=&sum=&cur=&s1=a+b", // 500: retried
		"click=clk-9&lead=1&status=wait&code=1&reason=&sum=&cur=&s1=a+b",
		"click=clk-9&lead=1&status=wait&code=2&reason=&sum=&cur=&s1=a+b",
		"click=clk-9&lead=1&status=approve&code=6&reason=&sum=150&cur=RUB&s1=a+b",
		"click=&lead=2&status=trash&code=5&reason=6&sum=&cur=&s1=", // 400: not retried
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tracker got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The tracker's 400 is not retried, but it is a failure: journaled as
	// an error, counted, mailed (a wrong tracker URL must not drop every
	// postback silently).
	last := attempts[len(attempts)-1]
	if last.Outcome != Refused || !last.Outcome.Failed() || last.Status != 400 || !strings.Contains(last.Err, "status 400") {
		t.Errorf("the refused postback's attempt: %+v", last)
	}
}

func ptr[T any](v T) *T { return &v }

// A partner that is down (nothing listens): retried, the lead stays new.
func TestPartnerDown(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there any more
	e := newEnv(t, partnerAt(t, base, ""), nil)
	l := e.add(t, "partner", map[string]string{"phone": "7"})
	hosttest.Eventually(t, "two tries", func() bool { e.mu.Lock(); defer e.mu.Unlock(); return len(e.tries) >= 2 })
	e.mu.Lock()
	defer e.mu.Unlock()
	if a := e.tries[0]; a.Outcome != Retry || !strings.Contains(a.Err, "connection refused") || a.Next.IsZero() {
		t.Errorf("first try %+v", a)
	}
	if got := e.lead(t, l.ID); got.Status != store.StatusNew {
		t.Errorf("lead %+v", got)
	}
}

// A partner that does not answer in time may have taken the lead: unless
// it recognises repeats, the send is held for a person, not repeated.
func TestTimeoutHeldWhenNotIdempotent(t *testing.T) {
	t.Parallel()
	p := &fakePartner{}
	base := p.serve(t, func(int, string) (int, string) {
		time.Sleep(600 * time.Millisecond)
		return 200, `{"id":"late"}`
	})
	e := newEnv(t, partnerAt(t, base, ""), nil)
	l := e.add(t, "partner", map[string]string{"phone": "7"})
	hosttest.Eventually(t, "held", func() bool { e.mu.Lock(); defer e.mu.Unlock(); return len(e.tries) == 1 })
	time.Sleep(300 * time.Millisecond)
	e.mu.Lock()
	defer e.mu.Unlock()
	if a := e.tries[0]; a.Outcome != Held || !strings.Contains(a.Err, "no answer in time") || p.n() != 1 {
		t.Errorf("try %+v, %d requests", a, p.n())
	}
	if got := e.lead(t, l.ID); got.Status != store.StatusNew {
		t.Errorf("lead %+v", got)
	}
}

// Held sends do not hide the sends behind them.
func TestHeldDoNotStarveTheOutbox(t *testing.T) {
	t.Parallel()
	p := &fakePartner{}
	base := p.serve(t, func(n int, _ string) (int, string) { return 200, fmt.Sprintf(`{"id":"P%d"}`, n) })
	var held []*store.Lead
	e := newEnv(t, partnerAt(t, base, ""), func(st store.Store) {
		feed, _ := st.Feed(Feed)
		for range 1200 { // more than one read of the outbox, all in doubt
			l, _, _ := st.Add(context.Background(), store.NewLead{Offer: "partner", Fields: map[string]string{"phone": "1"}})
			held = append(held, l)
		}
		items, _ := feed.Pending(context.Background(), 2000)
		for _, it := range items {
			feed.Begin(context.Background(), it)
		}
	})
	late := e.add(t, "partner", map[string]string{"phone": "2"})
	// 1,200 holds, one by one, take seconds under the race detector.
	hosttest.EventuallyWithin(t, time.Minute, "the late lead sent", func() bool { return e.lead(t, late.ID).Status == store.StatusProcessing })
	if p.n() != 1 {
		t.Errorf("%d sends, want 1 (the held ones stay held)", p.n())
	}
}

// A send.lua that returns what is neither an id, a negative reason nor
// nil (here the partner's id is an object, and the script passes it on)
// is an error; after a few tries the send is held for a person, with
// what the script returned, instead of being retried forever.
func TestBrokenSendScriptIsHeld(t *testing.T) {
	t.Parallel()
	p := &fakePartner{}
	base := p.serve(t, func(int, string) (int, string) { return 200, `{"id":{"order":"P-1"}}` })
	e := newEnv(t, partnerAt(t, base, ""), nil)
	l := e.add(t, "partner", map[string]string{"phone": "7"})
	feed, _ := e.st.Feed(Feed)
	hosttest.Eventually(t, "held", func() bool { held, _ := feed.Held(context.Background(), 10); return len(held) == 1 })
	held, _ := feed.Held(context.Background(), 10)
	if p.n() != 3 || !strings.Contains(held[0].LastError, `send.lua failed 3 times`) || !strings.Contains(held[0].LastError, `returned a table {"order":"P-1"}`) {
		t.Errorf("%d sends; held: %q", p.n(), held[0].LastError)
	}
	if got := e.lead(t, l.ID); got.Status != store.StatusNew {
		t.Errorf("lead %+v", got)
	}
}

// A flow's own tracker ([postback.flows.<flow>] url) gets the changes of
// that flow's leads; other leads go to [postback] url; with no [postback]
// url, leads of other flows report nothing.
func TestPostbacksPerFlow(t *testing.T) {
	t.Parallel()
	tracker := hosttest.StartPartner(t, hosttest.Answer(200, "ok"))
	for _, tc := range []struct {
		name, toml string
		want       []string // path?query of each postback, in order
	}{
		{"with a default", "[postback]\nurl = \"BASE/default?lead={id}\"\n[postback.flows.summer]\nurl = \"BASE/summer?lead={id}&click={sub1}\"\n",
			[]string{"/summer?lead=1&click=c1", "/default?lead=2"}},
		{"flows only", "[postback.flows.summer]\nurl = \"BASE/summer?lead={id}\"\n",
			[]string{"/summer?lead=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "flows")
			os.MkdirAll(dir, 0o755)
			os.WriteFile(filepath.Join(dir, "offer.toml"), []byte(strings.ReplaceAll(tc.toml, "BASE", tracker.URL+"/"+strings.ReplaceAll(tc.name, " ", "-"))), 0o644)
			o, errs := host.LoadOffer(dir)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			src := oneOffer{o}
			st := outboxStore(t, src, Feed, PostbackFeed)
			defer st.Close()
			pb, err := NewPostbacks(st, src)
			if err != nil {
				t.Fatal(err)
			}
			pb.Poll, pb.Log = 10*time.Millisecond, slog.New(slog.DiscardHandler)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { pb.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			st.Add(ctx, store.NewLead{Offer: "flows", Fields: map[string]string{"flow": "summer", "sub1": "c1"}})
			st.Add(ctx, store.NewLead{Offer: "flows", Fields: map[string]string{"flow": "winter"}})
			hosttest.Eventually(t, "the postbacks", func() bool {
				feed, _ := st.Feed(PostbackFeed)
				items, _ := feed.Pending(ctx, 10)
				return len(items) == 0
			})
			var got []string
			prefix := "/" + strings.ReplaceAll(tc.name, " ", "-")
			for _, r := range tracker.Requests() {
				if path, ok := strings.CutPrefix(r.Path, prefix); ok {
					got = append(got, path+"?"+r.RawQuery)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("the trackers got %q, want %q", got, tc.want)
			}
		})
	}
}

// comingAndGoing is an offer source whose one offer can vanish for a
// while, as its folder does during a deploy by rsync --delete.
type comingAndGoing struct {
	o    *host.Offer
	gone atomic.Bool
}

func (s *comingAndGoing) Offer(id string) (*host.Offer, bool) {
	if s.gone.Load() {
		return nil, false
	}
	return oneOffer{s.o}.Offer(id)
}

// Issue 12, point 8: sends queued while their offer's folder is away wait
// for it, untouched and listed as paused, and all go out when it is back
// (today's main dropped them: 11 of 20 after a 3 s absence).
func TestOfferAwayPausesItsSends(t *testing.T) {
	t.Parallel()
	p := &fakePartner{}
	base := p.serve(t, func(n int, _ string) (int, string) { return 200, fmt.Sprintf(`{"id":"P%d"}`, n) })
	o := partnerAt(t, base, "")
	src := &comingAndGoing{o: o}
	e := newEnv(t, o, nil, func(s *Sender) { s.Offers, s.PauseFor = src, 50*time.Millisecond })
	src.gone.Store(true)
	var ids []uint64
	for i := range 20 {
		ids = append(ids, e.add(t, "partner", map[string]string{"phone": fmt.Sprint(79000000000 + i)}).ID)
	}
	feed, _ := e.st.Feed(Feed)
	hosttest.Eventually(t, "every item paused", func() bool {
		items, _ := feed.Pending(context.Background(), 100)
		paused := 0
		for _, it := range items {
			if strings.HasPrefix(it.LastError, "paused: offer partner is not loaded") && it.Attempts == 0 {
				paused++
			}
		}
		return paused == 20
	})
	time.Sleep(200 * time.Millisecond) // several looks while it is away
	e.mu.Lock()
	reported := len(e.tries)
	e.mu.Unlock()
	if p.n() != 0 || reported != 0 {
		t.Fatalf("while the offer was away: %d sends, %d attempts reported", p.n(), reported)
	}
	// A person gives one up while it waits: it is not sent.
	given := ids[0]
	if _, err := e.st.Edit(context.Background(), given, store.Patch{Status: ptr(store.StatusCancel), By: "api"}); err != nil {
		t.Fatal(err)
	}
	hosttest.Eventually(t, "the given-up item gone", func() bool {
		items, _ := feed.Pending(context.Background(), 100)
		return len(items) == 19
	})
	src.gone.Store(false)
	// A send lands on its lead, then its item is acknowledged: two
	// writes, so both are waited for.
	hosttest.Eventually(t, "every lead sent once the offer is back, and its item gone", func() bool {
		for _, id := range ids[1:] {
			if e.lead(t, id).Status != store.StatusProcessing {
				return false
			}
		}
		items, _ := feed.Pending(context.Background(), 100)
		return len(items) == 0
	})
	if items, _ := feed.Pending(context.Background(), 100); p.n() != 19 || len(items) != 0 {
		t.Errorf("after the offer came back: %d sends for the 19 leads still new, %d items left", p.n(), len(items))
	}
}

// offerSet is an offer source of several offers.
type offerSet map[string]*host.Offer

func (s offerSet) Offer(id string) (*host.Offer, bool) { o, ok := s[id]; return o, ok }

// Issue 12, point 7: offer A's partner is down (its circuit opens) with
// 1,500 leads queued ahead; offer B's healthy partner still gets every
// one of its leads at once (today's main: 0 of 5 in 60 s).
func TestOneOffersBacklogDoesNotStallAnother(t *testing.T) {
	t.Parallel()
	down, healthy := &fakePartner{}, &fakePartner{}
	a := partnerNamed(t, "a", down.serve(t, func(int, string) (int, string) { return 503, "down" }), "")
	b := partnerNamed(t, "b", healthy.serve(t, func(n int, _ string) (int, string) { return 200, fmt.Sprintf(`{"id":"B%d"}`, n) }), "")
	e := newEnvFrom(t, offerSet{"a": a, "b": b}, nil)
	for i := range 1500 {
		e.add(t, "a", map[string]string{"phone": fmt.Sprint(79000000000 + i)})
	}
	hosttest.Eventually(t, "a's circuit open", func() bool { open, _ := e.sender.Circuit("a"); return open })
	var bs []uint64
	for i := range 5 {
		bs = append(bs, e.add(t, "b", map[string]string{"phone": fmt.Sprint(79100000000 + i)}).ID)
	}
	start := time.Now()
	hosttest.Eventually(t, "b's leads sent", func() bool {
		for _, id := range bs {
			if e.lead(t, id).Status != store.StatusProcessing {
				return false
			}
		}
		return true
	})
	t.Logf("b's 5 leads sent %s after they were added, a's circuit open and %d of its leads queued; a's partner asked %d times",
		time.Since(start).Round(time.Millisecond), 1500, down.n())
	if down.n() != breakAfter {
		t.Errorf("a's partner, down, was asked %d times; its circuit should stop it at %d", down.n(), breakAfter)
	}
}

// Issue 12, point 9: a healthy partner that closes idle connections
// sooner than sends come (gunicorn closes after 2 s, Node after 5 s) must
// not see its sends held "in doubt": a connection idle past
// partner.IdleConnReuse is not reused. Here the partner closes after
// 1.5 s and a lead comes every 1.8 s.
func TestShortKeepAlivePartnerIsNotInDoubt(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		fmt.Fprintf(w, `{"id":"K%d"}`, n)
	}))
	srv.Config.IdleTimeout = 1500 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	e := newEnv(t, partnerAt(t, srv.URL, ""), nil)
	var ids []uint64
	for i := range 3 {
		if i > 0 {
			time.Sleep(1800 * time.Millisecond)
		}
		id := e.add(t, "partner", map[string]string{"phone": fmt.Sprint(79000000000 + i)}).ID
		ids = append(ids, id)
		hosttest.Eventually(t, "the lead sent, or given up on", func() bool {
			e.mu.Lock()
			defer e.mu.Unlock()
			return len(e.tries) == i+1
		})
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, a := range e.tries {
		if a.Outcome != Sent {
			t.Errorf("send %d to a partner with a 1.5 s keep-alive: %s (%s)", i+1, a.Outcome, a.Err)
		}
	}
}

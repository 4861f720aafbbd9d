// Package api is leadhost's HTTP side (SPEC §4, §5): webhooks and status
// postbacks in, the admin API v1 (described by openapi.json, served at
// /api/openapi.json), /metrics and /healthz, and the client the CLI uses
// to reach a running serve. It speaks HTTP with fasthttp and leaves the
// rest to the assembled app (host/app).
package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/api/console"
	"leadhost/api/guesslimit"
	"leadhost/host"
	"leadhost/host/app"
	"leadhost/host/script"
	"leadhost/store"
)

// Limits of the server, set on purpose: a webhook is a few kilobytes, and
// a client that cannot send one in ten seconds is stuck or hostile.
const (
	DefaultMaxBody   = 1 << 20
	readTimeout      = 10 * time.Second
	writeTimeout     = 10 * time.Second
	idleTimeout      = 60 * time.Second
	maxConcurrency   = 4096
	maxHeaderBytes   = 16 << 10
	hookTokenHeader  = "X-Token"
	jsonContentType  = "application/json"
	shutdownDeadline = 30 * time.Second
	// RunGrace is how long a stopping server lets the scripts of calls in
	// flight go on before it stops them (the default script timeout):
	// each such call is answered 503, to be sent again.
	RunGrace = 5 * time.Second
)

// Server answers webhooks, postbacks, the admin API, the console (/ui/)
// and health checks for an assembled App.
type Server struct {
	App     *app.App
	MaxBody int // request bodies over it are refused with 413
	Log     *slog.Logger
	// NoJournal leaves inbound calls out of the journal (to measure what
	// journaling costs).
	NoJournal bool

	// APIToken is the admin API's bearer token ("" = direct loopback
	// clients may read, see adminRefusal).
	APIToken string
	// LocalToken, with no APIToken, is the token changes through the
	// admin API need: serve makes one at each start and leaves it in its
	// serve file for the CLI ("": no changes without APIToken).
	LocalToken string
	// TrustedProxies are the proxies in front of the server: a call from
	// one of them has its client's address in X-Forwarded-For or
	// Forwarded, which a webhook sees as req.ip. From anyone else those
	// headers are not believed.
	TrustedProxies []*net.IPNet
	// ForwardedHeader is the header those proxies write the client's
	// address in: "X-Forwarded-For" (the default) or "Forwarded".
	ForwardedHeader string
	// Metrics, when set, counts requests and is served at /metrics.
	Metrics *Metrics

	uiOnce  sync.Once
	console *console.Console
	guesses guesslimit.Limit // wrong bearer tokens by caller (admin_guesses.go)

	runsOnce sync.Once
	runs     context.Context // the scripts of calls; ended by Shutdown
	stopRuns context.CancelCauseFunc
}

// errStopping is why a call's script was stopped by Shutdown.
var errStopping = errors.New("leadhost is stopping")

// runContext is the context of the calls' scripts: not the request's,
// which fasthttp ends as soon as shutdown begins, but one that Shutdown
// ends after RunGrace.
func (s *Server) runContext() context.Context {
	s.runsOnce.Do(func() { s.runs, s.stopRuns = context.WithCancelCause(context.Background()) })
	return s.runs
}

// stopping says whether Shutdown stopped the calls' scripts.
func (s *Server) stopping() bool {
	return errors.Is(context.Cause(s.runContext()), errStopping)
}

// HTTP is the fasthttp server for s, with its limits.
func (s *Server) HTTP() *fasthttp.Server {
	maxBody := s.MaxBody
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	return &fasthttp.Server{
		Handler:            s.Handle,
		ErrorHandler:       s.transportError,
		Name:               "leadhost",
		MaxRequestBodySize: maxBody,
		ReadBufferSize:     maxHeaderBytes,
		ReadTimeout:        readTimeout,
		WriteTimeout:       writeTimeout,
		IdleTimeout:        idleTimeout,
		Concurrency:        maxConcurrency,
		CloseOnShutdown:    true,
		Logger:             fasthttpLog{s.log()},
	}
}

// fasthttpLog sends fasthttp's own messages (a client that sent too much,
// a connection reset) to the log at debug level: the client already got
// its JSON error.
type fasthttpLog struct{ log *slog.Logger }

func (l fasthttpLog) Printf(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...))
}

// Shutdown stops srv, s's fasthttp server: no new connections; calls in
// flight get RunGrace to finish, then their scripts are stopped and they
// are answered 503 (a lead a script added stays, and the caller's retry
// finds it by its key). The admin API's check runs stop with the host's
// scheduler. It returns after 30 s at most, whatever is still open.
func (s *Server) Shutdown(srv *fasthttp.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownDeadline)
	defer cancel()
	// Whatever still runs on the calls' context (a console's count) ends
	// with the server, also when every call ended within the grace.
	defer func() { s.runContext(); s.stopRuns(errStopping) }()
	done := make(chan error, 1)
	go func() { done <- srv.ShutdownWithContext(ctx) }()
	grace := time.NewTimer(RunGrace)
	defer grace.Stop()
	select {
	case err := <-done:
		return err
	case <-grace.C:
		s.runContext()
		s.stopRuns(errStopping)
		return <-done
	}
}

// transportError answers what fasthttp could not read, as JSON.
func (s *Server) transportError(c *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		writeError(c, fasthttp.StatusRequestEntityTooLarge, "request body over the limit")
	case errors.As(err, &small):
		writeError(c, fasthttp.StatusRequestHeaderFieldsTooLarge, "request headers over the limit")
	case isTimeout(err):
		writeError(c, fasthttp.StatusRequestTimeout, "request not read in time")
	default:
		// Not the parser's message: it may quote the request, token and all.
		writeError(c, fasthttp.StatusBadRequest, "malformed HTTP request")
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// Handle routes a request.
func (s *Server) Handle(c *fasthttp.RequestCtx) {
	path := string(c.Path())
	defer func() { s.Metrics.request(routeOf(path), c.Response.StatusCode()) }()
	switch {
	case path == "/metrics" && s.Metrics != nil:
		if s.guard(c, "metrics") {
			return
		}
		s.Metrics.handler()(c)
	case path == "/healthz":
		s.health(c)
	case strings.HasPrefix(path, "/hook/"):
		// In flight until answered and journaled: check runs rest
		// meanwhile (host.Pressure), so the call gets the CPU it waits for.
		defer s.App.Pressure.Enter()()
		started := time.Now()
		s.hook(c, strings.TrimPrefix(path, "/hook/"))
		s.journal(c, store.KindHook, strings.TrimPrefix(path, "/hook/"), started)
	case strings.HasPrefix(path, "/api/"):
		s.admin(c, strings.TrimPrefix(path, "/api/"))
	case path == "/ui" || strings.HasPrefix(path, "/ui/"):
		s.ui().Handle(c)
	case strings.HasPrefix(path, "/postback/"):
		defer s.App.Pressure.Enter()() // as a webhook
		started := time.Now()
		s.postback(c, strings.TrimPrefix(path, "/postback/"))
		s.journal(c, store.KindPostback, strings.TrimPrefix(path, "/postback/"), started)
	default:
		writeError(c, fasthttp.StatusNotFound, "no such route: "+path)
	}
}

// health is /healthz: 200 {"ok":true}, or 503 with read_only saying why
// the store takes no writes (a full disk), so that a load balancer sends
// the calls elsewhere.
func (s *Server) health(c *fasthttp.RequestCtx) {
	if why := s.App.Store.ReadOnly(); why != "" {
		writeJSON(c, fasthttp.StatusServiceUnavailable, struct {
			OK       bool   `json:"ok"`
			ReadOnly string `json:"read_only"`
		}{false, why})
		return
	}
	c.SetContentType(jsonContentType)
	c.SetBodyString(`{"ok":true}`)
}

// writable answers 503 when the store takes no writes (a full disk): a
// call is refused before its script runs, to be sent again later, rather
// than run and fail halfway.
func (s *Server) writable(c *fasthttp.RequestCtx) bool {
	if s.App.Store.ReadOnly() == "" {
		return true
	}
	writeError(c, fasthttp.StatusServiceUnavailable, "leadhost cannot store anything now ("+s.App.Store.ReadOnly()+"): send the call again later")
	c.Response.Header.Set("Retry-After", "60")
	return false
}

// routeOf is a request's route for metrics: a few names, never the
// path itself (offers and ids would make a series each).
func routeOf(path string) string {
	for _, r := range []string{"/hook/", "/postback/", "/api/", "/ui/"} {
		if strings.HasPrefix(path, r) {
			return strings.TrimSuffix(r, "/")
		}
	}
	switch path {
	case "/healthz", "/metrics":
		return path
	}
	return "other"
}

// journal records an inbound call, answered or refused, before the answer
// leaves (the entry is app.Inbound's; here only what HTTP knows of it).
func (s *Server) journal(c *fasthttp.RequestCtx, kind store.JournalKind, rest string, started time.Time) {
	if s.NoJournal {
		return
	}
	offerID, _, _ := strings.Cut(rest, "/")
	atDoor, from := c.UserValue(atDoorKey) != nil, ""
	if atDoor {
		from = s.clientIP(c).String() // whose refusals are counted together; not needed otherwise
	}
	err := s.App.RecordCall(app.Inbound{Kind: kind, Offer: offerID, Method: c.Method(), Path: c.Path(),
		Status: c.Response.StatusCode(), Took: time.Since(started), AtDoor: atDoor, From: from, Call: journaledCall{c}})
	if err != nil && !errors.Is(err, store.ErrDiskFull) { // the disk guard said that once
		// The call itself was done (its lead is stored): it is answered
		// as it was, and the missing entry is said in the log.
		s.log().Error("journaling a call", "kind", kind, "offer", offerID, "err", err)
	}
}

// refuseAtDoor answers a call refused before its offer's script or
// built-in handling (no such offer or hook, a wrong token or method), and
// marks it so for the journal: such calls anyone can make, and they are
// kept as a line, sampled per source (app.Inbound.AtDoor). A script's own
// 401 or 404 is its answer, journaled whole.
func refuseAtDoor(c *fasthttp.RequestCtx, status int, msg string) {
	writeError(c, status, msg)
	c.SetUserValue(atDoorKey, true)
}

// atDoorKey marks a call refused at the door (refuseAtDoor).
const atDoorKey = "leadhost.door"

// journaledCall is a webhook's or postback's request and answer for the
// journal (app.Call); one pointer, so that it costs no allocation.
type journaledCall struct{ c *fasthttp.RequestCtx }

func (j journaledCall) Request() string  { return redactedRequest(&j.c.Request) }
func (j journaledCall) Response() string { return string(j.c.Response.Body()) }
func (j journaledCall) Logs() []string {
	logs, _ := j.c.UserValue(runLogsKey).([]string)
	return logs
}

// runLogsKey is where a webhook's request keeps what its script said,
// for the journal entry of the call.
const runLogsKey = "leadhost.logs"

// redactedRequest is the request as it came, for replay, without its
// token (?token=, X-Token): the journal is read by more people than the
// partner's secret is meant for. A replay adds the offer's current token.
//
// It copies the header only (Request.String would copy the body and
// allocate a 4 KiB writer per webhook), into one of redactions, whose
// buffers a webhook's header fits after the first few: the text returned
// is its one allocation.
func redactedRequest(r *fasthttp.Request) string {
	red := redactions.Get().(*redaction)
	defer red.done()
	h := &red.h
	r.Header.CopyTo(h)
	h.Del(hookTokenHeader)
	if q := r.URI().QueryArgs(); q.Has("token") {
		rest := &red.args
		q.CopyTo(rest)
		rest.Del("token")
		uri := append(red.uri[:0], r.URI().PathOriginal()...)
		if rest.Len() > 0 {
			uri = rest.AppendBytes(append(uri, '?'))
		}
		red.uri = uri
		h.SetRequestURIBytes(uri)
	}
	// The body kept is the decoded one: it goes with a Content-Length,
	// not the chunking, trailers or Expect it came with, and without a
	// Content-Type fasthttp would make up (a JSON body sent without one
	// is read as JSON on replay, as it was the first time).
	body := r.Body()
	if h.ContentLength() != len(body) {
		h.SetContentLength(len(body))
	}
	h.Del(fasthttp.HeaderTrailer)
	h.Del(fasthttp.HeaderExpect)
	h.SetNoDefaultContentType(true)
	red.out = append(h.AppendBytes(red.out[:0]), body...)
	return string(red.out)
}

// redaction is redactedRequest's work space.
type redaction struct {
	h        fasthttp.RequestHeader
	args     fasthttp.Args
	uri, out []byte
}

// redactions hold no request between calls: only buffers to reuse.
var redactions = sync.Pool{New: func() any { return new(redaction) }}

// done gives red back, without a buffer a big body grew (a webhook's
// next request is a few KiB, not the last one's megabyte).
func (red *redaction) done() {
	if cap(red.out) > 64<<10 {
		red.out = nil
	}
	redactions.Put(red)
}

// hook runs /hook/<offer>[/<name>].
func (s *Server) hook(c *fasthttp.RequestCtx, rest string) {
	if !c.IsGet() && !c.IsPost() {
		refuseAtDoor(c, fasthttp.StatusMethodNotAllowed, "webhooks take GET or POST")
		c.Response.Header.Set("Allow", "GET, POST")
		return
	}
	offerID, name, _ := strings.Cut(rest, "/")
	o, ok := s.App.Offers.Offer(offerID)
	if !ok {
		refuseAtDoor(c, fasthttp.StatusNotFound, fmt.Sprintf("no offer %q", offerID))
		return
	}
	// The token first: without it, which hooks exist is nobody's business.
	if !tokenOK(c, offerToken(o, store.KindHook)) {
		refuseAtDoor(c, fasthttp.StatusUnauthorized, "wrong or missing token (?token= or X-Token)")
		return
	}
	if !s.writable(c) {
		return
	}
	file := "hook.lua"
	if name != "" {
		file = "hooks/" + name + ".lua"
	}
	sc := o.Scripts[file]
	if sc == nil || strings.Contains(name, "/") {
		refuseAtDoor(c, fasthttp.StatusNotFound, fmt.Sprintf("offer %s has no hook %q", offerID, name))
		return
	}
	req, err := s.hookRequest(c)
	if err != nil {
		writeError(c, fasthttp.StatusBadRequest, err.Error())
		return
	}
	s.runScript(c, o, sc, req)
}

// tokenOK compares want, an offer's token, with ?token= or X-Token in
// constant time. No token wanted takes no calls (a hook.lua without one
// does not load).
func tokenOK(c *fasthttp.RequestCtx, want string) bool {
	if want == "" {
		return false
	}
	got := c.QueryArgs().Peek("token")
	if len(got) == 0 {
		got = c.Request.Header.Peek(hookTokenHeader)
	}
	return subtle.ConstantTimeCompare(got, []byte(want)) == 1
}

// offerToken is the token an offer's calls of kind (hook, postback) must
// carry; "" when it takes none.
func offerToken(o *host.Offer, kind store.JournalKind) string {
	switch {
	case kind == store.KindHook && o.Config.Hook != nil:
		return o.Config.Hook.Token
	case kind == store.KindPostback && o.Config.Postback != nil:
		return o.Config.Postback.Token
	}
	return ""
}

// hookRequest reads the call as hook scripts see it (req). A body that
// says it is JSON or a form must be one.
func (s *Server) hookRequest(c *fasthttp.RequestCtx) (script.HookRequest, error) {
	return script.ReadHookRequest(&c.Request, s.clientIP(c).String())
}

// clientIP is the address of the call's client: the peer's, or, when the
// peer is a trusted proxy, the last address the proxies' header gives
// that is not itself a trusted proxy. Only the one header the proxies
// write is read (ForwardedHeader), every line of it in order: a caller's
// own X-Forwarded-For or Forwarded, passed through, is never believed.
func (s *Server) clientIP(c *fasthttp.RequestCtx) net.IP {
	peer := c.RemoteIP()
	if !s.trusted(peer) {
		return peer
	}
	var hops []string
	if strings.EqualFold(s.ForwardedHeader, "Forwarded") {
		for _, line := range c.Request.Header.PeekAll("Forwarded") {
			for _, part := range strings.FieldsFunc(string(line), func(r rune) bool { return r == ',' || r == ';' }) {
				if v, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(part)), "for="); ok {
					hops = append(hops, forwardedFor(v))
				}
			}
		}
	} else {
		for _, line := range c.Request.Header.PeekAll("X-Forwarded-For") {
			hops = append(hops, strings.Split(string(line), ",")...)
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		ip := net.ParseIP(strings.TrimSpace(hops[i]))
		if ip == nil {
			break // garbage: the proxies' word stops here
		}
		if !s.trusted(ip) {
			return ip
		}
		peer = ip
	}
	return peer
}

// forwardedFor is the address of a Forwarded for= value: "192.0.2.1",
// "192.0.2.1:4711", "[2001:db8::1]", "[2001:db8::1]:4711".
func forwardedFor(v string) string {
	v = strings.Trim(v, `"`)
	if h, _, err := net.SplitHostPort(v); err == nil {
		v = h
	}
	return strings.Trim(v, "[]")
}

func (s *Server) trusted(ip net.IP) bool {
	for _, n := range s.TrustedProxies {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// luaAddress is how Lua writes a value that is not text: a table's,
// a function's heap address, which tells an outsider nothing but the
// server's memory layout.
var luaAddress = regexp.MustCompile(`\b(table|function|userdata|thread|channel): 0x[0-9a-f]+`)

// forCaller is a script's error as an outside caller (a partner's
// webhook) may see it: the offer's file and line stay, addresses go, and
// contacts and secrets are masked as in the journal.
func forCaller(msg string) string {
	return store.Mask(luaAddress.ReplaceAllString(msg, "a $1 raised as the error"))
}

func writeError(c *fasthttp.RequestCtx, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	c.Response.Reset()
	c.SetStatusCode(status)
	c.SetContentType(jsonContentType)
	c.SetBody(b)
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

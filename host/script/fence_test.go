package script

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Issue 12, point 2: which destinations the fence refuses, by default,
// with an operator's allow-list, and leadhost's own listeners whatever
// the list says.
func TestFenceCheck(t *testing.T) {
	t.Parallel()
	fence := func(allow []string, own ...string) *Fence {
		t.Helper()
		f, err := NewFence(allow)
		if err != nil {
			t.Fatal(err)
		}
		var addrs []net.Addr
		for _, o := range own {
			addrs = append(addrs, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(o)))
		}
		f.SetListeners(addrs...)
		return f
	}
	byDefault := (*Fence)(nil)
	operator := fence([]string{"10.1.2.3", "192.168.0.0/16", "127.0.0.1:9000", "fd00::/8"})
	ownLoopback := fence([]string{"127.0.0.0/8"}, "127.0.0.1:8080")
	ownAll := fence([]string{"127.0.0.0/8", "::1"}, "[::]:8080")
	for _, tc := range []struct {
		name  string
		fence *Fence
		dest  string
		want  string // "" when allowed
	}{
		{"public IPv4", byDefault, "93.184.215.14:443", ""},
		{"public IPv6", byDefault, "[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:443", ""},
		{"loopback", byDefault, "127.0.0.1:8080", "127.0.0.1:8080 is a loopback address; allow it in leadhost.toml script_http_allow"},
		{"loopback range", byDefault, "127.3.4.5:80", "is a loopback address"},
		{"IPv6 loopback", byDefault, "[::1]:80", "is a loopback address"},
		{"IPv4-mapped loopback", byDefault, "[::ffff:127.0.0.1]:80", "is a loopback address"},
		{"NAT64 loopback", byDefault, "[64:ff9b::7f00:1]:80", "is a loopback address"},
		{"10/8", byDefault, "10.0.0.1:80", "is a private address"},
		{"172.16/12", byDefault, "172.16.5.4:80", "is a private address"},
		{"192.168/16", byDefault, "192.168.1.1:80", "is a private address"},
		{"ULA", byDefault, "[fd12::1]:80", "is a private address"},
		{"cloud metadata", byDefault, "169.254.169.254:80", "is a link-local address"},
		{"IPv6 link-local", byDefault, "[fe80::1]:80", "is a link-local address"},
		{"unspecified", byDefault, "0.0.0.0:8080", "is an unspecified address"},
		{"this network", byDefault, "0.1.2.3:8080", "is an unspecified address"},
		{"IPv6 unspecified", byDefault, "[::]:8080", "is an unspecified address"},
		{"multicast", byDefault, "224.0.0.1:80", "is a multicast address"},
		{"IPv6 multicast", byDefault, "[ff02::1]:80", "is a multicast address"},
		{"broadcast", byDefault, "255.255.255.255:80", "is a broadcast address"},
		{"shared", byDefault, "100.64.0.1:80", "is a shared (carrier-grade NAT) address"},
		{"allowed address", operator, "10.1.2.3:443", ""},
		{"its neighbour", operator, "10.1.2.4:443", "is a private address"},
		{"allowed range", operator, "192.168.7.7:80", ""},
		{"allowed IPv6 range", operator, "[fd00::5]:80", ""},
		{"allowed port", operator, "127.0.0.1:9000", ""},
		{"another port", operator, "127.0.0.1:9001", "is a loopback address"},
		{"public beside a list", operator, "93.184.215.14:80", ""},
		{"own listener, though allowed", ownLoopback, "127.0.0.1:8080", "127.0.0.1:8080 is this host's own listener (leadhost's webhooks and admin API); scripts may not call it"},
		{"another port of an allowed range", ownLoopback, "127.0.0.1:8081", ""},
		{"own listener on every address, IPv4", ownAll, "127.0.0.1:8080", "is this host's own listener"},
		{"own listener on every address, IPv6", ownAll, "[::1]:8080", "is this host's own listener"},
		{"own listener on every address, 0.0.0.0", ownAll, "0.0.0.0:8080", "is this host's own listener"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ap := netip.MustParseAddrPort(tc.dest)
			err := tc.fence.Check(tc.dest, ap)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// script_http_allow entries that are not an address, a range or an
// address and port are refused when the settings load.
func TestNewFenceRefusesBadEntries(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"partner.local", "10.0.0.0/33", "127.0.0.1:0", "127.0.0.1:x", ""} {
		if _, err := NewFence([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Issue 12, point 2: a hook's http.request to 127.0.0.1, to a name that
// resolves to loopback ("localhost"), or to leadhost's own listener even
// where loopback is allowed, is a Lua error with the script's file and
// line, and nothing reaches the server. (On today's main each request
// reached it.)
func TestHTTPRequestFenced(t *testing.T) {
	t.Parallel()
	var reached atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	st := openStore(t)
	own, err := NewFence([]string{"127.0.0.0/8", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	own.SetListeners(srv.Listener.Addr()) // as if srv were leadhost itself
	for _, tc := range []struct {
		name  string
		fence *Fence
		url   string
		want  string
	}{
		{"loopback", nil, srv.URL + "/api/leads/1", "hooks/h.lua:3: http.request: " + srv.Listener.Addr().String() + " is a loopback address; allow it in leadhost.toml script_http_allow"},
		{"a name for loopback", nil, "http://localhost:" + strconv.Itoa(port) + "/", "hooks/h.lua:3: http.request: localhost:" + strconv.Itoa(port) + " (127.0.0.1) is a loopback address"},
		{"own listener", own, srv.URL + "/api/leads/1", "hooks/h.lua:3: http.request: " + srv.Listener.Addr().String() + " is this host's own listener (leadhost's webhooks and admin API); scripts may not call it"},
		{"own listener by name", own, "http://localhost:" + strconv.Itoa(port) + "/", "is this host's own listener"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := NewPool(Limits{Timeout: 2 * time.Second, Fence: tc.fence})
			s, err := Compile("hooks/h.lua", []byte(`
				-- a hook reaching for the admin API, as in the issue
				local r, why = http.request{ method = "PATCH", url = "`+tc.url+`", body = '{"status":5,"reason":6}' }
				return r and "reached" or why`))
			if err != nil {
				t.Fatal(err)
			}
			res, err := pool.RunHook(context.Background(), s, Hook{Store: st, Offer: "acme", Request: HookRequest{Method: "POST"}})
			if err == nil {
				t.Fatalf("not refused: %s", res.Reply.Body)
			}
			got := err.Error()
			if strings.HasPrefix(tc.name, "a name") && strings.Contains(got, "(::1)") {
				got = strings.Replace(got, "(::1)", "(127.0.0.1)", 1) // localhost may resolve to either first
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("got %v\nwant %q", err, tc.want)
			}
		})
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("the server was reached %d times", n)
	}
}

// DNS rebinding: a name that answers a public address to the check and
// loopback the next time gains nothing, because the fence resolves once
// per connection and connects only to what it checked. Were the name
// resolved again to connect, the second answer would reach the server.
// (192.0.2.1 is a documentation address: public to the fence, routed
// nowhere, so its dial fails.)
func TestFenceResolvesOnce(t *testing.T) {
	t.Parallel()
	var reached atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
	defer srv.Close()
	target := "rebind.example:" + strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	public, loopback := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("127.0.0.1")
	for _, tc := range []struct {
		name    string
		answers [][]netip.Addr // one per lookup; the last repeats
		refused bool
	}{
		{"public, then loopback", [][]netip.Addr{{public}, {loopback}}, false},
		{"loopback and public in one answer", [][]netip.Addr{{loopback, public}}, false},
		{"loopback, then public", [][]netip.Addr{{loopback}, {public}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var lookups atomic.Int32
			f, _ := NewFence(nil)
			f.Lookup = func(ctx context.Context, network, host string) ([]netip.Addr, error) {
				n := int(lookups.Add(1))
				return tc.answers[min(n, len(tc.answers))-1], nil
			}
			conn, err := f.Dial(target, 300*time.Millisecond)
			if conn != nil {
				conn.Close()
				t.Fatalf("connected to %s", conn.RemoteAddr())
			}
			var refused *RefusedError
			if errors.As(err, &refused) != tc.refused {
				t.Errorf("refused = %v, want %v: %v", !tc.refused, tc.refused, err)
			}
			if n := lookups.Load(); n != 1 {
				t.Errorf("%d lookups for one connection, want 1", n)
			}
		})
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("the loopback server was reached %d times", n)
	}
}

// A serve listening on every address (":8080") is its own listener on
// this machine's other addresses too, even where script_http_allow lets
// their range in.
func TestFenceOwnListenerOnEveryLocalAddress(t *testing.T) {
	t.Parallel()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("no interface addresses here: %v", err)
	}
	var local netip.Addr
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && !ip.Unmap().IsLoopback() {
				local = ip.Unmap()
				break
			}
		}
	}
	if !local.IsValid() {
		t.Skip("this machine has no address but loopback")
	}
	f, err := NewFence([]string{local.String()})
	if err != nil {
		t.Fatal(err)
	}
	f.SetListeners(&net.TCPAddr{IP: net.IPv6unspecified, Port: 8080})
	if err := f.Check("", netip.AddrPortFrom(local, 8080)); err == nil || !strings.Contains(err.Error(), "own listener") {
		t.Errorf("%s:8080: %v, want this host's own listener", local, err)
	}
	if err := f.Check("", netip.AddrPortFrom(local, 9090)); err != nil {
		t.Errorf("%s:9090, allowed: %v", local, err)
	}
}

package script

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fence says where a script's http.request may connect. A script is
// written by an integration author, not by the operator, and runs inside
// the host: without a fence it could call leadhost's own admin API from
// loopback (and change another offer's leads), the cloud's metadata
// service, or anything on the operator's private network. So the fence
// refuses loopback, private (RFC 1918, fc00::/7), link-local, shared
// (100.64.0.0/10), unspecified, multicast and broadcast addresses unless
// the operator allows an address or range in leadhost.toml
// (script_http_allow), and refuses leadhost's own listeners always.
//
// The check is made on the address actually dialed, after the name is
// resolved: the fence resolves once, checks every address and connects
// to one it checked, so a name that answers a public address to a check
// and 127.0.0.1 to the connection (DNS rebinding) gains nothing. Every
// connection the client makes goes through it, so a redirect, were one
// followed, would be checked the same way.
//
// A nil *Fence is the default fence: nothing allowed beyond public
// addresses, no listener known.
type Fence struct {
	allow []allowance // fixed at NewFence
	// Lookup resolves a name (nil: net.DefaultResolver.LookupNetIP);
	// tests give a resolver that answers differently each time.
	Lookup func(ctx context.Context, network, host string) ([]netip.Addr, error)

	mu  sync.RWMutex
	own []netip.AddrPort // leadhost's listeners; an unspecified address stands for every local one
}

// allowance is one entry of script_http_allow: a range, and a port or 0
// for any.
type allowance struct {
	prefix netip.Prefix
	port   uint16
}

// NewFence makes a fence allowing the given addresses or ranges besides
// public addresses: "10.1.2.3", "192.168.0.0/16", "fd00::/8", or one
// port of an address, "127.0.0.1:9000" or "[::1]:9000".
func NewFence(allow []string) (*Fence, error) {
	f := &Fence{}
	for _, a := range allow {
		al, err := parseAllowance(a)
		if err != nil {
			return nil, err
		}
		f.allow = append(f.allow, al)
	}
	return f, nil
}

func parseAllowance(s string) (allowance, error) {
	bad := fmt.Errorf("%q: want an address, a range (10.0.0.0/8) or an address and port (127.0.0.1:9000)", s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return allowance{}, bad
		}
		return allowance{prefix: p.Masked()}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return allowance{prefix: netip.PrefixFrom(a, a.BitLen())}, nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Port() == 0 {
		return allowance{}, bad
	}
	a := ap.Addr().Unmap()
	return allowance{prefix: netip.PrefixFrom(a, a.BitLen()), port: ap.Port()}, nil
}

// SetListeners tells the fence leadhost's own listen addresses, which no
// script may reach whatever script_http_allow says (serve calls it once
// it listens).
func (f *Fence) SetListeners(addrs ...net.Addr) {
	var own []netip.AddrPort
	for _, a := range addrs {
		if tcp, ok := a.(*net.TCPAddr); ok {
			ap := tcp.AddrPort()
			own = append(own, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
		}
	}
	f.mu.Lock()
	f.own = own
	f.mu.Unlock()
}

// RefusedError is a destination the fence refuses, in words a script
// author can act on.
type RefusedError struct {
	Target string     // host:port as the script named it
	Addr   netip.Addr // the address it resolved to
	Why    string     // "is a loopback address"
	Own    bool       // leadhost's own listener: no setting allows it
}

func (e *RefusedError) Error() string {
	target := e.Target
	if host, _, err := net.SplitHostPort(e.Target); err == nil && host != e.Addr.String() && host != "["+e.Addr.String()+"]" {
		target += " (" + e.Addr.String() + ")"
	}
	if e.Own {
		return fmt.Sprintf("%s %s; scripts may not call it", target, e.Why)
	}
	return fmt.Sprintf("%s %s; allow it in leadhost.toml script_http_allow", target, e.Why)
}

// Check says why a script may not connect to ap (target is how the
// script named it), or nil.
func (f *Fence) Check(target string, ap netip.AddrPort) error {
	ip := ap.Addr().Unmap()
	if f.isOwn(ip, ap.Port()) {
		return &RefusedError{Target: target, Addr: ip, Why: "is this host's own listener (leadhost's webhooks and admin API)", Own: true}
	}
	why := internal(ip)
	if why == "" || f.allows(ip, ap.Port()) {
		return nil
	}
	return &RefusedError{Target: target, Addr: ip, Why: "is " + why}
}

func (f *Fence) allows(ip netip.Addr, port uint16) bool {
	if f == nil {
		return false
	}
	for _, a := range f.allow {
		if a.prefix.Contains(ip) && (a.port == 0 || a.port == port) {
			return true
		}
	}
	return false
}

// isOwn says whether ip:port is one of leadhost's listeners. A listener
// on an unspecified address (":8080") is reached on every address of
// this machine.
func (f *Fence) isOwn(ip netip.Addr, port uint16) bool {
	if f == nil {
		return false
	}
	f.mu.RLock()
	own := f.own
	f.mu.RUnlock()
	for _, l := range own {
		if l.Port() != port {
			continue
		}
		if l.Addr() == ip || (l.Addr().IsUnspecified() && (ip.IsLoopback() || ip.IsUnspecified() || isLocal(ip))) {
			return true
		}
	}
	return false
}

// isLocal says whether ip is an address of one of this machine's
// interfaces.
func isLocal(ip netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true // unknown: refusing is the safe answer for a listener's port
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if local, ok := netip.AddrFromSlice(n.IP); ok && local.Unmap() == ip {
				return true
			}
		}
	}
	return false
}

var (
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	shared      = netip.MustParsePrefix("100.64.0.0/10")
	broadcast   = netip.MustParseAddr("255.255.255.255")
	siteLocal   = netip.MustParsePrefix("fec0::/10")
	nat64       = netip.MustParsePrefix("64:ff9b::/96")
)

// internal names the kind of a non-public address ("a loopback
// address"), or "" for a public one.
func internal(ip netip.Addr) string {
	if nat64.Contains(ip) {
		// NAT64 carries an IPv4 address in its last four bytes: judged as that.
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte(b[12:]))
	}
	switch {
	case !ip.IsValid():
		return "not an address"
	case ip.IsUnspecified() || (ip.Is4() && thisNetwork.Contains(ip)):
		return "an unspecified address"
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsPrivate() || siteLocal.Contains(ip):
		return "a private address"
	case ip.IsLinkLocalUnicast():
		return "a link-local address"
	case ip == broadcast:
		return "a broadcast address"
	case ip.IsMulticast():
		return "a multicast address"
	case shared.Contains(ip):
		return "a shared (carrier-grade NAT) address"
	}
	return ""
}

// defaultDialTimeout bounds a connection attempt fasthttp starts without
// a deadline of its own (its own default).
const defaultDialTimeout = 3 * time.Second

// Dial is a fasthttp DialFuncWithTimeout: it resolves addr ("host:port")
// once, keeps the addresses the fence lets through and connects to the
// first that answers. When it lets none through, the error is a
// *RefusedError.
func (f *Fence) Dial(addr string, timeout time.Duration) (net.Conn, error) {
	if timeout <= 0 {
		timeout = defaultDialTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("%s: bad port", addr)
	}
	lookup := net.DefaultResolver.LookupNetIP
	if f != nil && f.Lookup != nil {
		lookup = f.Lookup
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = lookup(ctx, "ip", host); err != nil {
		return nil, err
	}
	var refused error
	var ok []netip.AddrPort
	for _, ip := range ips {
		ap := netip.AddrPortFrom(ip.Unmap(), uint16(port))
		if err := f.Check(addr, ap); err != nil {
			if refused == nil {
				refused = err
			}
			continue
		}
		ok = append(ok, ap)
	}
	if len(ok) == 0 {
		if refused == nil {
			refused = fmt.Errorf("%s: no address", host)
		}
		return nil, refused
	}
	// IPv4 first, as fasthttp's own dialer does by default: IPv6 is still
	// broken on many networks.
	var errs []error
	for _, v4 := range []bool{true, false} {
		for _, ap := range ok {
			if ap.Addr().Is4() != v4 {
				continue
			}
			var d net.Dialer
			conn, err := d.DialContext(ctx, "tcp", ap.String())
			if err == nil {
				return conn, nil
			}
			errs = append(errs, err)
		}
	}
	return nil, errors.Join(errs...)
}

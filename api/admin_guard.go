package api

import (
	"bytes"
	"crypto/subtle"
	"net/netip"
	"strings"

	"github.com/valyala/fasthttp"
)

// isForwarding says whether a header name (any case) says the request
// was passed on by a proxy, a CDN or a load balancer. Present is enough,
// even empty: a proxy that writes one with nothing in it is still a
// proxy. Whole families count by their prefix: X-Forwarded-For/-Host/
// -Proto/-Port/-Server/-Prefix/-Ssl…, X-Original-Forwarded-For/-Host/
// -URL…, and Cloudflare's CF-Connecting-IP, CF-Ray and the rest of CF-*.
func isForwarding(name []byte) bool {
	n := strings.ToLower(string(name))
	for _, p := range []string{"x-forwarded-", "x-original-", "cf-"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	switch n {
	case "forwarded", "via",
		"x-real-ip", "x-client-ip", "client-ip", "true-client-ip",
		"fastly-client-ip", "fastly-ff", "x-cluster-client-ip", "x-proxyuser-ip",
		"akamai-origin-hop", "x-akamai-edgescape", "x-azure-clientip", "x-azure-socketip",
		"x-appengine-user-ip", "x-envoy-external-address", "x-host", "x-proxy-id", "x-rewrite-url":
		return true
	}
	return false
}

// adminRefusal says why the caller may not use the admin API or
// /metrics, in words that say what to do, or "" when it may.
//
// With a token set (--api-token, api_token), whoever shows it may.
//
// With none, reads (GET, HEAD) are served to a direct loopback client
// only: connected from loopback, asking for a loopback Host (localhost,
// 127.0.0.0/8, [::1], any port: so a DNS-rebound page of another name is
// refused), with no forwarding header at all (a proxy on this host
// connects from loopback on behalf of anyone) and no sign of a web page
// (Origin, or Sec-Fetch-Site other than same-origin or none).
//
// Changes (every other method) are not served without a token at all:
// a default nginx proxy_pass adds no forwarding header and sets Host to
// the upstream's address, so no rule on the request can tell it from a
// local client, and an anonymous change to leads is the worse harm.
// They need the serve's local token instead (LocalToken): made at each
// start and written only to leadhost-serve.json in the data folder
// (mode 0600), where leadhost's own CLI on this host reads it; what
// holds it can read the data folder anyway.
func (s *Server) adminRefusal(c *fasthttp.RequestCtx) string {
	if s.APIToken != "" {
		if !bearer(c, s.APIToken) {
			return "a valid Authorization: Bearer token is needed (the serve's --api-token or leadhost.toml api_token)"
		}
		return ""
	}
	if s.LocalToken != "" && bearer(c, s.LocalToken) {
		return ""
	}
	return s.tokenlessRefusal(c)
}

// tokenlessRefusal says why, with no api_token set, the request is not
// served without a token, or "" (a direct loopback read): adminRefusal's
// rules whatever token it shows.
func (s *Server) tokenlessRefusal(c *fasthttp.RequestCtx) string {
	method := string(c.Method())
	if method != fasthttp.MethodGet && method != fasthttp.MethodHead {
		return "with no api_token set, changes need the token serve keeps in its data folder's leadhost-serve.json (leadhost's CLI uses it); or set api_token in leadhost.toml and send it as Authorization: Bearer"
	}
	if !c.RemoteIP().IsLoopback() {
		return "with no api_token set, only clients on this host are served; set api_token in leadhost.toml and send it as Authorization: Bearer"
	}
	var forwarded []string
	c.Request.Header.VisitAll(func(k, _ []byte) {
		if isForwarding(k) {
			forwarded = append(forwarded, string(k))
		}
	})
	if len(forwarded) > 0 {
		return "with no api_token set, a request through a proxy (it carries " + strings.Join(forwarded, ", ") + ") is not served; set api_token in leadhost.toml and send it as Authorization: Bearer"
	}
	if !loopbackHost(c.Host()) {
		return "with no api_token set, only requests for a loopback host (localhost, 127.0.0.1, [::1]) are served, not Host " + quoteHost(c.Host()) + "; set api_token in leadhost.toml, or call http://127.0.0.1:PORT"
	}
	if present(&c.Request.Header, "Origin") {
		return "with no api_token set, a request from a web page (Origin) is not served; set api_token in leadhost.toml"
	}
	if site := c.Request.Header.Peek("Sec-Fetch-Site"); present(&c.Request.Header, "Sec-Fetch-Site") && !bytes.EqualFold(site, []byte("same-origin")) && !bytes.EqualFold(site, []byte("none")) {
		return "with no api_token set, a request from another site's page (Sec-Fetch-Site: " + string(site) + ") is not served; set api_token in leadhost.toml"
	}
	return ""
}

// present says whether the request has a header, empty or not (Peek
// cannot tell an empty one from none).
func present(h *fasthttp.RequestHeader, name string) bool {
	found := false
	h.VisitAll(func(k, _ []byte) {
		if !found && strings.EqualFold(string(k), name) {
			found = true
		}
	})
	return found
}

// bearer says whether the request shows token as its bearer token
// (the scheme's case does not matter), compared in constant time.
func bearer(c *fasthttp.RequestCtx, token string) bool {
	auth := c.Request.Header.Peek("Authorization")
	if len(auth) < 7 || !bytes.EqualFold(auth[:7], []byte("Bearer ")) {
		return false
	}
	return subtle.ConstantTimeCompare(bytes.TrimSpace(auth[7:]), []byte(token)) == 1
}

// loopbackHost says whether a Host header names this machine's loopback:
// localhost, an address in 127.0.0.0/8 or [::1], with or without a port.
func loopbackHost(h []byte) bool {
	host := string(h)
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		if strings.HasPrefix(host, "[") || strings.Count(host, ":") == 1 {
			host = host[:i]
		}
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback()
}

// quoteHost shows a Host header in a message, cut short.
func quoteHost(h []byte) string {
	if len(h) > 64 {
		h = append(h[:64:64], "…"...)
	}
	return `"` + strings.ToValidUTF8(string(h), "?") + `"`
}

package api

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// Issue 12, point 3: who the admin API and /metrics serve with no token
// set. Reads: a direct loopback client asking for a loopback Host, with
// no forwarding header (present counts, even empty), no Origin and no
// cross-site fetch metadata. Changes: only with serve's local token. On
// today's main the empty forwarding headers, X-Client-IP, True-Client-IP,
// CF-Connecting-IP, Via, a cross-site Sec-Fetch-Site, any Host and every
// change without a token were served.
func TestAdminWithoutTokenServesDirectLoopbackOnly(t *testing.T) {
	t.Parallel()
	a := openApp(t, "testdata/scripts")
	m := NewMetrics(a)
	base := serve(t, &Server{App: a, Log: slog.New(slog.DiscardHandler), LocalToken: localToken, Metrics: m})
	port := base[strings.LastIndex(base, ":")+1:]
	type header = map[string]string
	type guardCase struct {
		name         string
		method, path string
		host         string // "" = the address called
		header       header
		want         int
		why          string // in the refusal, any case
	}
	cases := []guardCase{
		{"direct", "GET", "/api/offers", "", nil, 200, ""},
		{"HEAD passes, the route takes GET", "HEAD", "/api/offers", "", nil, 405, ""},
		{"metrics direct", "GET", "/metrics", "", nil, 200, ""},
		{"Host localhost", "GET", "/api/offers", "localhost", nil, 200, ""},
		{"Host localhost:port", "GET", "/api/offers", "localhost:" + port, nil, 200, ""},
		{"Host LOCALHOST.", "GET", "/api/offers", "LOCALHOST.:" + port, nil, 200, ""},
		{"Host 127.9.9.9", "GET", "/api/offers", "127.9.9.9", nil, 200, ""},
		{"Host [::1]:port", "GET", "/api/offers", "[::1]:" + port, nil, 200, ""},
		{"Host [::1]", "GET", "/api/offers", "[::1]", nil, 200, ""},
		{"Host a rebound name", "GET", "/api/journal?raw=1", "evil.example:" + port, nil, 401, `not Host \"evil.example:` + port},
		{"Host a name", "GET", "/api/offers", "leads.example", nil, 401, "only requests for a loopback host"},
		{"Host a name under 127.0.0.1", "GET", "/api/offers", "127.0.0.1.nip.io", nil, 401, "only requests for a loopback host"},
		{"Host a sub-domain of localhost", "GET", "/api/offers", "evil.localhost", nil, 401, "only requests for a loopback host"},
		{"Host a private address", "GET", "/api/offers", "10.0.0.1:" + port, nil, 401, "only requests for a loopback host"},
		{"metrics, Host a name", "GET", "/metrics", "evil.example", nil, 401, "metrics: with no api_token set, only requests for a loopback host"},
		{"Origin", "GET", "/api/offers", "", header{"Origin": "https://evil.example"}, 401, "from a web page (Origin)"},
		{"Origin null", "GET", "/api/offers", "", header{"Origin": "null"}, 401, "from a web page (Origin)"},
		{"Origin empty", "GET", "/api/offers", "", header{"Origin": ""}, 401, "from a web page (Origin)"},
		{"Sec-Fetch-Site cross-site", "GET", "/api/journal?raw=1", "", header{"Sec-Fetch-Site": "cross-site"}, 401, "Sec-Fetch-Site: cross-site"},
		{"Sec-Fetch-Site same-site", "GET", "/api/offers", "", header{"Sec-Fetch-Site": "same-site"}, 401, "Sec-Fetch-Site: same-site"},
		{"Sec-Fetch-Site same-origin", "GET", "/api/offers", "", header{"Sec-Fetch-Site": "same-origin"}, 200, ""},
		{"Sec-Fetch-Site none", "GET", "/api/offers", "", header{"Sec-Fetch-Site": "none"}, 200, ""},
		{"metrics cross-site", "GET", "/metrics", "", header{"Sec-Fetch-Site": "cross-site"}, 401, "metrics: "},
		{"a change without a token", "POST", "/api/leads", "", nil, 401, "changes need the token serve keeps in its data folder's leadhost-serve.json"},
		{"PATCH without a token", "PATCH", "/api/leads/1", "", nil, 401, "changes need the token"},
		{"DELETE without a token", "DELETE", "/api/leads/1", "", nil, 401, "changes need the token"},
		{"a change with the local token", "POST", "/api/leads", "", header{"Authorization": "Bearer " + localToken}, 400, ""},
		{"a change with another token", "POST", "/api/leads", "", header{"Authorization": "Bearer guess"}, 401, "changes need the token"},
		{"a read with the local token through a proxy", "GET", "/api/offers", "evil.example", header{"Authorization": "Bearer " + localToken, "X-Forwarded-For": "203.0.113.9"}, 200, ""},
	}
	for _, h := range []string{
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-Server",
		"X-Forwarded-Prefix", "Forwarded", "X-Real-IP", "X-Client-IP", "Client-IP", "True-Client-IP",
		"CF-Connecting-IP", "Fastly-Client-IP", "X-Cluster-Client-IP", "X-Original-Forwarded-For", "Via",
	} {
		cases = append(cases,
			guardCase{h, "GET", "/api/journal?raw=1", "", header{h: "203.0.113.9"}, 401, "a request through a proxy (it carries " + h},
			guardCase{h + " empty", "GET", "/api/offers", "", header{h: ""}, 401, "a request through a proxy (it carries " + h},
		)
	}
	cases = append(cases, guardCase{"metrics through a proxy", "GET", "/metrics", "", header{"X-Forwarded-For": ""}, 401, "metrics: with no api_token set, a request through a proxy"})

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, base+tc.path, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			for k, v := range tc.header {
				req.Header[k] = []string{v} // as written, empty or not
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%d %s, want %d", resp.StatusCode, body, tc.want)
			}
			if tc.want == 401 {
				if !strings.Contains(strings.ToLower(string(body)), strings.ToLower(tc.why)) {
					t.Errorf("refusal %s\nwithout %q", body, tc.why)
				}
				if resp.Header.Get("WWW-Authenticate") == "" {
					t.Error("a 401 without WWW-Authenticate")
				}
			}
		})
	}
}

// With a token set, whoever shows it is served, through a proxy or not,
// the scheme's case aside; the local token is not one then.
func TestAdminWithTokenServesWhoShowsIt(t *testing.T) {
	t.Parallel()
	base, _ := startAdmin(t, "tok")
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"no token", nil, 401},
		{"lower-case bearer", map[string]string{"Authorization": "bearer tok"}, 200},
		{"through a proxy", map[string]string{"Authorization": "Bearer tok", "X-Forwarded-For": "203.0.113.9", "Origin": "https://console.example"}, 200},
		{"a wrong token", map[string]string{"Authorization": "Bearer tok2"}, 401},
		{"the local token", map[string]string{"Authorization": "Bearer " + localToken}, 401},
	} {
		if code, _, body := call(t, "GET", base+"/api/offers", "", nil, tc.header); code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, code, body, tc.want)
		}
	}
}

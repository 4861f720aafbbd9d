package script

import (
	"bufio"
	"reflect"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestReadHookRequestCopiesTheCall holds ReadHookRequest's copy of the
// query and headers (cut from one string since issue 16) to the call:
// repeated names in order, the token left out (?token= and X-Token), empty values, escapes,
// the last of a repeated header. The copy must not change when the
// request it came from is reused (fasthttp reuses its buffers).
func TestReadHookRequestCopiesTheCall(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, raw string
		query     map[string][]string
		headers   map[string]string
	}{
		{"plain", "GET /hook/x?order=S1&phone=7999&token=secret HTTP/1.1\r\nHost: h\r\n\r\n",
			map[string][]string{"order": {"S1"}, "phone": {"7999"}}, map[string]string{"Host": "h"}},
		{"repeated names", "GET /hook/x?tag[]=a&n=1&tag[]=b&n=2&tag[]=c HTTP/1.1\r\nHost: h\r\n\r\n",
			map[string][]string{"tag[]": {"a", "b", "c"}, "n": {"1", "2"}}, map[string]string{"Host": "h"}},
		{"empty and escaped", "GET /hook/x?a=&b&email=ivan%40example.com&name=%D0%98%D0%B2%D0%B0%D0%BD&sp=a+b HTTP/1.1\r\nHost: h\r\n\r\n",
			map[string][]string{"a": {""}, "b": {""}, "email": {"ivan@example.com"}, "name": {"Иван"}, "sp": {"a b"}},
			map[string]string{"Host": "h"}},
		{"only the token", "GET /hook/x?token=secret HTTP/1.1\r\nHost: h\r\n\r\n", map[string][]string{}, map[string]string{"Host": "h"}},
		{"the token as a header", "GET /hook/x?order=S2 HTTP/1.1\r\nHost: h\r\nx-token: secret\r\nX-Tokens: kept\r\n\r\n",
			map[string][]string{"order": {"S2"}}, map[string]string{"Host": "h", "X-Tokens": "kept"}},
		{"no query", "GET /hook/x HTTP/1.1\r\nHost: h\r\nUser-Agent: ua\r\nX-Trace: 1\r\nX-Trace: 2\r\n\r\n",
			map[string][]string{}, map[string]string{"Host": "h", "User-Agent": "ua", "X-Trace": "2"}},
	} {
		var req fasthttp.Request
		if err := req.Read(bufio.NewReader(strings.NewReader(c.raw))); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		r, err := ReadHookRequest(&req, "10.0.0.1")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		req.Reset()
		if err := req.Read(bufio.NewReader(strings.NewReader("GET /hook/y?zzzzz=zzzzzzzzzzzzzzzzzzzzzzzzzzzzz HTTP/1.1\r\nHost: zzzzzzzzzzzzzzzzzzzzzz\r\n\r\n"))); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r.Query, c.query) {
			t.Errorf("%s: query %q, want %q", c.name, r.Query, c.query)
		}
		if !reflect.DeepEqual(r.Headers, c.headers) {
			t.Errorf("%s: headers %q, want %q", c.name, r.Headers, c.headers)
		}
		if r.Method != "GET" || r.IP != "10.0.0.1" || len(r.Body) != 0 {
			t.Errorf("%s: %q %q %q", c.name, r.Method, r.IP, r.Body)
		}
	}
}

package partner

import (
	"testing"

	"github.com/valyala/fasthttp"
)

func TestEncodeForm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		fields map[string][]string
		want   string
	}{
		{"names sorted, values escaped", map[string][]string{"phone": {"+7 999"}, "name": {"Иван"}}, "name=%D0%98%D0%B2%D0%B0%D0%BD&phone=%2B7+999"},
		{"arrays with readable brackets", map[string][]string{"ids[]": {"1", "2"}, "key": {"K"}}, "ids[]=1&ids[]=2&key=K"},
		{"an empty array sends nothing", map[string][]string{"ids[]": {}, "key": {"K"}}, "key=K"},
		{"a name that needs escaping", map[string][]string{"a&b": {"c=d"}}, "a%26b=c%3Dd"},
	} {
		if got := EncodeForm(tc.fields); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// Fields of a GET go into the query even when the URL has a fragment; an
// empty list is [] in JSON; a body on a GET is an error; a form POST and
// a GET carry the same text for the same fields.
func TestEncode(t *testing.T) {
	t.Parallel()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	fields := map[string][]string{"ids[]": {"1", "2"}, "key": {"K"}}
	if err := Encode(req, &Request{URL: "https://p.example/api?x=1#v2", Method: "GET", Fields: fields}, ""); err != nil ||
		string(req.URI().FullURI()) != "https://p.example/api?x=1&ids[]=1&ids[]=2&key=K" {
		t.Errorf("GET with a fragment: %s, %v", req.URI().FullURI(), err)
	}
	req.Reset()
	if err := Encode(req, &Request{URL: "https://p.example/api", Method: "POST", Fields: fields}, "form"); err != nil ||
		string(req.Body()) != "ids[]=1&ids[]=2&key=K" || string(req.Header.ContentType()) != "application/x-www-form-urlencoded" {
		t.Errorf("form POST: %s (%s), %v", req.Body(), req.Header.ContentType(), err)
	}
	req.Reset()
	if err := Encode(req, &Request{URL: "https://p.example/api", Method: "POST", Fields: map[string][]string{"ids[]": {}}}, "json"); err != nil || string(req.Body()) != `{"ids":[]}` {
		t.Errorf("empty list: %s, %v", req.Body(), err)
	}
	req.Reset()
	if err := Encode(req, &Request{URL: "https://p.example/api", Method: "GET", Body: `{"a":1}`}, ""); err == nil {
		t.Error("a body on a GET was accepted")
	}
	req.Reset()
	if err := Encode(req, &Request{URL: "ftp://p.example/", Method: "GET"}, ""); err == nil {
		t.Error("an ftp URL was accepted")
	}
}

package store

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestMaskContacts(t *testing.T) {
	for in, want := range map[string]string{
		"phone=%2B7%20(999)%20000-11-22&x=1":     "phone=%2B7***22&x=1",
		"call +7 (999) 000-11-22 now":            "call +7***22 now",
		"79990001122":                            "7***22",
		"phone=%2B7+%28999%29+000-11-22&n=1":     "phone=%2B7***22&n=1",
		"short 1234567 and 12:30":                "short 1234567 and 12:30",
		"email=ivan%40example.com":               "email=i***%40example.com",
		"ivan.petrov@mail.ru wrote":              "i***@mail.ru wrote",
		"order=GC-100500&cost=4990":              "order=GC-100500&cost=4990",
		"12 2024-01-02":                          "12 2024-01-02",
		"order_time=1793655000&x":                "order_time=1793655000&x",
		"79990001122 79990003344":                "7***22 7***44",
		"lead 12345 at 2026-11-22":               "lead 12345 at 2026-11-22",
		`{"phone":79990001122,"n":1}`:            `{"phone":"7***22","n":1}`,
		`{"phones": [79990001122, 79990003344]}`: `{"phones": ["7***22", "7***44"]}`,
		`{"at":1793655000}`:                      `{"at":1793655000}`,
	} {
		if got := MaskContacts(in); got != want {
			t.Errorf("MaskContacts(%q) = %q, want %q", in, got, want)
		}
	}
}

// Masked keeps Detail valid JSON (numbers untouched) and hides secrets.
func TestMaskedDetail(t *testing.T) {
	e := JournalEntry{Summary: "POST https://p.example/order?key=K3Y&flow=F", Detail: []byte(`{"duration_ns":30000000000,"body":"phone=79990001122","url":"https://p.example/?api_key=abc&x=1"}`)}
	m := e.Masked()
	if !json.Valid(m.Detail) || !strings.Contains(string(m.Detail), `"duration_ns":30000000000`) || strings.Contains(string(m.Detail), "79990001122") || strings.Contains(string(m.Detail), "abc") {
		t.Errorf("detail %s", m.Detail)
	}
	if m.Summary != "POST https://p.example/order?key=***&flow=F" {
		t.Errorf("summary %q", m.Summary)
	}
}

// Issue 12, point 12: every secret-like name, in a query, a form, JSON
// and headers, and phones as people write them, are masked; the rest of
// the text is left as it was.
func TestMaskSecretsEverywhere(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"GET /cb?access_token=abc123&x=1", "GET /cb?access_token=***&x=1"},
		{"client_secret=s3cr3t&grant_type=password", "client_secret=***&grant_type=password"},
		{"api_token=t0k&sig=deadbeef&n=2", "api_token=***&sig=***&n=2"},
		{"signature=ab12 apikey=zz9", "signature=*** apikey=***"},
		{`{"api_key":"abc","name":"Ivan","password":"hunter2"}`, `{"api_key":"***","name":"Ivan","password":"***"}`},
		{`{"Token": "a\"b", "count": 3}`, `{"Token": "***", "count": 3}`},
		{"POST /hook/x\nAuthorization: Bearer eyJhbGci\nCookie: sid=42; lang=ru\nX-Api-Key: k-77\nContent-Type: text/plain", "POST /hook/x\nAuthorization: ***\nCookie: ***\nX-Api-Key: ***\nContent-Type: text/plain"},
		{"order=GC-1&monkey_business=1", "order=GC-1&monkey_business=1"},
		{"design=blue&keyword=shoes", "design=blue&keyword=shoes"},
		{"call 900.123.4567 now", "call 9***67 now"},
		{"tel +7 9001-23-45-67.", "tel +7***67."},
		{"2026-12-06 79001234567", "2026-12-06 7***67"},
		{"paid 4990.00 on 2026-12-06", "paid 4990.00 on 2026-12-06"},
		{"from 203.0.113.7", "from 203.0.113.7"},
		{`{"otp": 123456, "pin": 4321, "count": 3}`, `{"otp": "***", "pin": "***", "count": 3}`},
		{"X_API_KEY: k1", "X_API_KEY: ***"},
		{`{"data":"{\"api_key\":\"abc123secret\",\"n\":1,\"sig\":42}"}`, `{"data":"{\"api_key\":\"***\",\"n\":1,\"sig\":\"***\"}"}`},
		{`api_key='quoted value' password="two words" name='Ivan Petrov'`, `api_key=*** password=*** name='Ivan Petrov'`},
		// Review: masking never joins JSON strings nor swallows fields.
		{`{"callback":"https://p/cb?a=1&token=","n":1,"name":"Ivan"}`, `{"callback":"https://p/cb?a=1&token=","n":1,"name":"Ivan"}`},
		{`{"msg":"key='abc","x":"y'"}`, `{"msg":"key=***","x":"y'"}`},
		{`{"data":"{\"api_key\":\"abc… (cut)","other":"see \"x\"","n":2}`, `{"data":"{\"api_key\":\"abc… (cut)","other":"see \"x\"","n":2}`},
		{`{"d":"{\"api_key\":\"a\\\"b\",\"n\":1}"}`, `{"d":"{\"api_key\":\"***\",\"n\":1}"}`},
	} {
		if got := Mask(tc.in); got != tc.want {
			t.Errorf("Mask(%q)\n = %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

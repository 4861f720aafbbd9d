package store

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestMaskContacts(t *testing.T) {
	for in, want := range map[string]string{
		"phone=%2B7%20(999)%20000-11-22&x=1": "phone=%2B7***22&x=1",
		"call +7 (999) 000-11-22 now":        "call +7***22 now",
		"79990001122":                        "7***22",
		"phone=%2B7+%28999%29+000-11-22&n=1": "phone=%2B7***22&n=1",
		"short 1234567 and 12:30":            "short 1234567 and 12:30",
		"email=ivan%40example.com":           "email=i***%40example.com",
		"ivan.petrov@mail.ru wrote":          "i***@mail.ru wrote",
		"order=GC-100500&cost=4990":          "order=GC-100500&cost=4990",
		"12 2024-01-02":                      "12 2024-01-02",
		"order_time=1793655000&x":            "order_time=1793655000&x",
		"79990001122 79990003344":            "7***22 7***44",
		"lead 12345 at 2026-11-22":           "lead 12345 at 2026-11-22",
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

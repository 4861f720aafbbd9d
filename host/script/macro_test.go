package script

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"leadhost/store"
)

func testMacros(t testing.TB) Macros {
	msk, err := time.LoadLocation("Europe/Moscow")
	if err != nil {
		t.Fatal(err)
	}
	m := IDMacros([]*store.Lead{{ID: 1, Ext: "A-1"}, {ID: 2}, {ID: 30, Ext: "c&d"}})
	// 21:30 UTC on 2 November is 00:30 on 3 November in Moscow.
	for k, v := range DateMacros(time.Date(2026, 11, 2, 21, 30, 0, 0, time.UTC), time.Date(2026, 11, 9, 20, 59, 59, 0, time.UTC), msk) {
		m.Values[k] = v
	}
	return m
}

func TestExpandURL(t *testing.T) {
	m := testMacros(t)
	for _, tc := range []struct{ tmpl, want string }{
		{"https://crm.example/s?ids={idsl}", "https://crm.example/s?ids=1%2C2%2C30"},
		{"https://crm.example/s?ids={idel}", "https://crm.example/s?ids=A-1%2Cc%26d"}, // a lead not sent yet has no ext
		{"https://crm.example/s?a={from}&b={to}&c={tom}", "https://crm.example/s?a=2026-11-03&b=2026-11-09&c=2026-11-10"},
		{"https://crm.example/s?a={ffrom}&b={fto}", "https://crm.example/s?a=2026-11-03+00%3A30%3A00&b=2026-11-09+23%3A59%3A59"},
		{"https://crm.example/s?a={ufrom}&b={uto}&c={utom}", "https://crm.example/s?a=1793655000&b=1794257999&c=1794258000"},
		{"https://crm.example/s?end={ftom}", "https://crm.example/s?end=2026-11-10+00%3A00%3A00"}, // the instant after the range
		// In the path a space is %20, not +.
		{"https://crm.example/range/{ffrom}/{ids}?x=1", "https://crm.example/range/2026-11-03%2000:30:00/1%2C2%2C30?x=1"},
		// Unknown names, JSON-looking braces and unclosed ones stay text.
		{"https://crm.example/s?q={nope}&j={\"a\":1}&u={idsl", "https://crm.example/s?q={nope}&j={\"a\":1}&u={idsl"},
		{"https://crm.example/{}{{idsl}}", "https://crm.example/{}{1%2C2%2C30}"},
		{"", ""},
	} {
		if got := m.ExpandURL(tc.tmpl); got != tc.want {
			t.Errorf("ExpandURL(%q)\n got %q\nwant %q", tc.tmpl, got, tc.want)
		}
	}
}

func TestExpandFields(t *testing.T) {
	m := testMacros(t)
	got := m.ExpandFields(map[string]string{
		"ids": "{ids}", "ext[]": "{ide}", "list": "ids: {idsl}", "from": "{ffrom}", "key": "K{", "inline": "x{ids}",
	})
	want := map[string][]string{
		"ids[]": {"1", "2", "30"}, "ext[]": {"A-1", "c&d"}, "list": {"ids: 1,2,30"}, "from": {"2026-11-03 00:30:00"},
		"key": {"K{"}, "inline": {"x1,2,30"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ExpandFields\n got %v\nwant %v", got, want)
	}
}

func TestUnknownMacros(t *testing.T) {
	got := UnknownMacros("https://x/{idsl}/{idsll}?a={from}&b={FROM}&c={\"json\":1}&d={field:name}", CheckMacros)
	if want := []string{"{idsll}", "{FROM}", "{field:name}"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// FuzzExpandURL: any template expands without panicking; values are
// never expanded again; what the template holds outside macros survives;
// and a value lands in the query as one parameter that reads back as
// itself.
func FuzzExpandURL(f *testing.F) {
	for _, s := range []string{"https://crm.example/s?ids={idsl}&x={ffrom}", "{", "}{", "{{idsl}}", "https://x/{from}/{to}?a={tom}", "?{idel}&{idel}"} {
		f.Add(s, "1,2")
	}
	f.Fuzz(func(t *testing.T, tmpl, value string) {
		m := Macros{Values: map[string]string{"idsl": value, "from": "{idsl}"}}
		out := m.ExpandURL(tmpl)
		if !strings.Contains(tmpl, "{") && out != tmpl {
			t.Fatalf("a template without macros changed: %q → %q", tmpl, out)
		}
		if strings.Contains(tmpl, "?{from}") && !strings.Contains(out, "%7Bidsl%7D") {
			t.Fatalf("a value was expanded again: %q → %q", tmpl, out)
		}
		if base := "https://crm.example/s?v="; !strings.Contains(tmpl, "{") && !strings.Contains(tmpl, "#") {
			u, err := url.Parse(m.ExpandURL(base + "{idsl}"))
			if err != nil || u.Query().Get("v") != value || len(u.Query()) != 1 {
				t.Fatalf("value %q did not travel as one parameter: %v %v", value, u, err)
			}
		}
	})
}

package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseMoney(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"12.10", "12.10"}, {"12.1", "12.1"}, {"0", "0"}, {"-3", "-3"}, {"+7.5", "7.5"},
		{"0.000001", "0.000001"}, {"1,5", "1.5"}, {".5", "0.5"}, {"5.", "5"},
		{"1.50000000", "1.500000"}, {" 42 ", "42"}, {"999999999999.999999", "999999999999.999999"},
	} {
		m, err := ParseMoney(tc.in)
		if err != nil || m.String() != tc.want {
			t.Errorf("ParseMoney(%q) = %s, %v; want %s", tc.in, m, err, tc.want)
		}
	}
	for _, bad := range []string{"", "-", ".", "1e5", "abc", "1.2.3", "0.0000001", "1000000000000", "NaN", "12 000"} {
		if m, err := ParseMoney(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseMoney(%q) = %s, %v; want ErrInvalid", bad, m, err)
		}
	}
	if !money(t, "12.1").Equal(money(t, "12.10")) || money(t, "12.1").Equal(money(t, "12.01")) {
		t.Error("Equal compares by value")
	}
	if m, err := MoneyFromFloat(12.1); err != nil || m.String() != "12.1" {
		t.Errorf("MoneyFromFloat(12.1) = %s, %v", m, err)
	}
}

func TestMoneyJSON(t *testing.T) {
	t.Parallel()
	var m Money
	for in, want := range map[string]string{`"12.10"`: "12.10", `12.10`: "12.10", `0.1`: "0.1"} {
		if err := m.UnmarshalJSON([]byte(in)); err != nil || m.String() != want {
			t.Errorf("unmarshal %s = %s, %v", in, m, err)
		}
	}
	if err := m.UnmarshalJSON([]byte(`1e3`)); err == nil {
		t.Error("exponent accepted")
	}
	if out, _ := MoneyFromUnits(1210, 2).MarshalJSON(); string(out) != `"12.10"` {
		t.Errorf("marshal = %s", out)
	}
}

func TestCurrency(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Currency{"RUB": 643, "rub": 643, "USD": 840, "643": 643, "KZT": 398} {
		if c, err := ParseCurrency(in); err != nil || c != want {
			t.Errorf("ParseCurrency(%q) = %d, %v", in, c, err)
		}
	}
	for _, bad := range []string{"XXX", "", "999", "0", "-1"} {
		if _, err := ParseCurrency(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseCurrency(%q) accepted", bad)
		}
	}
}

func TestLeadCodecRoundTrip(t *testing.T) {
	t.Parallel()
	l := &Lead{ID: 1 << 40, Offer: "acme", Ext: "ext-1", Status: StatusCancel, Reason: ReasonFraud,
		HoldUntil: t0.Add(time.Hour), Comment: "привет", Base: MoneyFromUnits(1210, 2), Counts: 3,
		Curr: 643, Goal: 7, Track: "RA123", Cash: Cash{WM: MoneyFromUnits(-5, 1), Pay: MoneyFromUnits(300, 0), CC: 840},
		Fields: map[string]string{"name": "Иван", "phone": "79990001122"}, Created: t0, Updated: t0.Add(time.Minute),
		AcceptedAt: t0.Add(2 * time.Minute), Rev: 9}
	got, err := decodeLead(encodeLead(nil, l))
	if err != nil {
		t.Fatal(err)
	}
	if string(encodeLead(nil, got)) != string(encodeLead(nil, l)) || got.Base.String() != "12.10" || got.Fields["name"] != "Иван" {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, l)
	}
	enc := encodeLead(nil, l)
	for cut := 0; cut < len(enc); cut++ {
		if _, err := decodeLead(enc[:cut]); err == nil {
			t.Fatalf("a record cut at %d of %d bytes decoded", cut, len(enc))
		}
	}
}

func TestDecodePatch(t *testing.T) {
	t.Parallel()
	p, err := DecodePatch(strings.NewReader(`{"accept":1,"base":"12.10","curr":"RUB","cash":{"pay":300.5,"cc":840}}`))
	if err != nil || !p.Accept || p.Base.String() != "12.10" || *p.Curr != 643 || p.Cash.Pay.String() != "300.5" || *p.Cash.CC != 840 {
		t.Errorf("patch %+v, %v", p, err)
	}
	p, err = DecodePatch(strings.NewReader(`{"hold":3,"status":"hold"}`))
	if err != nil || p.Hold.Days != 3 || *p.Status != StatusHold {
		t.Errorf("hold patch %+v, %v", p, err)
	}
	if p, err = DecodePatch(strings.NewReader(`{"hold":true}`)); err != nil || p.Hold == nil || p.Hold.Days != 0 {
		t.Errorf("hold true: %+v, %v", p, err)
	}
	for _, bad := range []string{
		`{"colour":"red"}`, `{"status":13}`, `{"status":0}`, `{"accept":"yes"}`, `{"hold":-1}`,
		`{"counts":"two"}`, `{"curr":"XXX"}`, `{"base":"1e3"}`, `[]`, `{`, `{"cash":{"tip":1}}`,
	} {
		if _, err := DecodePatch(strings.NewReader(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("DecodePatch(%s): err = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestAddValidates(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{})
	ctx := t.Context()
	for name, nl := range map[string]NewLead{
		"no offer":         {},
		"offer with NUL":   {Offer: "a\x00b"},
		"status 13":        {Offer: "acme", Status: 13},
		"reason without 5": {Offer: "acme", Reason: 6},
		"unknown reason":   {Offer: "acme", Status: 5, Reason: 99},
		"negative counts":  {Offer: "acme", Counts: -2},
		"unknown currency": {Offer: "acme", Curr: 5},
		"unknown goal":     {Offer: "acme", Goal: 12},
		"empty field name": {Offer: "acme", Fields: map[string]string{"": "x"}},
	} {
		if _, _, err := s.Add(ctx, nl); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	mustAdd(t, s, NewLead{Offer: "acme", Ext: "E"})
	if _, _, err := s.Add(ctx, NewLead{Offer: "acme", Ext: "E"}); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate ext: err = %v, want ErrExists", err)
	}
	page, _ := s.List(ctx, Query{})
	if len(page.Leads) != 1 {
		t.Errorf("rejected adds stored leads: %d", len(page.Leads))
	}
	imported := mustAdd(t, s, NewLead{Offer: "acme", Status: StatusPaid, Created: t0.Add(-48 * time.Hour), Ext: "old"})
	if !imported.AcceptedAt.Equal(imported.Created) || imported.Counts != 1 {
		t.Errorf("imported paid lead: %+v", imported)
	}
	mustVerify(t, s)
}

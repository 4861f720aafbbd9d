package store

import (
	"errors"
	"strings"
	"testing"
)

// TestBadInputSaysFieldWantAndGot holds what a person reads when a lead or
// a patch has a value of the wrong kind: the field, what it takes, and what
// was given, never a Go type or a Go time layout.
func TestBadInputSaysFieldWantAndGot(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, input, want string
		patch             bool
	}{
		{"patch base true", `{"base":true}`, `patch: base: want a money amount such as "4990" or "4990.50", got true`, true},
		{"patch cash pay true", `{"cash":{"pay":true}}`, `patch: cash.pay: want a money amount such as "4990" or "4990.50", got true`, true},
		{"patch base text", `{"base":"abc"}`, `patch: base: want a money amount such as "4990" or "4990.50", got "abc"`, true},
		{"patch base exponent", `{"base":1e3}`, `patch: base: want a money amount such as "4990" or "4990.50", got 1e3 (exponent notation is not exact)`, true},
		{"patch counts fraction", `{"counts":1.5}`, `patch: counts: want a whole number, got 1.5`, true},
		{"patch counts text", `{"counts":"2"}`, `patch: counts: want a whole number, got text`, true},
		{"lead created word", `{"offer":"altercpa","created":"yesterday"}`, `lead: created: want a time like 2026-12-07T06:00:00Z (RFC 3339), got "yesterday"`, false},
		{"lead created number", `{"offer":"altercpa","created":5}`, `lead: created: want a time like 2026-12-07T06:00:00Z (RFC 3339), got 5`, false},
		{"lead base true", `{"offer":"altercpa","base":true}`, `lead: base: want a money amount such as "4990" or "4990.50", got true`, false},
		{"lead counts fraction", `{"offer":"altercpa","counts":1.5}`, `lead: counts: want a whole number, got 1.5`, false},
		{"lead fields number", `{"offer":"altercpa","fields":{"a":1}}`, `lead: fields: want text, got a number`, false},
		{"lead unknown field", `{"offer":"altercpa","when":1}`, `lead: unknown field "when"`, false},
		{"lead cash currency list", `{"offer":"altercpa","cash":{"cc":[1]}}`, `lead: cash.cc: want a currency: an ISO code such as "RUB" or its id (643), got a list`, false},
		{"patch currency fraction", `{"curr":6.5}`, `patch: curr: want a currency: an ISO code such as "RUB" or its id (643), got 6.5`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var err error
			if c.patch {
				_, err = DecodePatch(strings.NewReader(c.input))
			} else {
				_, err = DecodeNewLead(strings.NewReader(c.input))
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%s: err = %v, want ErrInvalid", c.input, err)
			}
			if got := strings.TrimSuffix(err.Error(), ": "+ErrInvalid.Error()); got != c.want {
				t.Errorf("%s:\n got %s\nwant %s", c.input, got, c.want)
			}
		})
	}
}

// TestGoodInputStillDecodes holds that the time and money a lead takes
// decode as before.
func TestGoodInputStillDecodes(t *testing.T) {
	t.Parallel()
	nl, err := DecodeNewLead(strings.NewReader(`{"offer":"altercpa","created":"2026-12-07T06:00:00+03:00","base":"4990.50","cash":{"pay":12.1}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := nl.Created.UTC().Format("2006-01-02T15:04:05Z07:00"); got != "2026-12-07T03:00:00Z" {
		t.Errorf("created = %s", got)
	}
	if nl.Base.String() != "4990.50" || nl.Cash.Pay.String() != "12.1" {
		t.Errorf("base %s, cash.pay %s", nl.Base, nl.Cash.Pay)
	}
	if _, err := DecodeNewLead(strings.NewReader(`{"offer":"a","created":null}`)); err != nil {
		t.Errorf("created null: %v", err)
	}
}

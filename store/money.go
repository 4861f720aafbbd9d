package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Money is an exact decimal amount: "12.10" is stored as 1210 with two
// decimal places and printed back as "12.10", never as a float that rounds.
// The zero value is 0. Amounts keep up to 6 decimal places and an integer
// part below 10^12, which covers every price and payout a network sees and
// keeps arithmetic within int64.
type Money struct {
	units int64 // the amount times 10^scale
	scale uint8 // decimal places as given (0..6)
}

const (
	maxMoneyScale = 6
	maxMoneyInt   = 1_000_000_000_000 // exclusive bound of the integer part
)

var pow10 = [...]int64{1, 10, 100, 1000, 10_000, 100_000, 1_000_000}

// ParseMoney reads a decimal such as "12.10", "-3", "0.5" or "1,5" (a comma
// is taken as the decimal point, as Russian CRMs write it).
func ParseMoney(text string) (Money, error) {
	m, problem := parseMoney(text)
	if problem != "" {
		return Money{}, fmt.Errorf("amount %q: %s: %w", text, problem, ErrInvalid)
	}
	return m, nil
}

// Why an amount does not parse. The shape problems need no word beside "want
// a money amount"; the limits do, since the value looks like one.
const (
	moneyEmpty     = "empty"
	moneyNoDigits  = "no digits"
	moneyNotNumber = "not a decimal number"
	moneyTooLarge  = "too large"
)

var moneyTooPrecise = fmt.Sprintf("more than %d decimal places", maxMoneyScale)

// parseMoney is ParseMoney that says what is wrong in words ("" when
// nothing is), so that JSON decoding can name the field as well.
func parseMoney(text string) (Money, string) {
	s := strings.TrimSpace(text)
	if s == "" {
		return Money{}, moneyEmpty
	}
	neg := false
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	intPart, frac, hasPoint := strings.Cut(strings.Replace(s, ",", ".", 1), ".")
	if intPart == "" && (!hasPoint || frac == "") {
		return Money{}, moneyNoDigits
	}
	for len(frac) > maxMoneyScale && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	if len(frac) > maxMoneyScale {
		return Money{}, moneyTooPrecise
	}
	var units int64
	for i, part := range []string{intPart, frac} {
		for j := 0; j < len(part); j++ {
			c := part[j]
			if c < '0' || c > '9' {
				return Money{}, moneyNotNumber
			}
			units = units*10 + int64(c-'0')
			if i == 0 && units >= maxMoneyInt {
				return Money{}, moneyTooLarge
			}
		}
	}
	if neg {
		units = -units
	}
	return Money{units: units, scale: uint8(len(frac))}, ""
}

// MoneyFromFloat converts a number that arrived as a float (a Lua number, a
// JSON number) by its shortest decimal form, so 12.1 becomes exactly 12.1.
func MoneyFromFloat(f float64) (Money, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Money{}, fmt.Errorf("amount %v: not a number: %w", f, ErrInvalid)
	}
	return ParseMoney(strconv.FormatFloat(f, 'f', -1, 64))
}

// MoneyFromUnits builds an amount from an integer count of 10^-scale units.
func MoneyFromUnits(units int64, scale int) Money {
	if scale < 0 || scale > maxMoneyScale {
		panic("store: money scale out of range")
	}
	return Money{units: units, scale: uint8(scale)}
}

// IsZero reports whether the amount is zero.
func (m Money) IsZero() bool { return m.units == 0 }

// Sign returns -1, 0 or 1.
func (m Money) Sign() int {
	switch {
	case m.units < 0:
		return -1
	case m.units > 0:
		return 1
	}
	return 0
}

// Equal compares by value: 12.1 equals 12.10.
func (m Money) Equal(o Money) bool { return m.normalized() == o.normalized() }

func (m Money) normalized() int64 { return m.units * pow10[maxMoneyScale-m.scale] }

// String prints the amount with the decimal places it was given.
func (m Money) String() string {
	u := m.units
	neg := u < 0
	if neg {
		u = -u
	}
	digits := strconv.FormatInt(u, 10)
	if m.scale > 0 {
		if pad := int(m.scale) + 1 - len(digits); pad > 0 {
			digits = strings.Repeat("0", pad) + digits
		}
		cut := len(digits) - int(m.scale)
		digits = digits[:cut] + "." + digits[cut:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

// MarshalJSON writes the amount as a string ("12.10") so that no JSON
// reader turns it into a rounding float.
func (m Money) MarshalJSON() ([]byte, error) { return json.Marshal(m.String()) }

// UnmarshalJSON accepts a JSON number or a string; null leaves the amount
// as it is. What it refuses comes back as a *json.UnmarshalTypeError so
// that the decoder adds the field's name ("cash.pay") to the error.
func (m *Money) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if string(data) == "null" {
		return nil
	}
	text := string(data)
	switch {
	case len(data) > 0 && data[0] == '"':
		if json.Unmarshal(data, &text) != nil {
			return moneyTypeError(data, "")
		}
	case len(data) == 0 || data[0] != '-' && (data[0] < '0' || data[0] > '9'):
		return moneyTypeError(data, "") // true, a list, an object
	case bytes.ContainsAny(data, "eE"):
		return moneyTypeError(data, "exponent notation is not exact")
	}
	v, problem := parseMoney(text)
	switch problem {
	case "":
		*m = v
		return nil
	case moneyEmpty, moneyNoDigits, moneyNotNumber:
		return moneyTypeError(data, "")
	}
	return moneyTypeError(data, problem)
}

var moneyType = reflect.TypeFor[Money]()

// moneyTypeError says an amount was wanted and what came instead, with why
// when the value looks like an amount but is not one.
func moneyTypeError(data []byte, why string) error {
	got := jsonLiteral(data)
	if why != "" {
		got += " (" + why + ")"
	}
	return &json.UnmarshalTypeError{Value: got, Type: moneyType}
}

package store

import (
	"fmt"
	"strconv"
	"strings"
)

// Currency is the internal id of a currency: its ISO 4217 numeric code
// (RUB = 643, USD = 840), so ids are stable and known outside leadhost.
// Zero means "not set".
type Currency uint16

// iso4217 maps alphabetic codes to numeric ones for the currencies lead
// networks meet in practice.
var iso4217 = map[string]Currency{
	"AED": 784, "AFN": 971, "ALL": 8, "AMD": 51, "AOA": 973, "ARS": 32, "AUD": 36,
	"AZN": 944, "BAM": 977, "BDT": 50, "BGN": 975, "BHD": 48, "BOB": 68, "BRL": 986,
	"BTN": 64, "BWP": 72, "BYN": 933, "CAD": 124, "CHF": 756, "CLP": 152, "CNY": 156,
	"COP": 170, "CRC": 188, "CZK": 203, "DKK": 208, "DOP": 214, "DZD": 12, "EGP": 818,
	"ETB": 230, "EUR": 978, "GBP": 826, "GEL": 981, "GHS": 936, "GTQ": 320, "HKD": 344,
	"HNL": 340, "HUF": 348, "IDR": 360, "ILS": 376, "INR": 356, "IQD": 368, "IRR": 364,
	"ISK": 352, "JOD": 400, "JPY": 392, "KES": 404, "KGS": 417, "KHR": 116, "KRW": 410,
	"KWD": 414, "KZT": 398, "LAK": 418, "LBP": 422, "LKR": 144, "MAD": 504, "MDL": 498,
	"MGA": 969, "MKD": 807, "MMK": 104, "MNT": 496, "MUR": 480, "MXN": 484, "MYR": 458,
	"MZN": 943, "NAD": 516, "NGN": 566, "NIO": 558, "NOK": 578, "NPR": 524, "NZD": 554,
	"OMR": 512, "PAB": 590, "PEN": 604, "PHP": 608, "PKR": 586, "PLN": 985, "PYG": 600,
	"QAR": 634, "RON": 946, "RSD": 941, "RUB": 643, "SAR": 682, "SEK": 752, "SGD": 702,
	"SYP": 760, "THB": 764, "TJS": 972, "TMT": 934, "TND": 788, "TRY": 949, "TWD": 901,
	"TZS": 834, "UAH": 980, "UGX": 800, "USD": 840, "UYU": 858, "UZS": 860, "VES": 928,
	"VND": 704, "XAF": 950, "XOF": 952, "YER": 886, "ZAR": 710, "ZMW": 967,
}

var currencyCodes = func() map[Currency]string {
	m := make(map[Currency]string, len(iso4217))
	for code, id := range iso4217 {
		m[id] = code
	}
	return m
}()

// CurrencyID returns the internal id of an ISO 4217 alphabetic code
// ("rub" and "RUB" alike), as core.currency.id does.
func CurrencyID(iso string) (Currency, error) {
	if id, ok := iso4217[strings.ToUpper(strings.TrimSpace(iso))]; ok {
		return id, nil
	}
	return 0, fmt.Errorf("unknown currency %q: %w", iso, ErrInvalid)
}

// ParseCurrency accepts an alphabetic code ("RUB") or an internal id ("643").
func ParseCurrency(text string) (Currency, error) {
	if n, err := strconv.Atoi(strings.TrimSpace(text)); err == nil {
		return CurrencyByNumber(n)
	}
	return CurrencyID(text)
}

// CurrencyByNumber checks that n is the id of a known currency.
func CurrencyByNumber(n int) (Currency, error) {
	c := Currency(n)
	if n <= 0 || n > 999 || currencyCodes[c] == "" {
		return 0, fmt.Errorf("unknown currency %d: %w", n, ErrInvalid)
	}
	return c, nil
}

// Code returns the alphabetic ISO code, or "" for zero or an unknown id.
func (c Currency) Code() string { return currencyCodes[c] }

// String returns the alphabetic code, or the number if it has none.
func (c Currency) String() string {
	if code := currencyCodes[c]; code != "" {
		return code
	}
	return strconv.Itoa(int(c))
}

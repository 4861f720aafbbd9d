package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// jsonProblem says what is wrong with a JSON input (a lead, a patch) in
// the user's terms: the field and what it holds, never a Go type. It wraps
// ErrInvalid.
func jsonProblem(what string, err error) error {
	if errors.Is(err, ErrInvalid) {
		return fmt.Errorf("%s: %w", what, err)
	}
	var typ *json.UnmarshalTypeError
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return fmt.Errorf("%s: a JSON object is wanted, not %s: %w", what, jsonNoun(typ.Value), ErrInvalid)
		}
		return fmt.Errorf("%s: %s: want %s, got %s: %w", what, field, wantNoun(typ.Type), jsonNoun(typ.Value), ErrInvalid)
	case errors.As(err, &syn) && syn.Error() == "unexpected end of JSON input":
		return fmt.Errorf("%s: the JSON ends too soon: %w", what, ErrInvalid)
	case errors.As(err, &syn):
		return fmt.Errorf("%s: malformed JSON at byte %d (%s): %w", what, syn.Offset, strings.TrimPrefix(syn.Error(), "invalid character "), ErrInvalid)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%s: no JSON object given: %w", what, ErrInvalid)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s: the JSON ends too soon: %w", what, ErrInvalid)
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return fmt.Errorf("%s: %s: %w", what, msg, ErrInvalid)
}

// jsonNoun names what a JSON value holds as a person says it: Go's
// "number 1.5" is 1.5, "string" is text, and a literal our own decoders
// put there (true, "yesterday") stays as given.
func jsonNoun(v string) string {
	switch {
	case v == "string":
		return "text"
	case v == "bool":
		return "true/false"
	case v == "array":
		return "a list"
	case v == "object":
		return "an object"
	case v == "number":
		return "a number"
	case strings.HasPrefix(v, "number "):
		return strings.TrimPrefix(v, "number ")
	}
	return v
}

// jsonLiteral is the value a decoder refused, for jsonNoun: the literal as
// given, cut short when long, or the noun of a list or an object.
func jsonLiteral(data []byte) string {
	const most = 40
	switch {
	case len(data) == 0:
		return "nothing"
	case data[0] == '[':
		return "array"
	case data[0] == '{':
		return "object"
	case len(data) > most:
		return string(data[:most]) + "…"
	}
	return string(data)
}

// wantNoun names what a field takes, in the words of the JSON a person
// writes.
func wantNoun(t reflect.Type) string {
	switch t {
	case moneyType:
		return `a money amount such as "4990" or "4990.50"`
	case timeType:
		return "a time like 2026-12-07T06:00:00Z (RFC 3339)"
	case currencyType:
		return `a currency: an ISO code such as "RUB" or its id (643)`
	}
	switch k := t.Kind(); {
	case k == reflect.String:
		return "text"
	case k == reflect.Bool:
		return "true/false"
	case k == reflect.Slice || k == reflect.Array:
		return "a list"
	case k == reflect.Map || k == reflect.Struct:
		return "an object"
	case k >= reflect.Int && k <= reflect.Uintptr:
		return "a whole number"
	case k == reflect.Float32 || k == reflect.Float64:
		return "a number"
	}
	return t.Kind().String()
}

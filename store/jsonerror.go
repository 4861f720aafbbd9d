package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
		return fmt.Errorf("%s: %s: %s where %s is wanted: %w", what, field, jsonNoun(typ.Value), goNoun(typ.Type.Kind().String()), ErrInvalid)
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

// jsonNoun names what a JSON value holds ("number", "string", "array",
// "object", "bool") as a person says it.
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
	case v == "number" || strings.HasPrefix(v, "number"):
		return "a number"
	}
	return v
}

// goNoun names what a Go kind takes, in JSON's words.
func goNoun(kind string) string {
	switch {
	case kind == "string":
		return "text"
	case kind == "bool":
		return "true/false"
	case kind == "slice" || kind == "array":
		return "a list"
	case kind == "map" || kind == "struct":
		return "an object"
	case strings.HasPrefix(kind, "int") || strings.HasPrefix(kind, "uint") || strings.HasPrefix(kind, "float"):
		return "a number"
	}
	return kind
}

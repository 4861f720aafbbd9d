package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"time"
)

// timeType is what a lead's created takes; wantNoun names it for people.
var timeType = reflect.TypeFor[time.Time]()

// UnmarshalJSON reads a NewLead with unknown fields as errors. It exists
// for created: time.Time's own error names neither the field nor the form
// it wants in a person's words ("parsing time … as 2006-01-02T15:04:05Z07:00").
func (nl *NewLead) UnmarshalJSON(data []byte) error {
	type plain NewLead // NewLead without this method
	var raw struct {
		plain
		Created leadTime `json:"created"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		// The decoder names a field by its Go path, embedded struct
		// included; the person wrote "base", not "plain.base".
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			typ.Field = strings.TrimPrefix(typ.Field, "plain.")
		}
		return err
	}
	*nl = NewLead(raw.plain)
	nl.Created = time.Time(raw.Created)
	return nil
}

// leadTime is a time in RFC 3339 whose refusal names the field: a
// *json.UnmarshalTypeError, to which the decoder adds the field's name.
type leadTime time.Time

// UnmarshalJSON reads an RFC 3339 time; null leaves it zero (now, for Add).
func (t *leadTime) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if string(data) == "null" {
		return nil
	}
	var v time.Time
	if err := v.UnmarshalJSON(data); err != nil {
		return &json.UnmarshalTypeError{Value: jsonLiteral(data), Type: timeType}
	}
	*t = leadTime(v)
	return nil
}

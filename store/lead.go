package store

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"
)

// Lead is one order that came from a source and goes to a partner. Its JSON
// form uses the field names of SPEC §1.
type Lead struct {
	ID         uint64            `json:"id"`
	Offer      string            `json:"offer"`
	Ext        string            `json:"ext,omitempty"` // the partner's id, unique per offer
	Status     Status            `json:"status"`
	Reason     Reason            `json:"reason,omitempty"` // set while Status is StatusCancel
	HoldUntil  time.Time         `json:"hold_until,omitzero"`
	Comment    string            `json:"comment,omitempty"`
	Base       Money             `json:"base"`   // unit price
	Counts     int               `json:"counts"` // units ordered
	Curr       Currency          `json:"curr,omitempty"`
	Goal       uint32            `json:"goal,omitempty"` // the offer's goal id (GoalByCode)
	Track      string            `json:"track,omitempty"`
	Cash       Cash              `json:"cash"`
	Fields     map[string]string `json:"fields,omitempty"`
	Created    time.Time         `json:"created"`
	Updated    time.Time         `json:"updated"`
	AcceptedAt time.Time         `json:"accepted_at,omitzero"`
	// Rev counts the lead's history entries; it grows by one per change.
	Rev     uint32   `json:"rev"`
	History []Change `json:"history,omitempty"` // filled by Store.History, not by Get

	// Who stored the lead and when: the creation entry of the history is
	// derived from them and the later entries (history.go), not stored.
	addedBy string
	addedAt time.Time
}

// Cash overrides the payouts computed from the offer's rates.
type Cash struct {
	WM  Money    `json:"wm,omitzero"`  // the webmaster's payout
	Pay Money    `json:"pay,omitzero"` // what the advertiser pays
	Ref Money    `json:"ref,omitzero"` // the referral's share
	CC  Currency `json:"cc,omitempty"`
}

// Change is one history entry: what one edit (or the creation) changed,
// when, and who made it ("api", "cli", "script:acme/check.lua", "rule:hold").
type Change struct {
	Rev    uint32        `json:"rev"`
	At     time.Time     `json:"at"`
	By     string        `json:"by"`
	Fields []FieldChange `json:"changes"`
}

// FieldChange is one field's old and new value in their text forms.
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// Clone returns a deep copy, so a caller may change it freely.
func (l *Lead) Clone() *Lead {
	c := *l
	if l.Fields != nil {
		c.Fields = make(map[string]string, len(l.Fields))
		for k, v := range l.Fields {
			c.Fields[k] = v
		}
	}
	if l.History != nil {
		c.History = append([]Change(nil), l.History...)
	}
	return &c
}

// MarshalJSON writes the currency as its ISO code ("RUB").
func (c Currency) MarshalJSON() ([]byte, error) {
	if code := c.Code(); code != "" {
		return json.Marshal(code)
	}
	return json.Marshal(int(c))
}

var currencyType = reflect.TypeFor[Currency]()

// UnmarshalJSON accepts an ISO code ("RUB") or an internal id (643).
func (c *Currency) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("currency: %w", ErrInvalid)
	}
	var (
		cur Currency
		err error
	)
	switch v := v.(type) {
	case string:
		cur, err = ParseCurrency(v)
	case float64:
		if v != float64(int(v)) {
			return &json.UnmarshalTypeError{Value: jsonLiteral(data), Type: currencyType}
		}
		cur, err = CurrencyByNumber(int(v))
	case nil:
		cur = 0
	default:
		// As a type error, so that the decoder names the field (cash.cc).
		return &json.UnmarshalTypeError{Value: jsonLiteral(data), Type: currencyType}
	}
	if err != nil {
		return err
	}
	*c = cur
	return nil
}

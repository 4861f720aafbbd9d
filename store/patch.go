package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"
)

// Patch is one edit of a lead: the fields of core.lead.edit and of the API's
// PATCH. Nil fields stay as they are. The rules that apply it are SPEC §1's
// and live in one place, applyPatch, whoever calls.
type Patch struct {
	Accept bool    // approve: status 6 (10 without delivery), accepted_at, approve event
	Status *Status // 1..12; 4 holds for the offer's hold days; 5 takes Reason or the default
	Reason *Reason // only with status 5
	// Trash, with status 5 and no Reason, takes the offer's trash reason
	// instead of its default one: a partner said "trash", not "cancel".
	Trash   bool
	Hold    *Hold     // status 4 until now + days
	Comment *string   //
	Base    *Money    // unit price, not negative
	Counts  *int      // units, not negative
	Curr    *Currency // currency of Base
	Goal    *uint32   // a goal of the lead's offer (GoalByCode)
	// GoalCode names the goal by its code ([goals] in offer.toml) instead
	// of its id.
	GoalCode string
	Track    *string // delivery tracking code
	Ext      *string // the partner's id, unique per offer
	Cash     *CashPatch

	// By says who makes the edit, for the history ("api", "script:acme/check.lua").
	By string `json:"-"`
	// Offer, when set, limits the edit to leads of that offer: a script may
	// touch only its own offer's leads.
	Offer string `json:"-"`
}

// Hold sends a lead to status 4. Days 0 means the offer's hold_days.
type Hold struct{ Days int }

// CashPatch overrides payouts; nil fields stay.
type CashPatch struct {
	WM, Pay, Ref *Money
	CC           *Currency
}

// Empty reports whether the patch changes nothing by construction.
func (p *Patch) Empty() bool {
	return !p.Accept && p.Status == nil && p.Reason == nil && p.Hold == nil &&
		p.Comment == nil && p.Base == nil && p.Counts == nil && p.Curr == nil &&
		p.Goal == nil && p.GoalCode == "" && p.Track == nil && p.Ext == nil && p.Cash == nil
}

// OfferPolicy holds the offer settings the edit rules depend on; they come
// from the offer's offer.toml.
type OfferPolicy struct {
	// Goals are the offer's goals by code, with the payouts a lead takes
	// when it reaches one (unless the edit sets its cash itself).
	Goals         map[string]GoalPolicy
	Delivery      bool   // false: an approved lead goes straight to paid (10)
	HoldDays      int    // days of hold = true and of status 4
	DefaultReason Reason // reason of status 5 when none is given (a cancel)
	TrashReason   Reason // reason of status 5 from a trash word
}

// DefaultPolicy is the policy of an offer that sets nothing.
func DefaultPolicy() OfferPolicy {
	return OfferPolicy{Delivery: true, HoldDays: 7, DefaultReason: defaultDefaultReason, TrashReason: defaultTrashReason}
}

// GoalPolicy is one goal of an offer: its name and payouts (zero: none).
type GoalPolicy struct {
	Name    string
	Pay, WM Money
}

// Policies gives the store each offer's policy. The host implements it from
// the loaded offer.toml files.
type Policies interface {
	Policy(offer string) OfferPolicy
}

// maxHoldDays keeps hold_until within reason; a typo of 70000 days is an error.
const maxHoldDays = 3650

// maxTextLen bounds comment, track and field values.
const maxTextLen = 64 << 10

// editEnv is what applyPatch needs besides the lead and the patch.
type editEnv struct {
	now     time.Time
	policy  OfferPolicy
	reasons *ReasonTable
	// goalCode is the code of an offer's goal id; goalID the id of a code.
	goalCode func(offer string, goal uint32) (string, bool, error)
	goalID   func(offer, code string) (uint32, bool, error)
}

// result of applying a patch: the new lead, what changed, whether the lead
// was approved by this edit.
type applied struct {
	lead     *Lead
	changes  []FieldChange
	approved bool
}

// validate checks what can be checked without the lead.
func (p *Patch) validate(reasons *ReasonTable) error {
	if p.Accept && p.Status != nil {
		return fmt.Errorf("accept and status together: give one: %w", ErrInvalid)
	}
	if p.Accept && p.Hold != nil {
		return fmt.Errorf("accept and hold together: give one: %w", ErrInvalid)
	}
	if p.Status != nil {
		if !p.Status.Valid() {
			return fmt.Errorf("status %d out of range 1..12: %w", *p.Status, ErrInvalid)
		}
		if p.Hold != nil && *p.Status != StatusHold {
			return fmt.Errorf("hold with status %d: hold means status 4: %w", *p.Status, ErrInvalid)
		}
	}
	if p.Reason != nil {
		if _, ok := reasons.Lookup(*p.Reason); !ok {
			return fmt.Errorf("unknown reason %d: %w", *p.Reason, ErrInvalid)
		}
	}
	if p.Hold != nil && (p.Hold.Days < 0 || p.Hold.Days > maxHoldDays) {
		return fmt.Errorf("hold of %d days: want 1..%d: %w", p.Hold.Days, maxHoldDays, ErrInvalid)
	}
	if p.Counts != nil && *p.Counts < 0 {
		return fmt.Errorf("counts %d: negative: %w", *p.Counts, ErrInvalid)
	}
	if p.Base != nil && p.Base.Sign() < 0 {
		return fmt.Errorf("base %s: negative: %w", p.Base, ErrInvalid)
	}
	if err := checkCurrency("curr", p.Curr); err != nil {
		return err
	}
	if err := checkCurrency("cash.cc", cashCC(p.Cash)); err != nil {
		return err
	}
	if p.Comment != nil && len(*p.Comment) > maxTextLen {
		return fmt.Errorf("comment: longer than %d bytes: %w", maxTextLen, ErrInvalid)
	}
	if p.Track != nil && len(*p.Track) > maxTextLen {
		return fmt.Errorf("track: longer than %d bytes: %w", maxTextLen, ErrInvalid)
	}
	if p.Ext != nil {
		if err := checkName("ext", *p.Ext); err != nil {
			return err
		}
	}
	return nil
}

func checkCurrency(what string, c *Currency) error {
	if c != nil && *c != 0 && c.Code() == "" {
		return fmt.Errorf("%s: unknown currency %d: %w", what, *c, ErrInvalid)
	}
	return nil
}

func cashCC(c *CashPatch) *Currency {
	if c == nil {
		return nil
	}
	return c.CC
}

// applyPatch is the one implementation of SPEC §1's edit rules. It never
// changes old; on error the lead is untouched. An edit that changes nothing
// returns no changes.
func applyPatch(old *Lead, p *Patch, env *editEnv) (applied, error) {
	if p.Offer != "" && old.Offer != p.Offer {
		return applied{}, fmt.Errorf("lead %d belongs to offer %q, not %q: %w", old.ID, old.Offer, p.Offer, ErrRefused)
	}
	if err := p.validate(env.reasons); err != nil {
		return applied{}, fmt.Errorf("lead %d: %w", old.ID, err)
	}
	n := *old
	n.History = nil
	approved := false

	target := old.Status
	switch {
	case p.Accept:
		switch {
		case old.Status.Approved():
			// Approving a lead already in 6..11 changes nothing (SPEC §1):
			// it is neither pulled back from transit to packing, nor given
			// a new accepted_at, nor reported as approved a second time.
		default:
			target = StatusPacking
			if !env.policy.Delivery {
				target = StatusPaid
			}
			approved = true
		}
	case p.Hold != nil:
		target = StatusHold
	case p.Status != nil:
		target = *p.Status
	}
	if target != old.Status && old.Status.PastCall() && !target.PastCall() {
		return applied{}, fmt.Errorf("lead %d is %s (status %d): no way back to %s (status %d): %w",
			old.ID, old.Status, old.Status, target, target, ErrRefused)
	}
	n.Status = target
	if approved {
		n.AcceptedAt = env.now
	}

	switch {
	case target != StatusHold:
		n.HoldUntil = time.Time{}
	case p.Hold != nil || old.Status != StatusHold:
		days := env.policy.HoldDays
		if p.Hold != nil && p.Hold.Days > 0 {
			days = p.Hold.Days
		}
		if days <= 0 {
			days = DefaultPolicy().HoldDays
		}
		n.HoldUntil = env.now.Add(time.Duration(days) * 24 * time.Hour)
	}

	switch {
	case target == StatusCancel && p.Reason != nil:
		n.Reason = *p.Reason
	case target == StatusCancel && (old.Status != StatusCancel || p.Trash):
		what := "default"
		n.Reason = env.policy.DefaultReason
		if p.Trash {
			n.Reason, what = env.policy.TrashReason, "trash"
		}
		if _, ok := env.reasons.Lookup(n.Reason); !ok {
			return applied{}, fmt.Errorf("lead %d: offer %q's %s reason %d is unknown: %w", old.ID, old.Offer, what, n.Reason, ErrInvalid)
		}
	case target != StatusCancel && p.Reason != nil:
		return applied{}, fmt.Errorf("lead %d: reason %d needs status 5, the lead goes to %d: %w", old.ID, *p.Reason, target, ErrInvalid)
	case target != StatusCancel:
		n.Reason = 0
	}

	if p.Comment != nil {
		n.Comment = *p.Comment
	}
	if p.Base != nil && !p.Base.Equal(old.Base) {
		n.Base = *p.Base
	}
	if p.Counts != nil {
		n.Counts = *p.Counts
	}
	if p.Curr != nil {
		n.Curr = *p.Curr
	}
	goal := p.Goal
	if p.GoalCode != "" {
		id, ok, err := env.goalID(old.Offer, p.GoalCode)
		if err != nil {
			return applied{}, err
		}
		if !ok {
			return applied{}, fmt.Errorf("lead %d: offer %q has no goal %q ([goals] in its offer.toml): %w", old.ID, old.Offer, p.GoalCode, ErrInvalid)
		}
		goal = &id
	}
	if goal != nil && *goal != old.Goal {
		if *goal != 0 {
			code, ok, err := env.goalCode(old.Offer, *goal)
			if err != nil {
				return applied{}, err
			}
			if !ok {
				return applied{}, fmt.Errorf("lead %d: offer %q has no goal %d: %w", old.ID, old.Offer, *goal, ErrInvalid)
			}
			// Reaching a goal brings its payouts, unless the edit says
			// what the payouts are.
			if g, ok := env.policy.Goals[code]; ok {
				if !g.Pay.IsZero() && (p.Cash == nil || p.Cash.Pay == nil) {
					n.Cash.Pay = g.Pay
				}
				if !g.WM.IsZero() && (p.Cash == nil || p.Cash.WM == nil) {
					n.Cash.WM = g.WM
				}
			}
		}
		n.Goal = *goal
	}
	if p.Track != nil {
		n.Track = *p.Track
	}
	if p.Ext != nil {
		n.Ext = *p.Ext
	}
	if c := p.Cash; c != nil {
		for _, m := range []struct{ dst, src *Money }{{&n.Cash.WM, c.WM}, {&n.Cash.Pay, c.Pay}, {&n.Cash.Ref, c.Ref}} {
			if m.src != nil && !m.src.Equal(*m.dst) {
				*m.dst = *m.src
			}
		}
		if c.CC != nil {
			n.Cash.CC = *c.CC
		}
	}

	changes := diffLeads(old, &n, false)
	if len(changes) == 0 {
		return applied{lead: old}, nil
	}
	n.Updated = env.now
	n.Rev = old.Rev + 1
	return applied{lead: &n, changes: changes, approved: approved}, nil
}

// diffLeads lists the fields that differ, in a fixed order, as text.
// Values are compared before they are formatted: this runs for every edit.
// withFields compares the fields maps too; patches never change them.
func diffLeads(a, b *Lead, withFields bool) []FieldChange {
	var out []FieldChange
	add := func(field, old, new string) {
		out = append(out, FieldChange{Field: field, Old: old, New: new})
	}
	num := func(v uint64) string {
		if v == 0 {
			return ""
		}
		return strconv.FormatUint(v, 10)
	}
	money := func(m Money) string {
		if m.IsZero() {
			return ""
		}
		return m.String()
	}
	if a.Offer != b.Offer {
		add("offer", a.Offer, b.Offer)
	}
	if a.Ext != b.Ext {
		add("ext", a.Ext, b.Ext)
	}
	if a.Status != b.Status {
		add("status", num(uint64(a.Status)), num(uint64(b.Status)))
	}
	if a.Reason != b.Reason {
		add("reason", num(uint64(a.Reason)), num(uint64(b.Reason)))
	}
	if !a.HoldUntil.Equal(b.HoldUntil) {
		add("hold_until", timeText(a.HoldUntil), timeText(b.HoldUntil))
	}
	if a.Comment != b.Comment {
		add("comment", a.Comment, b.Comment)
	}
	if !a.Base.Equal(b.Base) {
		add("base", money(a.Base), money(b.Base))
	}
	if a.Counts != b.Counts {
		add("counts", strconv.Itoa(a.Counts), strconv.Itoa(b.Counts))
	}
	if a.Curr != b.Curr {
		add("curr", currText(a.Curr), currText(b.Curr))
	}
	if a.Goal != b.Goal {
		add("goal", num(uint64(a.Goal)), num(uint64(b.Goal)))
	}
	if a.Track != b.Track {
		add("track", a.Track, b.Track)
	}
	if !a.Cash.WM.Equal(b.Cash.WM) {
		add("cash.wm", money(a.Cash.WM), money(b.Cash.WM))
	}
	if !a.Cash.Pay.Equal(b.Cash.Pay) {
		add("cash.pay", money(a.Cash.Pay), money(b.Cash.Pay))
	}
	if !a.Cash.Ref.Equal(b.Cash.Ref) {
		add("cash.ref", money(a.Cash.Ref), money(b.Cash.Ref))
	}
	if a.Cash.CC != b.Cash.CC {
		add("cash.cc", currText(a.Cash.CC), currText(b.Cash.CC))
	}
	if !a.AcceptedAt.Equal(b.AcceptedAt) {
		add("accepted_at", timeText(a.AcceptedAt), timeText(b.AcceptedAt))
	}
	if withFields {
		for _, k := range sortedKeys(a.Fields, b.Fields) {
			if a.Fields[k] != b.Fields[k] {
				add("fields."+k, a.Fields[k], b.Fields[k])
			}
		}
	}
	return out
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func currText(c Currency) string {
	if c == 0 {
		return ""
	}
	return c.String()
}

func sortedKeys(maps ...map[string]string) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range maps {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// DecodePatch reads a Patch from JSON; unknown fields are errors.
func DecodePatch(r io.Reader) (Patch, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return Patch{}, err
	}
	var p Patch
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return Patch{}, fmt.Errorf("patch: no JSON object given: %w", ErrInvalid)
	}
	if err := json.Unmarshal(data, &p); err != nil {
		if errors.Is(err, ErrInvalid) {
			return Patch{}, err
		}
		return Patch{}, jsonProblem("patch", err)
	}
	return p, nil
}

// UnmarshalJSON reads a patch in the shape of core.lead.edit's table:
// {"accept":1, "status":5, "reason":6, "hold":true|3, "comment":"…",
// "base":"12.10"|12.1, "counts":2, "curr":"RUB"|643, "goal":1,
// "track":"…", "ext":"…", "cash":{"wm":…, "pay":…, "ref":…, "cc":…}}.
// Unknown fields and wrong types are errors.
func (p *Patch) UnmarshalJSON(data []byte) error {
	var raw struct {
		Accept  json.RawMessage `json:"accept"`
		Status  json.RawMessage `json:"status"`
		Reason  *Reason         `json:"reason"`
		Hold    json.RawMessage `json:"hold"`
		Comment *string         `json:"comment"`
		Base    *Money          `json:"base"`
		Counts  *int            `json:"counts"`
		Curr    *Currency       `json:"curr"`
		Goal    json.RawMessage `json:"goal"`
		Track   *string         `json:"track"`
		Ext     *string         `json:"ext"`
		Cash    *struct {
			WM  *Money    `json:"wm"`
			Pay *Money    `json:"pay"`
			Ref *Money    `json:"ref"`
			CC  *Currency `json:"cc"`
		} `json:"cash"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return jsonProblem("patch", err)
	}
	var out Patch
	if len(raw.Accept) > 0 {
		switch string(raw.Accept) {
		case "1", "true":
			out.Accept = true
		case "0", "false", "null":
		default:
			return fmt.Errorf("patch: accept %s: want 1 or true: %w", raw.Accept, ErrInvalid)
		}
	}
	if len(raw.Status) > 0 && string(raw.Status) != "null" {
		var text string
		if err := json.Unmarshal(raw.Status, &text); err != nil {
			text = string(raw.Status)
		}
		s, err := ParseStatus(text)
		if err != nil {
			return fmt.Errorf("patch: %w", err)
		}
		out.Status = &s
	}
	if len(raw.Hold) > 0 {
		switch string(raw.Hold) {
		case "true":
			out.Hold = &Hold{}
		case "false", "null":
		default:
			days, err := strconv.Atoi(string(raw.Hold))
			if err != nil || days <= 0 {
				return fmt.Errorf("patch: hold %s: want true or a number of days: %w", raw.Hold, ErrInvalid)
			}
			out.Hold = &Hold{Days: days}
		}
	}
	out.Reason, out.Comment, out.Base, out.Counts = raw.Reason, raw.Comment, raw.Base, raw.Counts
	out.Curr, out.Track, out.Ext = raw.Curr, raw.Track, raw.Ext
	if len(raw.Goal) > 0 && string(raw.Goal) != "null" {
		var id uint32
		var code string
		switch {
		case json.Unmarshal(raw.Goal, &id) == nil:
			out.Goal = &id
		case json.Unmarshal(raw.Goal, &code) == nil && code != "":
			out.GoalCode = code
		default:
			return fmt.Errorf("patch: goal %s: want a goal's id or its code: %w", raw.Goal, ErrInvalid)
		}
	}
	if raw.Cash != nil {
		out.Cash = &CashPatch{WM: raw.Cash.WM, Pay: raw.Cash.Pay, Ref: raw.Cash.Ref, CC: raw.Cash.CC}
	}
	*p = out
	return nil
}

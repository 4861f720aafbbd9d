package store

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// NewLead is what Add takes: the fields of a lead a source or an import
// provides. Only Offer is required.
type NewLead struct {
	Offer string `json:"offer"`
	// Key makes Add idempotent per offer: a repeat returns the first lead.
	Key     string            `json:"key,omitempty"`
	Ext     string            `json:"ext,omitempty"`
	Status  Status            `json:"status,omitempty"` // 0 means 1 (new); others for imports
	Reason  Reason            `json:"reason,omitempty"` // with status 5
	Created time.Time         `json:"created,omitzero"` // zero means now
	Comment string            `json:"comment,omitempty"`
	Base    Money             `json:"base,omitzero"`
	Counts  int               `json:"counts,omitempty"` // 0 means 1
	Curr    Currency          `json:"curr,omitempty"`
	Goal    uint32            `json:"goal,omitempty"`
	Track   string            `json:"track,omitempty"`
	Cash    Cash              `json:"cash,omitzero"`
	Fields  map[string]string `json:"fields,omitempty"`
	// By says who creates the lead, for the history.
	By string `json:"-"`
}

// maxFields bounds the fields of one lead; a webhook cannot bloat a record.
const maxFields = 128

// DecodeNewLead reads a NewLead from JSON; unknown fields are errors.
func DecodeNewLead(r io.Reader) (NewLead, error) {
	var nl NewLead
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&nl); err != nil {
		return NewLead{}, jsonProblem("lead", err)
	}
	if dec.More() {
		return NewLead{}, fmt.Errorf("lead: more than one JSON value: %w", ErrInvalid)
	}
	return nl, nil
}

// build validates nl and makes the lead it describes (without its id).
func (nl *NewLead) build(now time.Time, policy OfferPolicy, reasons *ReasonTable) (*Lead, error) {
	if err := checkName("offer", nl.Offer); err != nil {
		return nil, err
	}
	if nl.Key != "" {
		if err := checkName("key", nl.Key); err != nil {
			return nil, err
		}
	}
	if nl.Ext != "" {
		if err := checkName("ext", nl.Ext); err != nil {
			return nil, err
		}
	}
	l := &Lead{
		Offer: nl.Offer, Ext: nl.Ext, Status: nl.Status, Reason: nl.Reason,
		Comment: nl.Comment, Base: nl.Base, Counts: nl.Counts, Curr: nl.Curr,
		Goal: nl.Goal, Track: nl.Track, Cash: nl.Cash, Created: nl.Created.UTC(),
		Updated: now, Rev: 1,
	}
	if l.Status == 0 {
		l.Status = StatusNew
	}
	if !l.Status.Valid() {
		return nil, fmt.Errorf("status %d out of range 1..12: %w", l.Status, ErrInvalid)
	}
	if nl.Created.IsZero() {
		l.Created = now
	}
	if l.Counts == 0 {
		l.Counts = 1
	}
	if l.Counts < 0 {
		return nil, fmt.Errorf("counts %d: negative: %w", l.Counts, ErrInvalid)
	}
	if l.Base.Sign() < 0 {
		return nil, fmt.Errorf("base %s: negative: %w", l.Base, ErrInvalid)
	}
	if err := checkCurrency("curr", &l.Curr); err != nil {
		return nil, err
	}
	if err := checkCurrency("cash.cc", &l.Cash.CC); err != nil {
		return nil, err
	}
	switch {
	case l.Status == StatusCancel && l.Reason == 0:
		l.Reason = policy.DefaultReason
	case l.Status != StatusCancel && l.Reason != 0:
		return nil, fmt.Errorf("reason %d needs status 5: %w", l.Reason, ErrInvalid)
	}
	if l.Reason != 0 {
		if _, ok := reasons.Lookup(l.Reason); !ok {
			return nil, fmt.Errorf("unknown reason %d: %w", l.Reason, ErrInvalid)
		}
	}
	if l.Status == StatusHold {
		days := policy.HoldDays
		if days <= 0 {
			days = DefaultPolicy().HoldDays
		}
		l.HoldUntil = now.Add(time.Duration(days) * 24 * time.Hour)
	}
	if l.Status.Approved() {
		l.AcceptedAt = l.Created // an imported approved lead was approved by then at the latest
	}
	if len(l.Comment) > maxTextLen || len(l.Track) > maxTextLen {
		return nil, fmt.Errorf("comment or track longer than %d bytes: %w", maxTextLen, ErrInvalid)
	}
	if len(nl.Fields) > maxFields {
		return nil, fmt.Errorf("%d fields: at most %d: %w", len(nl.Fields), maxFields, ErrInvalid)
	}
	if len(nl.Fields) > 0 {
		l.Fields = make(map[string]string, len(nl.Fields))
		for k, v := range nl.Fields {
			if err := checkName("field name", k); err != nil {
				return nil, err
			}
			if len(v) > maxTextLen {
				return nil, fmt.Errorf("field %q: longer than %d bytes: %w", k, maxTextLen, ErrInvalid)
			}
			l.Fields[k] = v
		}
	}
	return l, nil
}

// Add stores a new lead and returns it with created = true. With a Key that
// the offer has seen before it stores nothing and returns the first lead
// with created = false. An Ext that another lead of the offer has is
// ErrExists. The lead is on disk when Add returns.
func (s *Badger) Add(ctx context.Context, nl NewLead) (*Lead, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	now := s.now().UTC()
	lead, err := nl.build(now, s.policy(nl.Offer), s.reasons)
	if err != nil {
		return nil, false, fmt.Errorf("add lead: %w", err)
	}
	by := nl.By
	if by == "" {
		by = "api"
	}
	a := &addStep{s: s, key: nl.Key, lead: lead, by: by, now: now}
	if err := s.commit.do(newStepOp(a.run)); err != nil {
		return nil, false, fmt.Errorf("add lead: %w", err)
	}
	if a.refusal != nil {
		return nil, false, fmt.Errorf("add lead: %w", a.refusal)
	}
	// Add's own: the lead it built, or the first one decoded for it,
	// held by nothing else once the step ran.
	return a.result, a.created, nil
}

// addStep is Add's step and what it found, in one allocation (a closure
// would move each of its results to the heap on its own).
type addStep struct {
	s       *Badger
	key     string // the idempotency key ("": none)
	lead    *Lead
	by      string
	now     time.Time
	result  *Lead
	created bool
	refusal error
}

func (a *addStep) run(w *stepWriter) error {
	s, key, lead, now := a.s, a.key, a.lead, a.now
	a.result, a.created, a.refusal = nil, false, nil
	var idem []byte // read, then written: one key, never changed after
	if key != "" {
		idem = idemKey(lead.Offer, key)
		v, ok, err := w.get(idem)
		if err != nil {
			return err
		}
		if ok {
			id, err := readID(v)
			if err != nil {
				return err
			}
			if a.result, err = readLead(w, id); err == nil && a.result == nil {
				err = fmt.Errorf("idempotency key %q points at missing lead %d: %w", key, id, errCorrupt)
			}
			return err
		}
	}
	if lead.Ext != "" {
		v, ok, err := w.get(extKey(lead.Offer, lead.Ext))
		if err != nil {
			return err
		}
		if ok {
			id, _ := readID(v)
			a.refusal = fmt.Errorf("offer %q already has ext %q (lead %d): %w", lead.Offer, lead.Ext, id, ErrExists)
			return nil
		}
	}
	if lead.Goal != 0 {
		if _, ok, err := w.get(goalIDKey(lead.Offer, lead.Goal)); err != nil || !ok {
			a.refusal = fmt.Errorf("offer %q has no goal %d: %w", lead.Offer, lead.Goal, ErrInvalid)
			return err
		}
	}
	if lead.ID == 0 {
		id, err := s.nextID()
		if err != nil {
			return err
		}
		lead.ID = id
	}
	if key != "" {
		w.set(idem, idValue(lead.ID))
	}
	lead.addedBy, lead.addedAt = a.by, now
	var events []Event
	if ev, ok := statusEvent(0, lead, false, now, a.by); ok {
		events = append(events, ev)
	}
	s.writeLead(w, nil, lead, nil, events)
	a.result, a.created = lead, true
	return nil
}

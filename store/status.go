package store

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Status is a lead's state. The numbers 1..12 are the public contract shared
// with partners, scripts and the API; names are for humans.
type Status uint8

// The statuses of a lead, in the order of the seed's list.
const (
	StatusNew        Status = 1  // waits to be sent to the partner
	StatusProcessing Status = 2  // sent, the partner works on it
	StatusCallback   Status = 3  // the partner's call centre calls back
	StatusHold       Status = 4  // waits for automatic approval (HoldUntil)
	StatusCancel     Status = 5  // rejected; has a Reason
	StatusPacking    Status = 6  // approved, waits for packing
	StatusSending    Status = 7  // packed, waits for dispatch
	StatusTransit    Status = 8  // on its way
	StatusDelivered  Status = 9  // at the pick-up point
	StatusPaid       Status = 10 // bought out, closed
	StatusReturn     Status = 11 // returned to sender
	StatusDeleted    Status = 12 // excluded from statistics
)

// MaxStatus is the highest valid status number.
const MaxStatus = StatusDeleted

var statusNames = [...]struct{ code, label string }{
	StatusNew:        {"new", "Новый"},
	StatusProcessing: {"processing", "Обработка"},
	StatusCallback:   {"callback", "Перезвонить"},
	StatusHold:       {"hold", "Холд"},
	StatusCancel:     {"cancel", "Отмена"},
	StatusPacking:    {"packing", "Упаковка"},
	StatusSending:    {"sending", "Отправка"},
	StatusTransit:    {"transit", "В пути"},
	StatusDelivered:  {"delivered", "Доставлен"},
	StatusPaid:       {"paid", "Оплачен"},
	StatusReturn:     {"return", "Возврат"},
	StatusDeleted:    {"deleted", "Удалён"},
}

// Valid reports whether s is one of the statuses 1..12.
func (s Status) Valid() bool { return s >= StatusNew && s <= MaxStatus }

// String returns the English code name ("processing"), or the number for an
// invalid status so that error messages still show what was given.
func (s Status) String() string {
	if !s.Valid() {
		return strconv.Itoa(int(s))
	}
	return statusNames[s].code
}

// Label is the status's name in the seed's Russian ("Обработка"), as
// operators of a lead network know it; "" for an invalid status.
func (s Status) Label() string {
	if !s.Valid() {
		return ""
	}
	return statusNames[s].label
}

// PastCall reports whether the lead has left the call stage (status ≥ 5):
// from there no edit may bring it back to 1..4.
func (s Status) PastCall() bool { return s >= StatusCancel }

// Terminal reports whether nothing more is expected of the partner for a
// lead in this status: cancelled, paid, returned or deleted.
func (s Status) Terminal() bool {
	return s == StatusCancel || s == StatusPaid || s == StatusReturn || s == StatusDeleted
}

// Approved reports whether the status is one an approved lead can be in.
func (s Status) Approved() bool { return s >= StatusPacking && s <= StatusReturn }

// UnmarshalJSON reads a status as a number (6) or its name ("packing"),
// as every input of leads takes it; 0 is no status (an event's From for
// a lead's creation, a new lead's default).
func (s *Status) UnmarshalJSON(b []byte) error {
	var text string
	if err := json.Unmarshal(b, &text); err != nil {
		text = string(b)
	}
	if text == "0" {
		*s = 0
		return nil
	}
	st, err := ParseStatus(text)
	if err != nil {
		return err
	}
	*s = st
	return nil
}

// ParseStatus accepts a status number ("6") or its code name ("packing").
func ParseStatus(text string) (Status, error) {
	if n, err := strconv.Atoi(text); err == nil {
		s := Status(n)
		if n < 0 || n > 255 || !s.Valid() {
			return 0, fmt.Errorf("status %d out of range 1..12: %w", n, ErrInvalid)
		}
		return s, nil
	}
	for s := StatusNew; s <= MaxStatus; s++ {
		if statusNames[s].code == text {
			return s, nil
		}
	}
	return 0, fmt.Errorf("unknown status %q: %w", text, ErrInvalid)
}

// StatusSet is a set of statuses, cheap to copy and compare.
type StatusSet uint16

// Statuses builds a set from its members.
func Statuses(list ...Status) StatusSet {
	var set StatusSet
	for _, s := range list {
		set |= 1 << s
	}
	return set
}

// AllStatuses holds every status 1..12.
const AllStatuses StatusSet = (1<<(MaxStatus+1) - 1) &^ 1

// Has reports whether s is in the set.
func (set StatusSet) Has(s Status) bool { return s.Valid() && set&(1<<s) != 0 }

// The status sets the three check modes read (SPEC §3).
var (
	// InProcessing: leads the partner's call centre still works on.
	InProcessing = Statuses(StatusProcessing, StatusCallback, StatusHold)
	// InAccepted: approved leads on their way to being paid or returned.
	InAccepted = Statuses(StatusPacking, StatusSending, StatusTransit, StatusDelivered)
	// NonTerminal: every status a partner may still change, the dates mode's set.
	NonTerminal = Statuses(StatusNew, StatusProcessing, StatusCallback, StatusHold,
		StatusPacking, StatusSending, StatusTransit, StatusDelivered)
)

// bucket is the part of the offer+status index a status is filed under:
// the statuses one check mode reads share a bucket. A status change inside
// a bucket (2→3, 6→8: most of what a status check does) leaves the
// indexes alone and writes only the record and its history; queries for
// exact statuses filter the records of the buckets that hold them.
type bucket byte

const (
	bucketNew        bucket = 1 // 1
	bucketProcessing bucket = 2 // 2, 3, 4
	bucketCancel     bucket = 3 // 5
	bucketAccepted   bucket = 4 // 6, 7, 8, 9
	bucketClosed     bucket = 5 // 10, 11
	bucketDeleted    bucket = 6 // 12
)

var statusBuckets = [...]bucket{0, bucketNew, bucketProcessing, bucketProcessing, bucketProcessing,
	bucketCancel, bucketAccepted, bucketAccepted, bucketAccepted, bucketAccepted, bucketClosed, bucketClosed, bucketDeleted}

func (s Status) bucket() bucket {
	if !s.Valid() {
		return 0
	}
	return statusBuckets[s]
}

// buckets returns the buckets that hold the set's statuses, in order, and
// whether the set is exactly their union (then no record needs a check).
func (set StatusSet) buckets() (list []bucket, exact bool) {
	var union StatusSet
	for s := StatusNew; s <= MaxStatus; s++ {
		if set.Has(s) {
			b := s.bucket()
			if len(list) == 0 || list[len(list)-1] != b {
				list = append(list, b)
			}
		}
	}
	for s := StatusNew; s <= MaxStatus; s++ {
		for _, b := range list {
			if s.bucket() == b {
				union |= 1 << s
			}
		}
	}
	return list, union == set
}

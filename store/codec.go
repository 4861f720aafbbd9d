package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Records are stored in a compact binary form rather than JSON: a status
// check rewrites thousands of leads a second and the codec is on that path.
// The first byte is the format version so that a later format can read
// records written by this one.
const recordV1 = 1

var errCorrupt = errors.New("corrupt record")

type encoder struct{ b []byte }

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) money(m Money)    { e.varint(m.units); e.b = append(e.b, m.scale) }

// time is stored as Unix nanoseconds; the zero time as 0.
func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.varint(0)
		return
	}
	e.varint(t.UnixNano())
}

type decoder struct {
	b   []byte
	s   string // when set, the whole input as one string: str() slices it instead of allocating
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	var out string
	if d.s != "" {
		at := len(d.s) - len(d.b)
		out = d.s[at : at+int(n)]
	} else {
		out = string(d.b[:n])
	}
	d.b = d.b[n:]
	return out
}

func (d *decoder) money() Money {
	units := d.varint()
	scale := d.byte()
	if scale > maxMoneyScale {
		d.fail()
		return Money{}
	}
	return Money{units: units, scale: scale}
}

func (d *decoder) time() time.Time {
	ns := d.varint()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func encodeLead(buf []byte, l *Lead) []byte {
	e := encoder{b: buf}
	e.b = append(e.b, recordV1)
	e.uvarint(l.ID)
	e.uvarint(uint64(l.Rev)) // early, so that leadRev need not decode the rest
	e.str(l.Offer)
	e.str(l.Ext)
	e.b = append(e.b, byte(l.Status))
	e.uvarint(uint64(l.Reason))
	e.time(l.HoldUntil)
	e.str(l.Comment)
	e.money(l.Base)
	e.varint(int64(l.Counts))
	e.uvarint(uint64(l.Curr))
	e.uvarint(uint64(l.Goal))
	e.str(l.Track)
	e.money(l.Cash.WM)
	e.money(l.Cash.Pay)
	e.money(l.Cash.Ref)
	e.uvarint(uint64(l.Cash.CC))
	e.uvarint(uint64(len(l.Fields)))
	if len(l.Fields) > 0 {
		keys := make([]string, 0, len(l.Fields))
		for k := range l.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			e.str(k)
			e.str(l.Fields[k])
		}
	}
	e.time(l.Created)
	e.time(l.Updated)
	e.time(l.AcceptedAt)
	e.str(l.addedBy)
	e.time(l.addedAt)
	return e.b
}

func decodeLead(b []byte) (*Lead, error) {
	// One allocation for all of the record's strings.
	d := decoder{b: b, s: string(b)}
	if d.byte() != recordV1 {
		return nil, fmt.Errorf("lead record: unknown format: %w", errCorrupt)
	}
	l := &Lead{}
	l.ID = d.uvarint()
	l.Rev = uint32(d.uvarint())
	l.Offer = d.str()
	l.Ext = d.str()
	l.Status = Status(d.byte())
	l.Reason = Reason(d.uvarint())
	l.HoldUntil = d.time()
	l.Comment = d.str()
	l.Base = d.money()
	l.Counts = int(d.varint())
	l.Curr = Currency(d.uvarint())
	l.Goal = uint32(d.uvarint())
	l.Track = d.str()
	l.Cash.WM = d.money()
	l.Cash.Pay = d.money()
	l.Cash.Ref = d.money()
	l.Cash.CC = Currency(d.uvarint())
	if n := d.uvarint(); n > 0 {
		if n > uint64(len(d.b)) {
			return nil, fmt.Errorf("lead record: %w", errCorrupt)
		}
		l.Fields = make(map[string]string, n)
		for i := uint64(0); i < n && d.err == nil; i++ {
			k := d.str()
			l.Fields[k] = d.str()
		}
	}
	l.Created = d.time()
	l.Updated = d.time()
	l.AcceptedAt = d.time()
	l.addedBy = d.str()
	l.addedAt = d.time()
	if d.err != nil {
		return nil, fmt.Errorf("lead record: %w", d.err)
	}
	return l, nil
}

// leadRev reads only the revision of an encoded lead.
func leadRev(b []byte) (uint32, error) {
	d := decoder{b: b}
	if d.byte() != recordV1 {
		return 0, fmt.Errorf("lead record: unknown format: %w", errCorrupt)
	}
	d.uvarint()
	rev := uint32(d.uvarint())
	return rev, d.err
}

func encodeChange(buf []byte, c *Change) []byte {
	e := encoder{b: buf}
	e.b = append(e.b, recordV1)
	e.uvarint(uint64(c.Rev))
	e.time(c.At)
	e.str(c.By)
	e.uvarint(uint64(len(c.Fields)))
	for _, f := range c.Fields {
		e.str(f.Field)
		e.str(f.Old)
		e.str(f.New)
	}
	return e.b
}

func decodeChange(b []byte) (Change, error) {
	d := decoder{b: b}
	if d.byte() != recordV1 {
		return Change{}, fmt.Errorf("history record: unknown format: %w", errCorrupt)
	}
	var c Change
	c.Rev = uint32(d.uvarint())
	c.At = d.time()
	c.By = d.str()
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		return Change{}, fmt.Errorf("history record: %w", errCorrupt)
	}
	c.Fields = make([]FieldChange, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		c.Fields = append(c.Fields, FieldChange{Field: d.str(), Old: d.str(), New: d.str()})
	}
	if d.err != nil {
		return Change{}, fmt.Errorf("history record: %w", d.err)
	}
	return c, nil
}

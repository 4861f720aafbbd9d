package decode

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strconv"
)

// decodeSerialize reads PHP's serialize() format as PHP's unserialize()
// reads it, into the values check.lua gets:
//
//   - N; b:1; i:5; d:1.5; s:3:"abc"; S:3:"\61bc"; (S: strings escape a
//     byte as \ and two hex digits; lengths count bytes, as PHP does);
//   - a:2:{key;value…}: an array whose keys are 0..n-1 in order is a
//     list, any other a map; a string key that is a canonical integer
//     ("0", "-5", not "05") is that integer, as PHP makes it, so
//     a:1:{s:1:"0";s:1:"z";} is the list ["z"];
//   - O:8:"stdClass":2:{…}: an object, read as the map of its properties;
//   - R:n; and r:n;: the n-th value read so far (counting every value, not
//     keys, from 1 for the outermost; an r: counts as a value, an R: does
//     not), as PHP resolves references; r: names an object only; one to
//     an array still being read would make a cycle, and is an error;
//   - a key given twice keeps its first place and its last value.
//
// Where it refuses what PHP takes: a length with a sign (s:+1:, which
// PHP 7 refuses too); data after the value (PHP 8.2 ignores it, which
// would hide a truncated or concatenated answer); d:NAN; and d:INF; (no
// JSON, Lua table or lead field holds them); C: custom-serialized
// objects. Nesting is bounded by maxDepth, and a declared length or
// count larger than the rest of the input is an error before anything is
// allocated for it.
func decodeSerialize(body []byte) (any, error) {
	p := &phpReader{b: bytes.TrimSpace(body)}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if p.i != len(p.b) {
		return nil, p.errorf("data after the value")
	}
	return v, nil
}

type phpReader struct {
	b []byte
	i int
	// slots are the values read so far, in PHP's order, for R: and r:;
	// done says a slot's value is complete (an array being read is not);
	// object says it is an object (what r: may name).
	slots  []any
	done   []bool
	object []bool
}

func (p *phpReader) errorf(format string, a ...any) error {
	return fmt.Errorf("serialize: at byte %d: %s", p.i, fmt.Sprintf(format, a...))
}

func (p *phpReader) expect(c byte) error {
	if p.i >= len(p.b) || p.b[p.i] != c {
		return p.errorf("expected %q", c)
	}
	p.i++
	return nil
}

// until reads up to (not including) c and skips c.
func (p *phpReader) until(c byte) (string, error) {
	j := bytes.IndexByte(p.b[p.i:], c)
	if j < 0 {
		return "", p.errorf("expected %q", c)
	}
	s := string(p.b[p.i : p.i+j])
	p.i += j + 1
	return s, nil
}

// slot reserves the next value's place; fill completes it.
func (p *phpReader) slot() int {
	p.slots = append(p.slots, nil)
	p.done = append(p.done, false)
	p.object = append(p.object, false)
	return len(p.slots) - 1
}

func (p *phpReader) fill(n int, v any) any {
	p.slots[n], p.done[n] = v, true
	return v
}

// value reads one value and takes its place among the slots.
func (p *phpReader) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, p.errorf("nested deeper than %d", maxDepth)
	}
	if p.i+1 >= len(p.b) {
		return nil, p.errorf("unexpected end of input")
	}
	kind := p.b[p.i]
	if kind == 'R' || kind == 'r' {
		p.i++
		return p.reference(kind == 'r')
	}
	n := p.slot()
	switch kind {
	case 'a':
		p.i += 2 // a:
		if p.b[p.i-1] != ':' {
			return nil, p.errorf("expected ':'")
		}
		return p.array(depth, n)
	case 'O':
		// O:8:"stdClass":2:{…}: the class name, then the properties.
		p.i += 2
		if p.b[p.i-1] != ':' {
			return nil, p.errorf("expected ':'")
		}
		if _, err := p.str0(':'); err != nil {
			return nil, err
		}
		p.object[n] = true
		return p.array(depth, n)
	}
	v, err := p.scalar()
	if err != nil {
		return nil, err
	}
	return p.fill(n, v), nil
}

// reference reads R:n; or r:n; (after the letter): the n-th value, which
// must be complete. An r: names an object and takes a slot of its own.
func (p *phpReader) reference(object bool) (any, error) {
	if err := p.expect(':'); err != nil {
		return nil, err
	}
	s, err := p.until(';')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > len(p.slots) {
		return nil, p.errorf("reference %q: not a value read before", s)
	}
	if !p.done[n-1] {
		return nil, p.errorf("reference %q: to an array still being read (a cycle)", s)
	}
	v := p.slots[n-1]
	if object {
		if !p.object[n-1] {
			return nil, p.errorf("object reference %q: to a value that is not an object", s)
		}
		m := p.slot()
		p.object[m] = true
		p.fill(m, v)
	}
	return v, nil
}

// scalar reads N; b: i: d: s: S:.
func (p *phpReader) scalar() (any, error) {
	kind := p.b[p.i]
	p.i++
	if kind == 'N' {
		return nil, p.expect(';')
	}
	if err := p.expect(':'); err != nil {
		return nil, err
	}
	switch kind {
	case 'b':
		s, err := p.until(';')
		if err != nil {
			return nil, err
		}
		switch s {
		case "0":
			return false, nil
		case "1":
			return true, nil
		}
		return nil, p.errorf("bool %q", s)
	case 'i':
		s, err := p.until(';')
		if err != nil {
			return nil, err
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, p.errorf("int %q", s)
		}
		return n, nil
	case 'd':
		s, err := p.until(';')
		if err != nil {
			return nil, err
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, p.errorf("float %q: not a finite number", s)
		}
		return f, nil
	case 's':
		return p.str0(';')
	case 'S':
		return p.escaped()
	case 'C':
		return nil, p.errorf("custom-serialized objects (C:) are not read")
	}
	return nil, p.errorf("unknown type %q", kind)
}

// length reads a string's or array's declared length, which the rest of
// the input must be able to hold (no allocation on the input's word).
func (p *phpReader) length(what string) (int, error) {
	ns, err := p.until(':')
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(ns)
	if err != nil || n < 0 || ns[0] == '+' || n > len(p.b)-p.i {
		return 0, p.errorf("%s length %q", what, ns)
	}
	return n, nil
}

// str0 reads N:"…" and then end (N counts bytes, as PHP does).
func (p *phpReader) str0(end byte) (string, error) {
	n, err := p.length("string")
	if err != nil {
		return "", err
	}
	if err := p.expect('"'); err != nil {
		return "", err
	}
	if p.i+n > len(p.b) {
		return "", p.errorf("string of %d bytes runs past the end", n)
	}
	s := string(p.b[p.i : p.i+n])
	p.i += n
	if err := p.expect('"'); err != nil {
		return "", err
	}
	return s, p.expect(end)
}

// escaped reads the rest of S:N:"…"; whose bytes may be \hh escapes.
func (p *phpReader) escaped() (string, error) {
	n, err := p.length("string")
	if err != nil {
		return "", err
	}
	if err := p.expect('"'); err != nil {
		return "", err
	}
	out := make([]byte, 0, n)
	for len(out) < n {
		if p.i >= len(p.b) {
			return "", p.errorf("string of %d bytes runs past the end", n)
		}
		c := p.b[p.i]
		if c != '\\' {
			out = append(out, c)
			p.i++
			continue
		}
		if p.i+3 > len(p.b) {
			return "", p.errorf("escape runs past the end")
		}
		v, err := strconv.ParseUint(string(p.b[p.i+1:p.i+3]), 16, 8)
		if err != nil {
			return "", p.errorf("escape %q: want \\ and two hex digits", p.b[p.i:p.i+3])
		}
		out = append(out, byte(v))
		p.i += 3
	}
	if err := p.expect('"'); err != nil {
		return "", err
	}
	return string(out), p.expect(';')
}

// canonicalInt is a string key PHP turns into an integer key.
var canonicalInt = regexp.MustCompile(`^(0|-?[1-9][0-9]*)$`)

// key reads an array key: an integer, or a string (S: too), a canonical
// integer string being that integer. Keys take no slot.
func (p *phpReader) key() (any, error) {
	if p.i >= len(p.b) {
		return nil, p.errorf("unexpected end of input")
	}
	switch p.b[p.i] {
	case 'i', 's', 'S':
	default:
		return nil, p.errorf("array key of type %q", p.b[p.i])
	}
	k, err := p.scalar()
	if err != nil {
		return nil, err
	}
	if s, ok := k.(string); ok && canonicalInt.MatchString(s) {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
	}
	return k, nil
}

// array reads N:{key;value…} into slot n: a list when its keys are
// 0..N-1 in order, a map otherwise.
func (p *phpReader) array(depth, n int) (any, error) {
	count, err := p.length("array")
	if err != nil {
		return nil, err
	}
	if err := p.expect('{'); err != nil {
		return nil, err
	}
	// Memory on evidence: the declared count sizes nothing beyond a few
	// entries (a:7999900:{ nested a hundred times in 8 MB reserved
	// gigabytes); entries read make the arrays grow.
	room := min(count, 16)
	keys := make([]string, 0, room)
	vals := make([]any, 0, room)
	at := make(map[string]int, room) // a key given twice keeps its place, takes the new value
	for range count {
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		ks := fmt.Sprint(key)
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if i, seen := at[ks]; seen {
			vals[i] = v
			continue
		}
		at[ks] = len(keys)
		keys = append(keys, ks)
		vals = append(vals, v)
	}
	list := true // keys 0..n-1 in order, integers all
	for i, k := range keys {
		if k != strconv.Itoa(i) {
			list = false
			break
		}
	}
	if err := p.expect('}'); err != nil {
		return nil, err
	}
	if list && !p.object[n] { // an object is a map of its properties, even empty
		return p.fill(n, vals), nil
	}
	m := make(map[string]any, len(keys))
	for i, k := range keys {
		m[k] = vals[i]
	}
	return p.fill(n, m), nil
}

package script

// The JSON encoder as it was before it appended to one buffer and walked
// tables with Next (issue 16): TestToJSONMatchesTheOldEncoder holds the
// new one to its output, byte for byte.

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

func oldToJSON(v lua.LValue) ([]byte, error) {
	var buf bytes.Buffer
	if err := oldEncodeValue(&buf, v, 0); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func oldEncodeValue(buf *bytes.Buffer, v lua.LValue, depth int) error {
	if buf.Len() > maxJSONOutput {
		return errJSONTooBig
	}
	if depth > maxJSONDepth {
		return fmt.Errorf("json.encode: nested deeper than %d (a cycle?)", maxJSONDepth)
	}
	switch v := v.(type) {
	case *lua.LNilType:
		buf.WriteString("null")
	case lua.LBool:
		buf.WriteString(strconv.FormatBool(bool(v)))
	case lua.LNumber:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("json.encode: %v is not a JSON number", f)
		}
		if f == math.Trunc(f) && math.Abs(f) < 1e15 {
			buf.WriteString(strconv.FormatInt(int64(f), 10))
		} else {
			buf.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
		}
	case lua.LString:
		oldAppendJSONString(buf, string(v))
	case *lua.LUserData:
		if isNull(v) {
			buf.WriteString("null")
			return nil
		}
		return fmt.Errorf("json.encode: cannot encode userdata")
	case *lua.LTable:
		n := v.Len()
		isArray := n > 0
		count := 0
		v.ForEach(func(k, _ lua.LValue) {
			count++
			if kn, ok := k.(lua.LNumber); !ok || float64(kn) != math.Trunc(float64(kn)) || kn < 1 || int(kn) > n {
				isArray = false
			}
		})
		if isArray && count == n {
			buf.WriteByte('[')
			for i := 1; i <= n; i++ {
				if i > 1 {
					buf.WriteByte(',')
				}
				if err := oldEncodeValue(buf, v.RawGetInt(i), depth+1); err != nil {
					return err
				}
			}
			buf.WriteByte(']')
			return nil
		}
		type kv struct {
			k string
			v lua.LValue
		}
		var pairs []kv
		var err error
		v.ForEach(func(k, val lua.LValue) {
			switch k.(type) {
			case lua.LString, lua.LNumber:
				pairs = append(pairs, kv{k.String(), val})
			default:
				err = fmt.Errorf("json.encode: a %s key", k.Type())
			}
		})
		if err != nil {
			return err
		}
		sort.Slice(pairs, func(i, j int) bool { return pairs[i].k < pairs[j].k })
		buf.WriteByte('{')
		for i, p := range pairs {
			if i > 0 {
				buf.WriteByte(',')
			}
			oldAppendJSONString(buf, p.k)
			buf.WriteByte(':')
			if err := oldEncodeValue(buf, p.v, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return fmt.Errorf("json.encode: cannot encode a %s", v.Type())
	}
	return nil
}

// appendJSONString writes s as json.Marshal would (HTML-safe, invalid
// UTF-8 as U+FFFD) without its reflection: a hook's reply is mostly
// strings.
func oldAppendJSONString(buf *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	buf.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			buf.WriteString(s[start:i])
			switch c {
			case '"', '\\':
				buf.WriteByte('\\')
				buf.WriteByte(c)
			case '\n':
				buf.WriteString(`\n`)
			case '\r':
				buf.WriteString(`\r`)
			case '\t':
				buf.WriteString(`\t`)
			case '\b':
				buf.WriteString(`\b`)
			case '\f':
				buf.WriteString(`\f`)
			default:
				buf.WriteString(`\u00`)
				buf.WriteByte(hex[c>>4])
				buf.WriteByte(hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			buf.WriteString(s[start:i])
			buf.WriteString(`\ufffd`)
		case r == '\u2028' || r == '\u2029':
			buf.WriteString(s[start:i])
			buf.WriteString(`\u202`)
			buf.WriteByte(hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	buf.WriteString(s[start:])
	buf.WriteByte('"')
}

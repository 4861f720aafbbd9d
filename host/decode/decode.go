// Package decode turns partners' answers into the values scripts get as
// data, by the offer's format: json, xml, form, serialize (PHP) or text.
// Status checks and sends both use it.
package decode

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strconv"
	"strings"
)

// Decode turns a partner's answer into the value check.lua gets as data,
// by the offer's format. The result is what host/script hands to Lua:
// JSON stays bytes (its parser builds Lua tables directly); the other
// formats become maps, slices, strings, int64s, float64s, bools and nils.
func Decode(format string, body []byte) (any, error) {
	switch format {
	case "", "json":
		if !json.Valid(body) {
			return nil, errors.New("json: not a valid JSON document")
		}
		return json.RawMessage(body), nil
	case "text":
		return string(body), nil
	case "form":
		return decodeForm(body)
	case "xml":
		return decodeXML(body)
	case "serialize":
		return decodeSerialize(body)
	}
	return nil, fmt.Errorf("unknown format %q (json, xml, form, serialize, text)", format)
}

// decodeForm reads a query string: a key given once is a string; a key
// given several times, or as key[], an array.
func decodeForm(body []byte) (any, error) {
	vals, err := url.ParseQuery(strings.TrimSpace(string(body)))
	if err != nil {
		return nil, fmt.Errorf("form: %w", err)
	}
	out := make(map[string]any, len(vals))
	for k, vs := range vals {
		name, isArray := strings.CutSuffix(k, "[]")
		if len(vs) == 1 && !isArray {
			out[name] = vs[0]
			continue
		}
		arr := make([]any, len(vs))
		for i, v := range vs {
			arr[i] = v
		}
		out[name] = arr
	}
	return out, nil
}

// decodeXML maps an XML document to tables:
//   - the document is a table holding its root element under the root's name;
//   - an element with neither attributes nor child elements is its text;
//   - otherwise it is a table: attributes as "@name", child elements by
//     name, its own non-blank text as "#text";
//   - a child name that repeats becomes an array of those children, in
//     order; one that appears once is the child itself.
//
// Namespaces are dropped from names (crm:order is "order").
func decodeXML(body []byte) (any, error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = true
	var root map[string]any
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("xml: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root != nil {
				return nil, errors.New("xml: more than one root element")
			}
			v, err := xmlElement(dec, se, 0)
			if err != nil {
				return nil, err
			}
			root = map[string]any{se.Name.Local: v}
		}
	}
	if root == nil {
		return nil, errors.New("xml: no root element")
	}
	return root, nil
}

const maxDepth = 100

func xmlElement(dec *xml.Decoder, start xml.StartElement, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("xml: nested deeper than %d", maxDepth)
	}
	node := map[string]any{}
	attrs := 0
	for _, a := range start.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue // a namespace declaration, not data
		}
		node["@"+a.Name.Local] = a.Value
		attrs++
	}
	var text strings.Builder
	children := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			children = true
			v, err := xmlElement(dec, t, depth+1)
			if err != nil {
				return nil, err
			}
			name := t.Name.Local
			switch prev := node[name].(type) {
			case nil:
				node[name] = v
			case xmlList:
				node[name] = append(prev, v)
			default:
				node[name] = xmlList{prev, v}
			}
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			s := strings.TrimSpace(text.String())
			if !children && attrs == 0 {
				return s, nil
			}
			if s != "" {
				node["#text"] = s
			}
			for k, v := range node {
				if l, ok := v.(xmlList); ok {
					node[k] = []any(l)
				}
			}
			return node, nil
		}
	}
}

// xmlList marks a repeated child while an element is being read, so that
// a child that is itself an array is not mistaken for repeats.
type xmlList []any

// decodeSerialize reads PHP's serialize() format: N; b:1; i:5; d:1.5;
// s:3:"abc"; a:2:{key;value…} (arrays whose keys are 0..n-1 in order
// become lists, others maps with string keys). Objects (O:) are read as
// maps of their properties. Malformed input is an error, never a panic.
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

func (p *phpReader) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, p.errorf("nested deeper than %d", maxDepth)
	}
	if p.i+1 >= len(p.b) {
		return nil, p.errorf("unexpected end of input")
	}
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
		return p.str()
	case 'a':
		return p.array(depth)
	case 'O':
		// O:8:"stdClass":2:{…}: the class name, then properties as an array.
		if _, err := p.str0(':'); err != nil {
			return nil, err
		}
		return p.array(depth)
	}
	return nil, p.errorf("unknown type %q", kind)
}

// str reads s:N:"…"; after the "s:" (N counts bytes, as PHP does).
func (p *phpReader) str() (any, error) {
	return p.str0(';')
}

func (p *phpReader) str0(end byte) (string, error) {
	ns, err := p.until(':')
	if err != nil {
		return "", err
	}
	n, err := strconv.Atoi(ns)
	if err != nil || n < 0 || n > len(p.b) {
		return "", p.errorf("string length %q", ns)
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

func (p *phpReader) array(depth int) (any, error) {
	ns, err := p.until(':')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(ns)
	if err != nil || n < 0 || n > len(p.b) {
		return nil, p.errorf("array length %q", ns)
	}
	if err := p.expect('{'); err != nil {
		return nil, err
	}
	keys := make([]string, 0, n)
	vals := make([]any, 0, n)
	list := true
	for k := 0; k < n; k++ {
		key, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		var ks string
		switch key := key.(type) {
		case int64:
			ks = strconv.FormatInt(key, 10)
			list = list && key == int64(k)
		case string:
			ks = key
			list = false
		default:
			return nil, p.errorf("array key of type %T", key)
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		keys = append(keys, ks)
		vals = append(vals, v)
	}
	if err := p.expect('}'); err != nil {
		return nil, err
	}
	if list {
		return vals, nil
	}
	m := make(map[string]any, n)
	for i, k := range keys {
		m[k] = vals[i]
	}
	return m, nil
}

// FormatName is an answer format as people read it: "" is json.
func FormatName(format string) string {
	if format == "" {
		return "json"
	}
	return format
}

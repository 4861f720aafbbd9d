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
	"net/url"
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

// FormatName is an answer format as people read it: "" is json.
func FormatName(format string) string {
	if format == "" {
		return "json"
	}
	return format
}

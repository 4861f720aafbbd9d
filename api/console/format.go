package console

import (
	"encoding/json"
	"fmt"
	"html/template"
	"strconv"
	"time"

	"leadhost/store"
)

// funcs are the templates' helpers: how values look on a page.
var funcs = template.FuncMap{
	"status": statusText,
	"when":   when,
	"stage":  func(s store.Status) string { return store.Stage(s, 0, nil) },
	"pretty": prettyJSON,
	"id":     func(id uint64) string { return strconv.FormatUint(id, 10) },
	"num":    func(s store.Status) int { return int(s) },
}

// statusText is a status as the console shows it: its number and code
// with the seed's Russian label beside them ("2 processing · Обработка").
func statusText(s store.Status) string {
	if !s.Valid() {
		return strconv.Itoa(int(s))
	}
	return fmt.Sprintf("%d %s · %s", s, s, s.Label())
}

// when is a time as the console shows it, in UTC; "" for none.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// prettyJSON indents a journal entry's detail for reading.
func prettyJSON(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return string(raw)
	}
	return string(b)
}

package script

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestLeadAddReadsItsTable holds core.lead.add's reading of its table
// (walked with Next since issue 16, ForEach before) to what it was: the
// lead it would add, in a shadow run, or the error it raises.
func TestLeadAddReadsItsTable(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	p := NewPool(Limits{})
	req := HookRequest{Method: "GET", Query: map[string][]string{"order": {"S9"}, "phone": {"79990000001"}}}
	for _, c := range []struct{ name, src, want string }{
		{"from req", `core.lead.add{ key = req.query.order, fields = { phone = req.query.phone, name = "Ivan" } }`,
			`{"id":0,"created":true,"key":"S9","fields":{"name":"Ivan","phone":"79990000001"}}`},
		{"numbers and null", `core.lead.add{ key = 17, ext = 2.5, comment = "c", fields = { a = 1, b = 1.25, c = json.null, d = 1e15, [3] = "three" } }`,
			`{"id":0,"created":true,"key":"17","ext":"2.5","comment":"c","fields":{"3":"three","a":"1","b":"1.25","d":"1000000000000000"}}`},
		{"a status by name", `core.lead.add{ key = "k", status = "callback" }`, `{"id":0,"created":true,"key":"k","status":3}`},
		{"an unknown status", `return select(2, core.lead.add{ key = "k", status = "approved" })`, `0 added`},
		{"a status by number", `core.lead.add{ key = "k", status = 4 }`, `{"id":0,"created":true,"key":"k","status":4}`},
		{"the whole query as fields", `core.lead.add{ fields = req.query }`, `"fields":{"order":"S9","phone":"79990000001"}`},
		{"the whole req as fields", `return select(2, core.lead.add{ fields = req })`, `0 added`},
		{"an unknown field", `core.lead.add{ key = "k", colour = "red" }`, `hook.lua:1: core.lead.add: unknown field "colour"`},
		{"fields not a table", `core.lead.add{ fields = "x" }`, `hook.lua:1: core.lead.add: fields is a string, not a table`},
		{"a status of a table", `core.lead.add{ status = {} }`, `hook.lua:1: core.lead.add: status is a table, not a number or a name`},
		{"empty", `core.lead.add{}`, `{"id":0,"created":true}`},
	} {
		s := mustCompile(t, "scripts/shop/hook.lua", c.src)
		res, err := p.RunHook(context.Background(), s, Hook{Store: st, Offer: "shop", Request: req, Shadow: true})
		var got string
		switch {
		case err != nil:
			got = "error: " + err.Error()
		case len(res.Added) != 1:
			got = fmt.Sprintf("%d added", len(res.Added))
		default:
			b, _ := json.Marshal(res.Added[0])
			got = string(b)
		}
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}

// core.lead.get gives a lead's cash as edit's cash takes it: the payouts
// set, as decimal text, and their currency; one not set is absent (the
// offer's rate applies), and a lead without any has an empty table.
func TestLeadGetReadsCash(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	req := HookRequest{Method: "GET"}
	checkReplies(t, st, []hookCase{
		{"none set", req, `local id = core.lead.add{ key = "c1" } return tostring(next(core.lead.get(id).cash))`, "nil"},
		{"as edited", req, `local id = core.lead.add{ key = "c2" }
			core.lead.edit(id, { cash = { pay = "300.50", ref = 7, cc = "RUB" } })
			local c = core.lead.get(id).cash
			return c.pay .. " " .. c.ref .. " " .. tostring(c.wm) .. " " .. c.cc`, "300.50 7 nil RUB"},
		{"edited again from what was read", req, `local id = core.lead.add{ key = "c3" }
			core.lead.edit(id, { cash = { wm = "100" } })
			local c = core.lead.get(id).cash
			core.lead.edit(id, { cash = { wm = c.wm + 50 } })
			return core.lead.get(id).cash.wm`, "150"},
	})
}

package script

import (
	"context"
	"strings"
	"testing"
	"time"

	"leadhost/store"
)

// Nothing a run does to shared values reaches the next run on the state.
func TestNoLeaksThroughSharedMetatables(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	leads := processingLeads(t, st, "acme", 1)
	p := NewPool(Limits{})
	ctx := context.Background()
	attack := mustCompile(t, "scripts/acme/check.lua", `
		secret = "x"
		local tries = {
			function() getmetatable(e2i).__index = function() return 999 end end,
			function() setmetatable(print, {__index = _G}) end,
			function() setmetatable(0, {__index = function() return "num" end}) end,
			function() setmetatable(true, {__call = function() return 1 end}) end,
			function() setmetatable(json.null, {__tostring = function() return "NOTNULL" end}) end,
			function() getmetatable(json.null).__index = {} end,
		}
		local blocked = 0
		for _, f in ipairs(tries) do if not pcall(f) then blocked = blocked + 1 end end
		assert(blocked == #tries, "only " .. blocked .. " of " .. #tries .. " blocked")`)
	if _, err := p.RunCheck(ctx, attack, st, Check{Offer: "acme", Leads: leads, Data: []byte(`[]`), Dry: true}); err != nil {
		t.Fatal(err)
	}
	probe := mustCompile(t, "scripts/acme/check.lua", `
		assert(e2i["5001"] == e2i[5001] and e2i[5001] ~= 999, "e2i")
		assert(rawget(_G, "secret") == nil and not pcall(function() return print.secret end), "globals")
		assert(tostring(json.decode("[null]")[1]) == "null", "json.null")`)
	for i := 0; i < 3; i++ {
		if _, err := p.RunCheck(ctx, probe, st, Check{Offer: "acme", Leads: leads, Data: []byte(`[]`), Dry: true}); err != nil {
			t.Fatalf("run %d after the attack: %v", i, err)
		}
	}
}

func TestOutOfRangeNumbersAreRefused(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	leads := processingLeads(t, st, "acme", 1)
	s := mustCompile(t, "scripts/acme/check.lua", `
		local id = e2i[5001]
		local a, wa = core.lead.edit(id, {status = 5, reason = 65537})
		local b, wb = core.lead.edit(id, {goal = -1})
		local c, wc = core.lead.edit(id, {goal = "4294967297"})
		local d, wd = core.lead.edit(id, {counts = 1e12})
		assert(not a and not b and not c and not d, "an out-of-range number was taken")
		return wa`)
	res, err := NewPool(Limits{}).RunCheck(context.Background(), s, st, Check{Offer: "acme", Leads: leads, Data: []byte(`[]`)})
	if err != nil || len(res.Refused) != 4 {
		t.Fatalf("refused %q, %v", res.Refused, err)
	}
	if got, _ := st.Get(context.Background(), leads[0].ID); got.Rev != 1 {
		t.Errorf("lead changed: %+v", got)
	}
}

// Only hooks add leads: a check or send run, dry or failing, must leave
// nothing behind.
func TestOnlyHooksAddLeads(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	leads := processingLeads(t, st, "acme", 1)
	s := mustCompile(t, "scripts/acme/check.lua", `core.lead.add{fields = {phone = "1"}}`)
	_, err := NewPool(Limits{}).RunCheck(context.Background(), s, st, Check{Offer: "acme", Leads: leads, Data: []byte(`[]`), Dry: true})
	if err == nil || !strings.Contains(err.Error(), "only hooks add leads") {
		t.Fatalf("err = %v", err)
	}
	if page, _ := st.List(context.Background(), store.Query{Offer: "acme"}); len(page.Leads) != 1 {
		t.Errorf("a check run added a lead: %d leads", len(page.Leads))
	}
}

func TestHugeResultsAreRefused(t *testing.T) {
	t.Parallel()
	// A generous deadline: this is about the size limit, not the deadline,
	// and -race makes encoding 16 MiB slow.
	p := NewPool(Limits{Timeout: time.Minute})
	for src, want := range map[string]string{
		`local t = {} for i = 1, 30 do t = {t, t} end return json.encode(t)`: "json.encode: result over",
		`local t = {} t[30000000] = 1 return #t`:                             "", // no 2.4 GB padding: the key goes to the hash part
	} {
		_, err := runString(t, p, src)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: err = %v, want %q", src, err, want)
		}
	}
}

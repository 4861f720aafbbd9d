package script

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"leadhost/store"
)

func openStore(t testing.TB) store.Store {
	t.Helper()
	s, err := store.Open(store.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// processingLeads adds leads in status 2 with exts 5001, 5002, … and
// returns them.
func processingLeads(t testing.TB, s store.Store, offer string, n int) []*store.Lead {
	t.Helper()
	var out []*store.Lead
	for i := 0; i < n; i++ {
		l, _, err := s.Add(context.Background(), store.NewLead{Offer: offer, Ext: fmt.Sprint(5001 + i), Status: store.StatusProcessing})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSeedHandlers(t *testing.T) {
	t.Parallel()
	type want struct {
		status  store.Status
		reason  store.Reason
		comment string
		pay     string
	}
	cases := []struct {
		handler string
		words   map[string][]string
		want    []want // per lead 5001…
		refused int
	}{
		// The seed's own switch tells cancel (status 5: the default reason, 2)
		// from trash (status 5, reason 6).
		{handler: "switch", want: []want{{status: 6}, {status: 5, reason: 2}, {status: 5, reason: 6}, {status: 2}}, refused: 1},
		{handler: "setstc", words: map[string][]string{"approve": {"lead_approve"}},
			want: []want{{status: 6, comment: "Подтвержден"}, {status: 3, comment: "Недозвон"},
				{status: 5, reason: 6, comment: "DUPLICATE"}, {status: 6, comment: "lead_approve"}, {status: 2}}, refused: 1},
		{handler: "finance", want: []want{{status: 6, comment: "deposit", pay: "150.50"}, {status: 3, comment: "callback"},
			{status: 6, comment: "deposit", pay: "99.9"}}},
	}
	for _, tc := range cases {
		t.Run(tc.handler, func(t *testing.T) {
			t.Parallel()
			st := openStore(t)
			ctx := context.Background()
			leads := processingLeads(t, st, "acme", len(tc.want))
			script := mustCompile(t, "scripts/acme/check.lua", string(fixture(t, tc.handler+".lua")))
			words, err := StandardWords().With(tc.words)
			if err != nil {
				t.Fatal(err)
			}
			p := NewPool(Limits{})
			res, err := p.RunCheck(ctx, script, Check{Store: st, Offer: "acme", Leads: leads, Data: fixture(t, tc.handler+".json"), Words: words})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Refused) != tc.refused {
				t.Errorf("refused %q, want %d", res.Refused, tc.refused)
			}
			for i, w := range tc.want {
				l, _ := st.Get(ctx, leads[i].ID)
				if l.Status != w.status || l.Reason != w.reason || l.Comment != w.comment || (w.pay != "" && l.Cash.Pay.String() != w.pay) {
					t.Errorf("lead %s: status %d reason %d comment %q pay %s; want %+v", l.Ext, l.Status, l.Reason, l.Comment, l.Cash.Pay, w)
				}
				hist, _ := st.History(ctx, l.ID)
				last := hist[len(hist)-1]
				if w.status != store.StatusProcessing && last.By != "script:scripts/acme/check.lua" {
					t.Errorf("lead %s: history by %q", l.Ext, last.By)
				}
			}
		})
	}
}

func TestCheckThatRaisesChangesNothing(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx := context.Background()
	leads := processingLeads(t, st, "acme", 3)
	script := mustCompile(t, "scripts/acme/check.lua", `
		core.lead.edit(e2i[5001], {accept = 1})
		core.lead.edit(e2i["5002"], {status = 5})
		error("partner changed its format")`)
	_, err := NewPool(Limits{}).RunCheck(ctx, script, Check{Store: st, Offer: "acme", Leads: leads, Data: []byte(`[]`)})
	if err == nil || !strings.Contains(err.Error(), "scripts/acme/check.lua:4: partner changed its format") {
		t.Fatalf("err = %v", err)
	}
	for _, l := range leads {
		if got, _ := st.Get(ctx, l.ID); got.Status != store.StatusProcessing || got.Rev != 1 {
			t.Errorf("lead %d changed by a run that raised: %+v", l.ID, got)
		}
	}
}

func TestCheckDryRunAndFences(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx := context.Background()
	leads := processingLeads(t, st, "acme", 2)
	other := processingLeads(t, st, "zeta", 1)[0]
	outside, _, _ := st.Add(ctx, store.NewLead{Offer: "acme", Status: store.StatusProcessing})
	script := mustCompile(t, "scripts/acme/check.lua", fmt.Sprintf(`
		assert(e2i[5001] == e2i["5001"] and ids[e2i[5001]] == 2 and ids[tostring(e2i[5001])] == 2)
		assert(i2t[e2i[5002]] > 0 and inid == nil)
		local ok1 = core.lead.edit(e2i[5001], {accept = 1})
		local ok2, why2 = core.lead.edit(%d, {accept = 1})    -- another offer's lead
		local ok3, why3 = core.lead.edit(%d, {accept = 1})    -- ours, but not in this check
		local ok4, why4 = core.lead.edit(e2i[424242], {accept = 1}) -- unknown to us
		local ok5, why5 = core.lead.edit(e2i[5002], {status = 13})
		local ok6, why6 = core.lead.edit(e2i[5002], {colour = "red"})
		return ok1, why2, why3, why4, why5, why6`, other.ID, outside.ID))
	var refused []string
	res, err := NewPool(Limits{}).RunCheck(ctx, script, Check{Store: st, Offer: "acme", Leads: leads, Data: []byte(`{}`), Dry: true})
	if err != nil {
		t.Fatal(err)
	}
	refused = res.Refused
	if len(res.Edits) != 1 || res.Edits[0].LeadID != leads[0].ID || len(refused) != 5 {
		t.Fatalf("dry run: edits %+v, refused %q", res.Edits, refused)
	}
	for i, want := range []string{"not among the leads", "not among the leads", "no lead id", "status 13 out of range", `unknown field "colour"`} {
		if !strings.Contains(refused[i], want) {
			t.Errorf("refusal %d = %q, want %q", i, refused[i], want)
		}
	}
	if got, _ := st.Get(ctx, leads[0].ID); got.Status != store.StatusProcessing {
		t.Errorf("dry run committed: %+v", got)
	}
}

// A handler names a goal by its code, as core.goal.bycode finds it.
func TestGoalByCode(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx := context.Background()
	id, err := st.DefineGoal(ctx, "acme", "upsell")
	if err != nil {
		t.Fatal(err)
	}
	leads := processingLeads(t, st, "acme", 2)
	s := mustCompile(t, "scripts/acme/check.lua", `
		assert(core.goal.bycode("acme", "upsell") == `+itoa(uint64(id))+`)
		assert(core.goal.bycode("acme", "downsell") == nil)
		core.lead.edit(e2i["5001"], {goal = "upsell"})
		local ok, why = core.lead.edit(e2i["5002"], {goal = "downsell"})
		assert(not ok and why:find("no goal \"downsell\""), why)`)
	if _, err := NewPool(Limits{}).RunCheck(ctx, s, Check{Store: st, Offer: "acme", Leads: leads, Data: []byte(`[]`)}); err != nil {
		t.Fatal(err)
	}
	if l, _ := st.Get(ctx, leads[0].ID); l.Goal != id {
		t.Errorf("lead goal %d, want %d", l.Goal, id)
	}
}

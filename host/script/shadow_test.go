package script

import (
	"context"
	"strings"
	"testing"
	"time"

	"leadhost/store"
)

// A candidate's hook in shadow sends nothing: http.request is a Lua error
// naming shadow mode, at the script's line.
func TestShadowRefusesHTTPRequest(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	s := mustCompile(t, "acme/next/hook.lua", "local x = 1\nlocal r = http.request{url = 'http://127.0.0.1:9/'}\nreturn 'sent'\n")
	_, err := NewPool(Limits{}).RunHook(context.Background(), s, Hook{Store: st, Offer: "acme", Request: HookRequest{Method: "GET"}, Shadow: true})
	if err == nil || !strings.Contains(err.Error(), "acme/next/hook.lua:2:") || !strings.Contains(err.Error(), "shadow mode") {
		t.Fatalf("error %v, want one at acme/next/hook.lua:2 naming shadow mode", err)
	}
}

// A hook in shadow adds and edits nothing: its adds answer as the live
// run's did, and the result says what it would have done.
func TestShadowHookChangesNothing(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	old := processingLeads(t, st, "acme", 1)[0]
	s := mustCompile(t, "acme/next/hook.lua", `
		local id, created = core.lead.add{key = req.query.k, fields = {phone = "79001234567"}}
		core.lead.edit(`+itoa(old.ID)+`, {status = 5, reason = 2})
		return {id = id, created = created}`)
	res, err := NewPool(Limits{}).RunHook(context.Background(), s, Hook{Store: st, Offer: "acme", Shadow: true,
		Request:  HookRequest{Method: "GET", Query: map[string][]string{"k": {"order-1"}}},
		StandIns: []AddedLead{{ID: 77, Created: true, Key: "order-1", Fields: map[string]string{"phone": "79001234567"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Reply.Body); got != `{"created":true,"id":77}` {
		t.Errorf("reply %s, want the live add's id", got)
	}
	if len(res.Added) != 1 || res.Added[0].Key != "order-1" || res.Added[0].Fields["phone"] != "79001234567" {
		t.Errorf("added %+v", res.Added)
	}
	if len(res.Edits) != 1 || res.Edits[0].LeadID != old.ID {
		t.Errorf("edits %+v, want lead %d's", res.Edits, old.ID)
	}
	page, err := st.List(context.Background(), store.Query{Offer: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Leads) != 1 || page.Leads[0].Status != store.StatusProcessing {
		t.Errorf("the store holds %d leads, the first in status %d: the shadow run changed it", len(page.Leads), page.Leads[0].Status)
	}
}

// An add in shadow that the live run did not make (a replay of the
// journal runs both versions in shadow) answers as the store would: the
// lead its key already made, not created; a new key, id 0, created.
func TestShadowAddWithoutStandInAnswersAsTheStore(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	known, _, err := st.Add(context.Background(), store.NewLead{Offer: "acme", Key: "order-9"})
	if err != nil {
		t.Fatal(err)
	}
	s := mustCompile(t, "acme/hook.lua", `
		local id, created = core.lead.add{key = req.query.k}
		return {id = id, created = created}`)
	for _, tc := range []struct{ key, want string }{
		{"order-9", `{"created":false,"id":` + itoa(known.ID) + `}`},
		{"order-10", `{"created":true,"id":0}`},
	} {
		res, err := NewPool(Limits{}).RunHook(context.Background(), s, Hook{Store: st, Offer: "acme", Shadow: true,
			Request: HookRequest{Method: "GET", Query: map[string][]string{"k": {tc.key}}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(res.Reply.Body); got != tc.want {
			t.Errorf("key %s: reply %s, want %s", tc.key, got, tc.want)
		}
	}
}

// An add in shadow whose ext another lead has is refused as the store
// refuses it, not answered id 0, created.
func TestShadowAddOfKnownExtIsRefusedAsTheStore(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	if _, _, err := st.Add(context.Background(), store.NewLead{Offer: "acme", Ext: "x-1"}); err != nil {
		t.Fatal(err)
	}
	s := mustCompile(t, "acme/hook.lua", `
		local id, second = core.lead.add{ext = req.query.e}
		if id == nil then return {refused = second} end
		return {id = id, created = second}`)
	for _, tc := range []struct{ ext, want string }{
		{"x-1", `already has ext`},
		{"x-2", `{"created":true,"id":0}`},
	} {
		res, err := NewPool(Limits{}).RunHook(context.Background(), s, Hook{Store: st, Offer: "acme", Shadow: true,
			Request: HookRequest{Method: "GET", Query: map[string][]string{"e": {tc.ext}}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(res.Reply.Body); !strings.Contains(got, tc.want) {
			t.Errorf("ext %s in shadow: reply %s, want %s (as the store answers)", tc.ext, got, tc.want)
		}
	}
}

// A candidate identical to the live version answers as it did when a
// live add was refused: the refused add does not take the next one's
// stand-in.
func TestShadowStandInsPairWithTheSameAdds(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ctx := context.Background()
	if _, _, err := st.Add(ctx, store.NewLead{Offer: "acme", Ext: "E1"}); err != nil {
		t.Fatal(err)
	}
	s := mustCompile(t, "acme/hook.lua", `
		local out = {}
		for _, e in ipairs({"E1", "E2"}) do
			local id, created = core.lead.add{ext = e}
			out[#out + 1] = id and (e .. ":" .. id .. ":" .. tostring(created)) or (e .. ":refused")
		end
		return table.concat(out, " ")`)
	p := NewPool(Limits{})
	req := HookRequest{Method: "GET"}
	live, err := p.RunHook(ctx, s, Hook{Store: st, Offer: "acme", Request: req})
	if err != nil {
		t.Fatal(err)
	}
	cand, err := p.RunHook(ctx, s, Hook{Store: st, Offer: "acme", Request: req, Shadow: true, StandIns: live.Added, Seed: live.Read})
	if err != nil {
		t.Fatal(err)
	}
	if l, c := string(live.Reply.Body), string(cand.Reply.Body); l != c {
		t.Errorf("the same hook: live answered %q, the candidate in shadow %q", l, c)
	}
}

// send.lua in shadow starts from the lead as the live run found it and
// commits nothing; its outcome lists the edits it would make.
func TestShadowSendCommitsNothing(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	lead, _, err := st.Add(context.Background(), store.NewLead{Offer: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	s := mustCompile(t, "acme/next/send.lua", "return data.id")
	out, err := NewPool(Limits{}).RunSend(context.Background(), s, Send{Store: st, Lead: lead, Shadow: true,
		Response: SendResponse{Status: 200, Data: map[string]any{"id": "X9"}}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Ext != "X9" || len(out.Edits) != 1 || out.Edits[0].LeadID != lead.ID {
		t.Errorf("outcome %+v", out)
	}
	now, err := st.Get(context.Background(), lead.ID)
	if err != nil {
		t.Fatal(err)
	}
	if now.Status != lead.Status || now.Ext != "" {
		t.Errorf("lead after a shadow send: status %d ext %q", now.Status, now.Ext)
	}
}

// A candidate that computes for long never holds a slot a live run
// waits for: shadow runs take turns in a slot of their own. Before, a
// looping candidate held the only slot of a 2-core machine and a live
// hook of some ms of Lua waited for its deadline.
func TestShadowRunTakesNoLiveSlot(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	gov := NewGovernor(0, 2) // one slot
	candidate := NewPool(Limits{Timeout: 5 * time.Second, Governor: gov})
	live := NewPool(Limits{Timeout: 30 * time.Second, Governor: gov})
	loop := mustCompile(t, "acme/next/hook.lua", "local n = 0 while true do n = n + 1 end\n")
	long := mustCompile(t, "acme/hook.lua", "local n = 0 for i = 1, 600000 do n = n + i end\nreturn {ok = true}\n")
	timed := func() time.Duration {
		start := time.Now()
		if _, err := live.RunHook(context.Background(), long, Hook{Store: st, Offer: "acme", Request: HookRequest{Method: "GET"}}); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	alone := timed()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		candidate.RunHook(ctx, loop, Hook{Store: st, Offer: "acme", Request: HookRequest{Method: "GET"}, Shadow: true})
	}()
	time.Sleep(300 * time.Millisecond) // the candidate holds its slot
	if beside := timed(); beside > 5*alone+time.Second {
		t.Errorf("the live hook took %v beside a looping candidate, %v alone", beside, alone)
	}
	cancel()
	<-done
}

// A live hook keeps the leads as it first read them, and a
// shadow run seeded with them starts from there: the same script makes
// the same edit, although the live one is committed.
func TestShadowHookSeededWithTheLiveSnapshot(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	old := processingLeads(t, st, "acme", 1)[0]
	src := "core.lead.edit(" + itoa(old.ID) + ", {status = 5, comment = 'cancelled'})\nreturn {ok = true}\n"
	live, cand := mustCompile(t, "acme/hook.lua", src), mustCompile(t, "acme/next/hook.lua", src)
	p := NewPool(Limits{})
	req := HookRequest{Method: "GET"}
	res, err := p.RunHook(context.Background(), live, Hook{Store: st, Offer: "acme", Request: req})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Read) != 1 || res.Read[0].ID != old.ID || res.Read[0].Status != store.StatusProcessing {
		t.Fatalf("read %+v, want lead %d as it was before the edit", res.Read, old.ID)
	}
	for _, tc := range []struct {
		name  string
		seed  []*store.Lead
		edits int
	}{
		{"seeded: from the leads the live run found", res.Read, 1},
		{"not seeded: from what the live run committed", nil, 0},
	} {
		got, err := p.RunHook(context.Background(), cand, Hook{Store: st, Offer: "acme", Request: req, Shadow: true, Seed: tc.seed})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Edits) != tc.edits {
			t.Errorf("%s: edits %+v, want %d", tc.name, got.Edits, tc.edits)
		}
	}
}

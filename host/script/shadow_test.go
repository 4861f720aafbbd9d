package script

import (
	"context"
	"strings"
	"testing"

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
		StandIns: []AddedLead{{ID: 77, Created: true}}})
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

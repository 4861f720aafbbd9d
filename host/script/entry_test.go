package script

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"leadhost/host/partner"
	"leadhost/store"
)

func TestPrepareRewritesTheRequest(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	leads := processingLeads(t, st, "acme", 3)
	s := mustCompile(t, "scripts/acme/prepare.lua", `
		assert(idsl == idl[1] .. "," .. idl[2] .. "," .. idl[3], "idsl")
		assert(idel == "5001,5002,5003", "idel")
		assert(ide[idl[2]] == "5002" and ide[tostring(idl[2])] == "5002", "ide by number and text")
		request.method = "POST"
		request.headers["Content-Type"] = "application/json"
		request.body = json.encode({ids = idl, key = request.fields.key})
		request.fields = {}`)
	req := &partner.Request{URL: "https://crm.example/status", Method: "GET", Fields: map[string][]string{"key": {"K"}}}
	if _, err := NewPool(Limits{}).RunPrepare(context.Background(), s, Prepare{Leads: leads, Request: req}); err != nil {
		t.Fatal(err)
	}
	want := `{"ids":[` + strings.Join([]string{itoa(leads[0].ID), itoa(leads[1].ID), itoa(leads[2].ID)}, ",") + `],"key":"K"}`
	if req.Method != "POST" || req.Body != want || req.Headers["Content-Type"] != "application/json" || len(req.Fields) != 0 {
		t.Errorf("request after prepare: %+v, want body %s", req, want)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func TestDateMacros(t *testing.T) {
	t.Parallel()
	msk := time.FixedZone("MSK", 3*3600)
	from := time.Date(2026, 11, 1, 21, 0, 0, 0, time.UTC) // 2 Nov 00:00 in Moscow
	to := from.Add(7*24*time.Hour - time.Second)          // the range's last second, as the runner gives it
	got := DateMacros(from, to, msk)
	// The exclusive end (tom, ftom, utom) is the instant after the range:
	// a range ending 2026-11-08 23:59:59 ends before 2026-11-09 00:00:00.
	want := map[string]string{"from": "2026-11-02", "to": "2026-11-08", "ffrom": "2026-11-02 00:00:00",
		"fto": "2026-11-08 23:59:59", "ufrom": "1793566800", "tom": "2026-11-09", "ftom": "2026-11-09 00:00:00",
		"utom": "1794171600"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	s := mustCompile(t, "scripts/acme/prepare.lua", `request.fields.period = from .. "/" .. to .. "/" .. utom`)
	req := &partner.Request{URL: "https://x", Method: "GET"}
	if _, err := NewPool(Limits{}).RunPrepare(context.Background(), s, Prepare{From: from, To: to, Location: msk, Request: req}); err != nil {
		t.Fatal(err)
	}
	if f := sortedFields(req); len(f) != 1 || f[0] != "period=2026-11-02/2026-11-08/"+got["utom"] {
		t.Errorf("fields %v", f)
	}
}

func TestHookAddsOneLeadPerOrder(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	s := mustCompile(t, "scripts/getcourse/hook.lua", `
		local q = req.query
		if not q.phone then return {error = "phone is required"}, 422 end
		local id, created = core.lead.add{key = q.order_id, fields = {phone = q.phone, name = q.name, ip = req.ip}}
		if created then return {id = id}, 201 end
		return {id = id, repeated = true}`)
	p := NewPool(Limits{})
	call := func(query map[string][]string) HookResult {
		res, err := p.RunHook(context.Background(), s, Hook{Store: st, Offer: "getcourse", Request: HookRequest{Method: "GET", Query: query, IP: "10.0.0.1"}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	q := map[string][]string{"order_id": {"GC-1001"}, "phone": {"79990001122"}, "name": {"Иван"}}
	first, again := call(q), call(q)
	if first.Reply.Status != 201 || again.Reply.Status != 200 || !strings.Contains(string(again.Reply.Body), `"repeated":true`) {
		t.Fatalf("replies %d %s / %d %s", first.Reply.Status, first.Reply.Body, again.Reply.Status, again.Reply.Body)
	}
	page, _ := st.List(context.Background(), store.Query{Offer: "getcourse"})
	if len(page.Leads) != 1 || page.Leads[0].Fields["name"] != "Иван" || page.Leads[0].Fields["ip"] != "10.0.0.1" {
		t.Fatalf("leads %+v", page.Leads)
	}
	if bad := call(map[string][]string{"order_id": {"GC-1002"}}); bad.Reply.Status != 422 || string(bad.Reply.Body) != `{"error":"phone is required"}` {
		t.Errorf("reply to a call without phone: %d %s", bad.Reply.Status, bad.Reply.Body)
	}
}

// A hook is told, not stopped, when the store refuses a lead: a taken
// ext, a status out of range, an empty key come back as nil, why for the
// hook to answer with; a wrong argument type is a programming error and
// raises with the script's line.
func TestLeadAddRefusalsAreAnswers(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	p := NewPool(Limits{})
	run := func(src string) (HookResult, error) {
		s := mustCompile(t, "scripts/shop/hook.lua", src)
		return p.RunHook(context.Background(), s, Hook{Store: st, Offer: "shop", Request: HookRequest{Method: "GET"}})
	}
	res, err := run(`
		local first = core.lead.add{ext = "E1", fields = {phone = "1"}}
		local taken, why1 = core.lead.add{ext = "E1", fields = {phone = "2"}}
		local bad, why2 = core.lead.add{status = 99}
		local named = core.lead.add{ext = "E2", status = "processing"}
		return {first = first, taken = taken == nil, why1 = why1, bad = bad == nil, why2 = why2, named = core.lead.get(named).status}`)
	if err != nil {
		t.Fatal(err)
	}
	var reply struct {
		First      int
		Taken, Bad bool
		Why1, Why2 string
		Named      int
	}
	if err := json.Unmarshal(res.Reply.Body, &reply); err != nil {
		t.Fatalf("reply %s", res.Reply.Body)
	}
	if reply.First != 1 || !reply.Taken || !strings.Contains(reply.Why1, `already has ext "E1"`) || !reply.Bad ||
		!strings.Contains(reply.Why2, "status 99 out of range 1..12") || reply.Named != 2 {
		t.Errorf("reply %s", res.Reply.Body)
	}
	if len(res.Refused) != 2 {
		t.Errorf("refused %q, want the two refusals journaled", res.Refused)
	}
	if _, err := run("\ncore.lead.add(\"E3\")\n"); err == nil || !strings.Contains(err.Error(), "scripts/shop/hook.lua:2:") {
		t.Errorf("a wrong argument type: %v, want an error at line 2", err)
	}
}

func TestSendOutcomes(t *testing.T) {
	t.Parallel()
	s := mustCompile(t, "scripts/offerum/send.lua", `
		if response.status ~= 200 or type(data) ~= "table" then return nil end
		if data.status == "ok" then return data.id end
		if data.error == "duplicate" then return -7 end
		return false`)
	cases := []struct {
		name   string
		resp   SendResponse
		status store.Status
		ext    string
		reason store.Reason
		retry  bool
	}{
		{"accepted", SendResponse{Status: 200, Data: []byte(`{"status":"ok","id":9007199254740993}`)}, store.StatusProcessing, "9007199254740993", 0, false},
		{"duplicate", SendResponse{Status: 200, Data: []byte(`{"status":"error","error":"duplicate"}`)}, store.StatusCancel, "", store.ReasonDuplicate, false},
		{"partner down", SendResponse{Status: 502, Body: []byte("Bad Gateway")}, store.StatusNew, "", 0, true},
		{"garbage", SendResponse{Status: 200, Data: "<html>oops</html>"}, store.StatusNew, "", 0, true},
		{"unknown answer", SendResponse{Status: 200, Data: []byte(`{"status":"maybe"}`)}, store.StatusNew, "", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := openStore(t)
			ctx := context.Background()
			lead, _, _ := st.Add(ctx, store.NewLead{Offer: "offerum", Fields: map[string]string{"phone": "7999"}})
			out, err := NewPool(Limits{}).RunSend(ctx, s, Send{Store: st, Lead: lead, Response: tc.resp})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := st.Get(ctx, lead.ID)
			if out.Retry != tc.retry || got.Status != tc.status || got.Ext != tc.ext || got.Reason != tc.reason {
				t.Errorf("outcome %+v, lead status %d ext %q reason %d", out, got.Status, got.Ext, got.Reason)
			}
		})
	}
}

// sortedFields lists a request's fields in a stable order.
func sortedFields(r *partner.Request) []string {
	var out []string
	for k, vs := range r.Fields {
		out = append(out, k+"="+strings.Join(vs, ","))
	}
	sort.Strings(out)
	return out
}

func TestOnlyHooksAddLeads(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	leads := processingLeads(t, st, "acme", 1)
	s := mustCompile(t, "scripts/acme/check.lua", `core.lead.add{fields = {phone = "1"}}`)
	_, err := NewPool(Limits{}).RunCheck(context.Background(), s, Check{Store: st, Offer: "acme", Leads: leads, Data: []byte(`[]`), Dry: true})
	if err == nil || !strings.Contains(err.Error(), "only hooks add leads") {
		t.Fatalf("err = %v", err)
	}
	if page, _ := st.List(context.Background(), store.Query{Offer: "acme"}); len(page.Leads) != 1 {
		t.Errorf("a check run added a lead: %d leads", len(page.Leads))
	}
}

// A hook's reply that cannot be sent is the script's error, naming its
// file: a function or a table holding itself is not answered 200 with a
// pointer, nor 500 without saying which script.
func TestHookReplyThatCannotBeSent(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	for _, tc := range []struct {
		name, src, reply, err string
	}{
		{"a table", `return {ok = true}`, `{"ok":true}`, ""},
		{"a number", `return 42`, `42`, ""},
		{"a boolean", `return true`, `true`, ""},
		{"a function", `return function() end`, "", "acme/hook.lua: its reply: hook returned a function: want a table"},
		{"a table holding itself", "local t = {}\nt.self = t\nreturn t", "", "acme/hook.lua: its reply: json.encode: nested deeper than"},
		{"a status and a header", `return "x", 201, {["X-A"] = "1", ["X-N"] = 2}`, "x", ""},
		{"a 1xx status", `return "x", 101`, "", "want a number 200..599 (1xx is not a final answer)"},
		{"a status as text", `return "x", "201"`, "", `status "201", a string`},
		{"a header name with a space", `return "x", 200, {["Bad Header"] = "1"}`, "", `header "Bad Header": not a header name`},
		{"a header value of a list", `return "x", 200, {["X-A"] = {1, 2}}`, "", "header X-A as a table"},
		{"a header value with a line break", `return "x", 200, {["X-A"] = "1\r\nSet-Cookie: a=b"}`, "", "header X-A with a line break"},
		{"headers not a table", `return "x", 200, "notatable"`, "", "headers as a string"},
	} {
		s := mustCompile(t, "acme/hook.lua", tc.src)
		res, err := NewPool(Limits{}).RunHook(context.Background(), s, Hook{Store: st, Offer: "acme", Request: HookRequest{Method: "GET"}})
		switch {
		case tc.err == "" && (err != nil || string(res.Reply.Body) != tc.reply):
			t.Errorf("%s: reply %q, %v; want %q", tc.name, res.Reply.Body, err, tc.reply)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: reply %q, err %v; want an error with %q", tc.name, res.Reply.Body, err, tc.err)
		}
	}
}

// A key, ext, comment or field that is a list (a parameter the caller
// sent twice: req.query.click = {"c9", "c9"}) is refused with why, not
// stored as Lua's "table: 0x…", which was a new text each run: a
// repeated call made a second lead.
func TestLeadAddRefusesAListForText(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	s := mustCompile(t, "scripts/shop/hook.lua", `
		local q = req.query
		local id, why = core.lead.add{key = q.click, ext = q.ext, fields = {phone = q.phone, sub1 = q.sub}}
		if not id then return {error = why}, 422 end
		return {lead = id}`)
	for _, tc := range []struct {
		name  string
		query map[string][]string
		code  int
		want  string
	}{
		{"one of each", map[string][]string{"click": {"c9"}, "phone": {"79990001122"}}, 200, `"lead":`},
		{"the key twice", map[string][]string{"click": {"c9", "c9"}}, 422, "key is a list (a parameter given more than once?), not text or a number"},
		{"the ext twice", map[string][]string{"click": {"c10"}, "ext": {"E9", "E9"}}, 422, "ext is a list"},
		{"a field twice", map[string][]string{"click": {"c11"}, "phone": {"1", "2"}}, 422, "fields.phone is a list"},
	} {
		res, err := NewPool(Limits{}).RunHook(context.Background(), s, Hook{Store: st, Offer: "shop", Request: HookRequest{Method: "GET", Query: tc.query}})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if res.Reply.Status != tc.code || !strings.Contains(string(res.Reply.Body), tc.want) || strings.Contains(string(res.Reply.Body), "table: 0x") {
			t.Errorf("%s: %d %s; want %d with %q", tc.name, res.Reply.Status, res.Reply.Body, tc.code, tc.want)
		}
	}
	page, err := st.List(context.Background(), store.Query{Offer: "shop"})
	if err != nil || len(page.Leads) != 1 {
		t.Errorf("%d leads stored, %v; want the one good call's", len(page.Leads), err)
	}
}

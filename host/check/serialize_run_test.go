package check

import (
	"context"
	"os"
	"testing"

	"leadhost/host/decode"
	"leadhost/host/script"
	"leadhost/store"
)

// A PHP-serialize answer, decoded, drives a real check.lua: the seed's
// finance handler approves on a first deposit with its payout.
func TestSerializedAnswerThroughCheckLua(t *testing.T) {
	t.Parallel()
	st, err := store.Open(store.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	var leads []*store.Lead
	for _, ext := range []string{"55501", "55502"} {
		l, _, err := st.Add(ctx, store.NewLead{Offer: "php-crm", Ext: ext, Status: store.StatusProcessing})
		if err != nil {
			t.Fatal(err)
		}
		leads = append(leads, l)
	}
	body, err := os.ReadFile("../decode/testdata/decode/orders.ser")
	if err != nil {
		t.Fatal(err)
	}
	data, err := decode.Decode("serialize", body)
	if err != nil {
		t.Fatal(err)
	}
	s, err := script.Compile("scripts/php-crm/check.lua", []byte(`
		for _, d in ipairs(data) do
			local oid = e2i[d.id] -- 55501 arrives as a number, "55502" as text
			if d.ftd then
				core.lead.edit(oid, {accept = 1, cash = {pay = d.payout, cc = "USD"}})
			else
				core.lead.setstc(oid, d.status)
			end
		end`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := script.NewPool(script.Limits{}).RunCheck(ctx, s, script.Check{Store: st, Offer: "php-crm", Leads: leads, Data: data})
	if err != nil || len(res.Refused) != 0 {
		t.Fatalf("run: %v, refused %q", err, res.Refused)
	}
	a, _ := st.Get(ctx, leads[0].ID)
	b, _ := st.Get(ctx, leads[1].ID)
	if a.Status != store.StatusPacking || a.Cash.Pay.String() != "150.5" || a.Cash.CC.Code() != "USD" {
		t.Errorf("55501: %+v", a)
	}
	if b.Status != store.StatusCancel || b.Comment != "отказ" {
		t.Errorf("55502: %+v", b)
	}
}

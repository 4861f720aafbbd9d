package script

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"leadhost/store"
)

// BenchmarkCheckHandler is a status check's handler over a decoded
// 1,000-item response, calling core.lead.edit per item, end to end with
// the batch committed (in-memory store); ReportMetric gives edits/s.
// BenchmarkCheckFromGo makes the same edits from Go in one batch, from
// the same response: the ratio is the cost of Lua.
func BenchmarkCheckHandler(b *testing.B) {
	st, leads, data := checkBench(b)
	s := mustCompile(b, "scripts/bench/check.lua", `
		for _, d in ipairs(data) do
			core.lead.edit(e2i[d.id], {status = d.status, comment = d.comment})
		end`)
	p := NewPool(Limits{})
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		res, err := p.RunCheck(ctx, s, Check{Store: st, Offer: "bench", Leads: leads, Data: data[i%2]})
		if err != nil || res.Commit.Edits != len(leads) {
			b.Fatalf("%+v %v", res.Commit, err)
		}
	}
	b.ReportMetric(float64(b.N*len(leads))/b.Elapsed().Seconds(), "edits/s")
}

func BenchmarkCheckFromGo(b *testing.B) {
	st, leads, data := checkBench(b)
	ctx := context.Background()
	byExt := make(map[string]uint64, len(leads))
	for _, l := range leads {
		byExt[l.Ext] = l.ID
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// What a Go handler would do with the same answer: decode it,
		// map the partner's ids to ours, edit.
		var rows []struct {
			ID      string       `json:"id"`
			Status  store.Status `json:"status"`
			Comment string       `json:"comment"`
		}
		if err := json.Unmarshal(data[i%2], &rows); err != nil {
			b.Fatal(err)
		}
		batch := st.NewBatch()
		for _, r := range rows {
			status, comment := r.Status, r.Comment
			if err := batch.Edit(byExt[r.ID], store.Patch{Status: &status, Comment: &comment, Offer: "bench", By: "go"}); err != nil {
				b.Fatal(err)
			}
		}
		if res, err := batch.Commit(ctx); err != nil || res.Edits != len(leads) {
			b.Fatalf("%+v %v", res, err)
		}
	}
	b.ReportMetric(float64(b.N*len(leads))/b.Elapsed().Seconds(), "edits/s")
}

// checkBench makes 1,000 processing leads and two responses that move
// each between statuses 3 and 2 with a new comment, so that every run
// changes every lead.
func checkBench(b *testing.B) (store.Store, []*store.Lead, [2][]byte) {
	st := openStore(b)
	leads := processingLeads(b, st, "bench", 1000)
	var data [2][]byte
	for k, status := range []int{3, 2} {
		buf := []byte("[")
		for j, l := range leads {
			if j > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, fmt.Sprintf(`{"id":%s,"status":%d,"comment":"c%d-%d"}`, strconv.Quote(l.Ext), status, k, j)...)
		}
		data[k] = append(buf, ']')
	}
	return st, leads, data
}

// BenchmarkEmptyRun is the overhead of one run from the pool: a state
// taken and returned, fresh globals, deadline set and removed.
func BenchmarkEmptyRun(b *testing.B) {
	p := NewPool(Limits{})
	s := mustCompile(b, "scripts/bench/empty.lua", `return`)
	ctx := context.Background()
	for b.Loop() {
		if err := p.Run(ctx, s, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInstructions is a plain Lua loop of 50,000 iterations (about
// 200,000 instructions, under the 20 ms after which a run yields): the
// cost of the meter, which the VM consults before each instruction
// (meter.go).
func BenchmarkInstructions(b *testing.B) {
	s := mustCompile(b, "scripts/bench/loop.lua", `local n = 0 for i = 1, 50000 do n = n + i % 7 end return n`)
	p := NewPool(Limits{})
	for b.Loop() {
		if err := p.Run(context.Background(), s, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHook is a webhook's Lua side, step by step as in the README's
// budget (api's BenchmarkHookStages runs the same hooks through the
// server): req read, a table replied as JSON, a lead added (in-memory
// store). A step's cost is its row less the row before.
func BenchmarkHook(b *testing.B) {
	req := HookRequest{Method: "GET", IP: "127.0.0.1",
		Query: map[string][]string{"order": {"S1"}, "phone": {"79990000001"}, "name": {"Ivan"},
			"email": {"ivan@example.com"}, "cost": {"4990"}},
		Headers: map[string]string{"Host": "127.0.0.1:8080", "User-Agent": "fasthttp"}}
	for _, c := range []struct{ name, src string }{
		{"req", `local q = req.query return "ok"`},
		{"req+reply", `local q = req.query return { ok = true, lead = 1, created = true }`},
		{"req+reply+add", `local q = req.query
			local id, created = core.lead.add{ key = q.order, fields = { phone = q.phone, name = q.name, email = q.email } }
			return { ok = true, lead = id, created = created }`},
	} {
		b.Run(c.name, func(b *testing.B) {
			st := openStore(b)
			p := NewPool(Limits{})
			s := mustCompile(b, "scripts/bench/hook.lua", c.src)
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				req.Query["order"] = []string{"S" + strconv.Itoa(i)}
				if _, err := p.RunHook(ctx, s, Hook{Store: st, Offer: "bench", Request: req}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

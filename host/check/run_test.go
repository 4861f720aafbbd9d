package check

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"leadhost/host"
	"leadhost/store"
)

func newRunner(st store.Store) *Runner {
	r := NewRunner(st)
	r.Timeout = 2 * time.Second
	return r
}

// The AlterCPA-style example: a POST with the network's ids as ids[]=,
// rows mapped by stage, a row about someone else's order ignored.
func TestProcessingAlterCPA(t *testing.T) {
	t.Parallel()
	p := startPartner(t, answerFile(t, "../../scripts/altercpa/testdata/list.json"))
	o := offerAt(t, "../../scripts/altercpa", p.URL, nil)
	st := openStore(t, nil)
	leads := addLeads(t, st, "altercpa", store.StatusProcessing, time.Time{}, "9001", "9002", "9003", "9004")
	accepted := addLeads(t, st, "altercpa", store.StatusPacking, time.Time{}, "9005")

	rep := newRunner(st).Run(context.Background(), o, host.ModeProcessing, Options{})
	if rep.Err != nil {
		t.Fatalf("run: %v\n%+v", rep.Err, rep.Exchanges)
	}
	got := p.Requests()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	a := got[0]
	if a.Method != "POST" || a.Path != "/api/ext/list.json" || a.RawQuery != "id=17&key=SECRET" {
		t.Errorf("asked %s %s?%s", a.Method, a.Path, a.RawQuery)
	}
	if a.ContentType != "application/x-www-form-urlencoded" || a.Body != "ids[]=9001&ids[]=9002&ids[]=9003&ids[]=9004" {
		t.Errorf("body %q (%s)", a.Body, a.ContentType)
	}
	now := snapshot(t, st, leads)
	want := []struct {
		status  store.Status
		reason  store.Reason
		comment string
	}{
		{store.StatusPacking, 0, "Подтверждён оператором"},
		{store.StatusCancel, store.ReasonChangedMind, "Передумал"}, // a cancel: the default reason
		{store.StatusCancel, store.ReasonTrash, "Неверный номер"},
		{store.StatusCallback, 0, "Перезвонить вечером"},
	}
	for i, w := range want {
		if now[i].Status != w.status || now[i].Reason != w.reason || now[i].Comment != w.comment {
			t.Errorf("lead %s: status %d reason %d comment %q, want %+v", now[i].Ext, now[i].Status, now[i].Reason, now[i].Comment, w)
		}
	}
	if rep.Leads != 4 || len(rep.Edits) != 4 || rep.Exchanges[0].Edits != 4 || rep.Exchanges[0].Status != 200 {
		t.Errorf("report: leads %d, edits %d, %+v", rep.Leads, len(rep.Edits), rep.Exchanges)
	}
	if l := snapshot(t, st, accepted)[0]; l.Rev != accepted[0].Rev {
		t.Errorf("an accepted lead was touched by the processing mode: %+v", l)
	}
}

// 120 leads with batch 50 are three requests of 50, 50 and 20, oldest
// first; the accepted mode asks only about accepted leads.
func TestBatchesAndModes(t *testing.T) {
	t.Parallel()
	p := startPartner(t, func(w http.ResponseWriter, _ asked) { w.Write([]byte(`[]`)) })
	o := offerAt(t, "../../scripts/altercpa", p.URL, nil)
	st := openStore(t, nil)
	var exts []string
	for i := range 120 {
		exts = append(exts, fmt.Sprint(10000+i))
	}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i, ext := range exts {
		addLeads(t, st, "altercpa", store.Status(2+i%3), start.Add(time.Duration(i)*time.Minute), ext)
	}
	addLeads(t, st, "altercpa", store.StatusTransit, time.Time{}, "7001", "7002")
	addLeads(t, st, "altercpa", store.StatusCancel, time.Time{}, "6001")
	addLeads(t, st, "other", store.StatusProcessing, time.Time{}, "5001")

	rep := newRunner(st).Run(context.Background(), o, host.ModeProcessing, Options{})
	if rep.Err != nil {
		t.Fatal(rep.Err)
	}
	got := p.Requests()
	if len(got) != 3 {
		t.Fatalf("%d requests, want 3", len(got))
	}
	var seen []string
	for i, want := range []int{50, 50, 20} {
		ids := got[i].Form["ids[]"]
		if len(ids) != want {
			t.Errorf("request %d: %d ids, want %d", i, len(ids), want)
		}
		seen = append(seen, ids...)
	}
	if strings.Join(seen, ",") != strings.Join(exts, ",") {
		t.Errorf("asked about %v\nwant %v", seen, exts)
	}

	rep = newRunner(st).Run(context.Background(), o, host.ModeAccepted, Options{})
	if rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if got := p.Requests()[3:]; len(got) != 1 || got[0].Body != "ids[]=7001&ids[]=7002" {
		t.Errorf("accepted mode asked %+v", got)
	}
}

// The dates mode asks about ranges of 7 days in the offer's time zone
// (Yekaterinburg, UTC+5) that hold non-terminal leads, skipping the empty
// weeks between them and days that hold only finished leads.
func TestDatesKeyedCRM(t *testing.T) {
	t.Parallel()
	p := startPartner(t, func(w http.ResponseWriter, a asked) {
		if a.Query["from"][0] == "2026-11-03 00:00:00" {
			answerFile(t, "../../scripts/keyedcrm/testdata/orders.json")(w, a)
			return
		}
		w.Write([]byte(`[]`)) // PHP's json_encode of an empty array
	})
	o := offerAt(t, "../../scripts/keyedcrm", p.URL, nil)
	now := time.Date(2026, 12, 10, 12, 0, 0, 0, time.UTC)
	st := openStore(t, func() time.Time { return now })
	// 20:30 UTC on 2 November is 01:30 on 3 November in Yekaterinburg.
	first := addLeads(t, st, "keyedcrm", store.StatusProcessing, time.Date(2026, 11, 2, 20, 30, 0, 0, time.UTC), "55501", "55502")
	more := addLeads(t, st, "keyedcrm", store.StatusNew, time.Date(2026, 11, 9, 18, 0, 0, 0, time.UTC), "55503", "55504")
	addLeads(t, st, "keyedcrm", store.StatusCancel, time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), "55505") // finished: its day is not asked
	late := addLeads(t, st, "keyedcrm", store.StatusCallback, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), "55506")

	rep := (&Runner{Store: st, Client: NewRunner(st).Client, Now: func() time.Time { return now }}).Run(context.Background(), o, host.ModeDates, Options{})
	if rep.Err != nil {
		t.Fatalf("%v\n%+v", rep.Err, rep.Exchanges)
	}
	got := p.Requests()
	wantRanges := [][2]string{{"2026-11-03 00:00:00", "2026-11-09 23:59:59"}, {"2026-12-01 00:00:00", "2026-12-07 23:59:59"}}
	if len(got) != len(wantRanges) {
		t.Fatalf("%d requests, want %d: %+v", len(got), len(wantRanges), got)
	}
	for i, w := range wantRanges {
		q := got[i].Query
		if q["from"][0] != w[0] || q["to"][0] != w[1] || q["token"][0] != "T0KEN" || got[i].Headers.Get("Accept") != "application/json" {
			t.Errorf("request %d: %s (%v)", i, got[i].RawQuery, got[i].Headers)
		}
	}
	if !strings.Contains(got[0].RawQuery, "from=2026-11-03+00%3A00%3A00") {
		t.Errorf("the date is not query-escaped: %s", got[0].RawQuery)
	}
	if rep.Exchanges[0].Leads != 4 || rep.Exchanges[1].Leads != 1 {
		t.Errorf("leads per range: %+v", rep.Exchanges)
	}
	leads := snapshot(t, st, append(append(first, more...), late...))
	for i, want := range []store.Status{store.StatusPacking, store.StatusCancel, store.StatusCallback, store.StatusNew, store.StatusCallback} {
		if leads[i].Status != want {
			t.Errorf("lead %s: status %d, want %d", leads[i].Ext, leads[i].Status, want)
		}
	}
	if leads[0].Comment != "approved: оплата при получении" {
		t.Errorf("comment %q", leads[0].Comment)
	}
	if !strings.Contains(strings.Join(rep.Refused, "\n")+strings.Join(rep.Logs, "\n"), "something new") {
		t.Errorf("an unrecognised status word was not reported: refused %q, logs %q", rep.Refused, rep.Logs)
	}
}

// batch = 1 with a PHP-serialize answer: one request a lead, inid names it.
func TestSerializeOneByOne(t *testing.T) {
	t.Parallel()
	p := startPartner(t, func(w http.ResponseWriter, a asked) {
		switch a.Query["order"][0] {
		case "77001":
			answerFile(t, "../../scripts/phpshop/testdata/confirmed.txt")(w, a)
		default:
			w.Write([]byte(`a:2:{s:5:"order";i:77002;s:6:"status";s:8:"rejected";}`))
		}
	})
	o := offerAt(t, "../../scripts/phpshop", p.URL, nil)
	st := openStore(t, nil)
	leads := addLeads(t, st, "phpshop", store.StatusProcessing, time.Time{}, "77001", "77002")
	rep := newRunner(st).Run(context.Background(), o, host.ModeProcessing, Options{})
	if rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if got := p.Requests(); len(got) != 2 || got[0].RawQuery != "order=77001&key=K3Y" || got[1].RawQuery != "order=77002&key=K3Y" {
		t.Fatalf("asked %+v", got)
	}
	now := snapshot(t, st, leads)
	if now[0].Status != store.StatusPacking || now[0].Track != "RA123456789RU" || now[1].Status != store.StatusCancel {
		t.Errorf("leads: %+v\n%+v", now[0], now[1])
	}
}

// The other formats, and prepare.lua rewriting a request to JSON.
func TestFormats(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		offer, answer string
		check         func(t *testing.T, got []asked)
	}{
		{"xmlprep", "answer.xml", func(t *testing.T, got []asked) {
			if len(got) != 1 || got[0].Method != "POST" || got[0].ContentType != "application/json" {
				t.Fatalf("asked %+v", got)
			}
			var body struct {
				Auth   string `json:"auth"`
				Orders []int  `json:"orders"`
			}
			if err := json.Unmarshal([]byte(got[0].Body), &body); err != nil || body.Auth != "K" || fmt.Sprint(body.Orders) != "[9001 9002]" {
				t.Errorf("body %q: %v", got[0].Body, err)
			}
		}},
		{"formcrm", "answer.form", func(t *testing.T, got []asked) {
			if len(got) != 1 || got[0].Method != "GET" || got[0].RawQuery != "ids=9001%2C9002" {
				t.Errorf("asked %+v", got)
			}
		}},
		{"textcrm", "answer.txt", func(t *testing.T, got []asked) {
			if len(got) != 2 || got[0].Path != "/order/9001/status" || got[1].Path != "/order/9002/status" {
				t.Errorf("asked %+v", got)
			}
		}},
	} {
		t.Run(tc.offer, func(t *testing.T) {
			t.Parallel()
			dir := "testdata/offers/" + tc.offer
			p := startPartner(t, answerFile(t, dir+"/"+tc.answer))
			o := offerAt(t, dir, p.URL, nil)
			st := openStore(t, nil)
			leads := addLeads(t, st, tc.offer, store.StatusProcessing, time.Time{}, "9001", "9002")
			rep := newRunner(st).Run(context.Background(), o, host.ModeProcessing, Options{})
			if rep.Err != nil {
				t.Fatalf("%v\n%+v", rep.Err, rep.Exchanges)
			}
			tc.check(t, p.Requests())
			now := snapshot(t, st, leads)
			if now[0].Status != store.StatusPacking {
				t.Errorf("9001: status %d, want %d", now[0].Status, store.StatusPacking)
			}
			if tc.offer != "textcrm" && now[1].Status != store.StatusCancel {
				t.Errorf("9002: status %d, want %d", now[1].Status, store.StatusCancel)
			}
		})
	}
}

// A dry run reports the edits and commits none.
func TestDryRun(t *testing.T) {
	t.Parallel()
	p := startPartner(t, answerFile(t, "../../scripts/altercpa/testdata/list.json"))
	o := offerAt(t, "../../scripts/altercpa", p.URL, nil)
	st := openStore(t, nil)
	leads := addLeads(t, st, "altercpa", store.StatusProcessing, time.Time{}, "9001", "9002")
	rep := newRunner(st).Run(context.Background(), o, host.ModeProcessing, Options{Dry: true})
	if rep.Err != nil || len(rep.Edits) != 2 || !rep.Dry {
		t.Fatalf("dry run: %v, %d edits", rep.Err, len(rep.Edits))
	}
	for i, l := range snapshot(t, st, leads) {
		if l.Rev != leads[i].Rev || l.Status != store.StatusProcessing {
			t.Errorf("dry run changed lead %s: %+v", l.Ext, l)
		}
	}
}

// A partner that fails in any way changes nothing; the run is an error
// that names what went wrong and keeps the request and the answer's start.
func TestPartnerFailures(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 50<<20)
	for _, tc := range []struct {
		name    string
		reply   func(w http.ResponseWriter, a asked)
		check   string // check.lua to use instead of the example's
		partner bool   // the run stopped at the partner (ErrPartner)
		want    string // in the error
		kept    string // in the kept response
	}{
		{name: "timeout", reply: func(w http.ResponseWriter, _ asked) { time.Sleep(1500 * time.Millisecond); w.Write([]byte(`[]`)) },
			partner: true, want: "no answer in time"},
		{name: "500", reply: func(w http.ResponseWriter, _ asked) { w.WriteHeader(500); w.Write([]byte(`{"error":"db down"}`)) },
			partner: true, want: "status 500", kept: "db down"},
		{name: "redirect", reply: func(w http.ResponseWriter, _ asked) {
			w.Header().Set("Location", "http://elsewhere.test/")
			w.WriteHeader(302)
		},
			partner: true, want: "status 302"},
		{name: "garbage", reply: func(w http.ResponseWriter, _ asked) { w.Write([]byte(`<html>Bad gateway</html>`)) },
			want: "undecodable answer (format json)", kept: "<html>Bad gateway"},
		{name: "50 MB", reply: func(w http.ResponseWriter, _ asked) {
			w.Header().Set("Content-Length", strconv.Itoa(len(big))) // refused at the header, unread
			w.Write([]byte(big))
		},
			partner: true, want: "answer over 8 MiB"},
		{name: "handler raises midway", reply: answerFile(t, "../../scripts/altercpa/testdata/list.json"),
			check: `for i, row in ipairs(data) do
				if i == 2 then error("partner sent a row I do not understand") end
				core.lead.approve(e2i[row.id])
			end`,
			want: "check.lua:2: partner sent a row I do not understand", kept: `"stage": "approve"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startPartner(t, tc.reply)
			var edits map[string]string
			if tc.check != "" {
				edits = map[string]string{"check.lua": tc.check}
			}
			o := offerAt(t, "../../scripts/altercpa", p.URL, edits)
			st := openStore(t, nil)
			leads := addLeads(t, st, "altercpa", store.StatusProcessing, time.Time{}, "9001", "9002")
			r := newRunner(st)
			r.Timeout = 300 * time.Millisecond
			rep := r.Run(context.Background(), o, host.ModeProcessing, Options{})
			if rep.Err == nil || !strings.Contains(rep.Err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", rep.Err, tc.want)
			}
			if errors.Is(rep.Err, ErrPartner) != tc.partner {
				t.Errorf("ErrPartner %v, want %v: %v", errors.Is(rep.Err, ErrPartner), tc.partner, rep.Err)
			}
			if len(rep.Edits) != 0 {
				t.Errorf("edits reported: %+v", rep.Edits)
			}
			for i, l := range snapshot(t, st, leads) {
				if l.Rev != leads[i].Rev || l.Status != store.StatusProcessing {
					t.Errorf("lead %s changed: %+v", l.Ext, l)
				}
			}
			if len(rep.Exchanges) != 1 {
				t.Fatalf("exchanges %+v", rep.Exchanges)
			}
			ex := rep.Exchanges[0]
			if ex.Err == "" || ex.Body != "ids[]=9001&ids[]=9002" || !strings.Contains(ex.URL, "/api/ext/list.json?id=17") {
				t.Errorf("the request is not kept: %+v", ex)
			}
			if !strings.Contains(ex.Response, tc.kept) || len(ex.Response) > keepBytes+64 {
				t.Errorf("kept response %.200q (%d bytes), want %q in it", ex.Response, len(ex.Response), tc.kept)
			}
		})
	}
}

// A mode run on an offer whose url and fields are made for another mode
// (the ID lists of altercpa asked in dates mode) sends nothing: no
// partner ever gets "{idsl}" or "{from}" as text.
func TestModeThatCannotFillItsMacrosSendsNothing(t *testing.T) {
	t.Parallel()
	p := startPartner(t, func(w http.ResponseWriter, _ asked) { w.Write([]byte(`[]`)) })
	o := offerAt(t, "../../scripts/altercpa", p.URL, nil)
	st := openStore(t, nil)
	addLeads(t, st, "altercpa", store.StatusProcessing, time.Time{}, "9001")

	rep := newRunner(st).Run(context.Background(), o, host.ModeDates, Options{})
	if rep.Err == nil || !strings.Contains(rep.Err.Error(), "the dates mode has no value for {ide}") {
		t.Errorf("run error %v, want the dates mode refusing {ide}", rep.Err)
	}
	if got := p.Requests(); len(got) != 0 {
		t.Errorf("the partner got %+v", got)
	}
}

func TestOneUnknownOrderDoesNotBlockTheRest(t *testing.T) {
	t.Parallel()
	p := startPartner(t, func(w http.ResponseWriter, a asked) {
		if a.Path == "/order/9001/status" {
			w.WriteHeader(404)
			return
		}
		w.Write([]byte("APPROVED"))
	})
	o := offerAt(t, "testdata/offers/textcrm", p.URL, nil)
	st := openStore(t, nil)
	leads := addLeads(t, st, "textcrm", store.StatusProcessing, time.Time{}, "9001", "", "9002")
	rep := newRunner(st).Run(context.Background(), o, host.ModeProcessing, Options{})
	if rep.Err == nil || !strings.Contains(rep.Err.Error(), "status 404 for lead") {
		t.Errorf("error %v", rep.Err)
	}
	got := p.Requests()
	if len(got) != 2 || got[1].Path != "/order/9002/status" {
		t.Fatalf("asked %+v", got)
	}
	if l := snapshot(t, st, leads)[2]; l.Status != store.StatusPacking {
		t.Errorf("the lead after the unknown one: status %d", l.Status)
	}
}

func TestReportListsOnlyCommittedEdits(t *testing.T) {
	t.Parallel()
	p := startPartner(t, func(w http.ResponseWriter, _ asked) { w.Write([]byte("ok")) })
	o := offerAt(t, "testdata/offers/textcrm", p.URL, map[string]string{"check.lua": `core.lead.edit(inid, { ext = "SAME" })`})
	st := openStore(t, nil)
	addLeads(t, st, "textcrm", store.StatusProcessing, time.Time{}, "9001", "9002")
	rep := newRunner(st).Run(context.Background(), o, host.ModeProcessing, Options{})
	applied := 0
	for _, ex := range rep.Exchanges {
		applied += ex.Edits
	}
	if len(rep.Edits) != applied || applied != 1 || len(rep.Refused) != 1 {
		t.Errorf("report: %d edits listed, %d applied, refused %q", len(rep.Edits), applied, rep.Refused)
	}
}

// A person may name the leads to ask about. A dry run of a recorded
// answer about one lead gives a batch = 1 offer's check.lua its inid (it
// had none: the dry run listed every lead of the mode); a run asks the
// partner about those leads only.
func TestNamedLeads(t *testing.T) {
	t.Parallel()
	answer, err := os.ReadFile("../../scripts/phpshop/testdata/confirmed.txt")
	if err != nil {
		t.Fatal(err)
	}
	p := startPartner(t, answerFile(t, "../../scripts/phpshop/testdata/confirmed.txt"))
	o := offerAt(t, "../../scripts/phpshop", p.URL, nil)
	st := openStore(t, nil)
	leads := addLeads(t, st, "phpshop", store.StatusProcessing, time.Time{}, "77001", "77002")
	r := newRunner(st)

	rep := r.DryRun(context.Background(), o, host.ModeProcessing, answer, []uint64{leads[0].ID})
	if rep.Err != nil || len(rep.Edits) != 2 || rep.Edits[0].LeadID != leads[0].ID || rep.Edits[1].LeadID != leads[0].ID {
		t.Errorf("dry run about lead %d: %v, edits %+v", leads[0].ID, rep.Err, rep.Edits)
	}
	if rep := r.DryRun(context.Background(), o, host.ModeProcessing, answer, nil); len(rep.Edits) != 0 {
		t.Errorf("dry run about every lead of the mode: edits %+v, want none (no inid)", rep.Edits)
	}

	rep = r.Run(context.Background(), o, host.ModeProcessing, Options{Leads: []uint64{leads[1].ID}})
	if got := p.Requests(); rep.Err != nil || len(got) != 1 || got[0].Query.Get("order") != "77002" {
		t.Errorf("run about lead %d: %v, partner asked %+v", leads[1].ID, rep.Err, got)
	}
	if rep := r.Run(context.Background(), o, host.ModeProcessing, Options{Leads: []uint64{999}}); rep.Err == nil {
		t.Error("a run about a lead that does not exist went well")
	}
}

package check

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/host"
	"leadhost/host/script"
	"leadhost/store"
)

// Regression tests for defects a review found.

// The backoff never wraps around to zero, however long a partner fails.
func TestBackoffNeverOverflows(t *testing.T) {
	for _, every := range []time.Duration{time.Minute, 10 * time.Minute, 3 * time.Hour, 100 * 24 * time.Hour} {
		for fails := 0; fails < 200; fails++ {
			if d := backedOff(every, fails); d < every || d > max(every, 24*time.Hour) {
				t.Fatalf("backedOff(%s, %d) = %s", every, fails, d)
			}
		}
	}
}

// With batch = 1 a 404 is about that one order: the other leads are
// still asked about, and a lead without a partner id is not asked.
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

// An edit refused at commit is not reported as made.
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

// Fields of a GET go into the query even when the URL has a fragment; an
// empty list is [] in JSON; a body on a GET is an error.
func TestEncodeRequestEdges(t *testing.T) {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	r := &script.Request{URL: "https://p.example/api?key=K#v2", Method: "GET", Fields: map[string][]string{"ids": {"1"}}}
	if err := host.EncodeRequest(req, r, ""); err != nil || string(req.URI().FullURI()) != "https://p.example/api?key=K&ids=1" {
		t.Errorf("GET with a fragment: %s, %v", req.URI().FullURI(), err)
	}
	req.Reset()
	m := script.Macros{Lists: map[string][]string{"ids": {}}}
	r = &script.Request{URL: "https://p.example/api", Method: "POST", Fields: m.ExpandFields(map[string]string{"ids": "{ids}"})}
	if err := host.EncodeRequest(req, r, "json"); err != nil || string(req.Body()) != `{"ids":[]}` {
		t.Errorf("empty list: %s, %v", req.Body(), err)
	}
	req.Reset()
	r = &script.Request{URL: "https://p.example/api", Method: "GET", Body: `{"a":1}`}
	if err := host.EncodeRequest(req, r, ""); err == nil {
		t.Error("a body on a GET was accepted")
	}
}

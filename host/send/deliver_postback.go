package send

import (
	"context"
	"fmt"
	"strconv"

	"github.com/valyala/fasthttp"

	"leadhost/host/partner"
	"leadhost/host/script"
	"leadhost/store"
)

// postbackOne reports one status change to the offer's [postback] url.
// A postback repeats a fact (this lead is now in that status), so one
// whose outcome a crash left unknown is simply sent again.
func (s *Sender) postbackOne(ctx context.Context, offerID string, it store.FeedItem) *Attempt {
	a := &Attempt{Offer: offerID, LeadID: it.LeadID, Try: it.Attempts + 1, Method: "GET"}
	o, ok := s.Offers.Offer(offerID)
	if !ok {
		s.pause(ctx, offerID, it)
		return nil
	}
	if !o.Config.ReportsChanges() {
		a.Outcome, a.Err = Dropped, "the offer no longer sends postbacks (no [postback] url)"
		s.ack(ctx, it)
		return a
	}
	lead := s.itemLead(ctx, it)
	if lead == nil {
		return nil
	}
	tracker := o.Config.Postback.URLFor(lead.Fields["flow"])
	if tracker == "" {
		// Only some flows report (their own url, no [postback] url): this
		// lead's flow does not, and there is nothing to send or to report.
		s.ack(ctx, it)
		return nil
	}
	it, err := s.feed.Begin(ctx, it)
	if err != nil {
		if gone(err) {
			return nil // acknowledged meanwhile, or another node's
		}
		// Reported as a retry, so that the lead's later changes wait.
		a.Outcome, a.Err = Retry, "recording the attempt: "+err.Error()
		return a
	}
	ctx = context.WithoutCancel(ctx)
	m := PostbackMacros(lead, it.Event)
	a.URL = m.ExpandURL(tracker)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(a.URL)
	a.Duration, err = s.do(req, resp)
	switch {
	case err != nil:
		s.fail(offerID, a, fmt.Errorf("GET %s: %v", a.URL, partner.Describe(err)), true)
	case resp.StatusCode() >= 500:
		a.Status, a.Response = resp.StatusCode(), partner.Excerpt(resp.Body(), keepBytes)
		s.fail(offerID, a, fmt.Errorf("GET %s: status %d", a.URL, a.Status), true)
	case resp.StatusCode() >= 400:
		// The tracker refuses this postback; asking again will not help,
		// but a wrong tracker URL must not drop every postback silently.
		a.Status, a.Response = resp.StatusCode(), partner.Excerpt(resp.Body(), keepBytes)
		a.Outcome, a.Err = Refused, fmt.Sprintf("GET %s: status %d: %s", a.URL, a.Status, partner.Excerpt(resp.Body(), 200))
	default:
		a.Status, a.Response = resp.StatusCode(), partner.Excerpt(resp.Body(), keepBytes)
		a.Outcome = Sent
	}
	s.settle(ctx, it, a)
	return a
}

// PostbackMacros are the values of an outgoing postback's macros: {id}
// {offer} {status} {stage} {reason} of the change; {payout} {currency}
// the webmaster's payout as the lead has it now; {flow} {subid} and
// {sub1}…{sub5} (and {field:NAME}) from the lead's fields, "" if absent.
func PostbackMacros(l *store.Lead, ev store.Event) script.Macros {
	v := map[string]string{
		"id": strconv.FormatUint(l.ID, 10), "offer": l.Offer, "ext": l.Ext,
		"status": strconv.Itoa(int(ev.To)), "stage": store.Stage(ev.To, ev.Reason, nil),
		"reason": "", "payout": "", "currency": "",
	}
	if ev.Reason != 0 {
		v["reason"] = strconv.Itoa(int(ev.Reason))
	}
	if !l.Cash.WM.IsZero() {
		v["payout"] = l.Cash.WM.String()
		if l.Cash.CC != 0 {
			v["currency"] = l.Cash.CC.Code()
		}
	}
	for _, name := range []string{"flow", "subid", "sub1", "sub2", "sub3", "sub4", "sub5"} {
		v[name] = l.Fields[name]
	}
	for k, f := range l.Fields {
		v["field:"+k] = f
	}
	return script.Macros{Values: v, Blank: []string{"field:"}}
}

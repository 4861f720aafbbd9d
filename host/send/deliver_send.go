package send

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/valyala/fasthttp"

	"leadhost/host"
	"leadhost/host/decode"
	"leadhost/host/partner"
	"leadhost/host/script"
	"leadhost/store"
)

// sendOne handles one outbox item. It returns nil when there was nothing
// to report (the item was done with already).
func (s *Sender) sendOne(ctx context.Context, offerID string, it store.FeedItem) *Attempt {
	if s.postback {
		return s.postbackOne(ctx, offerID, it)
	}
	a := &Attempt{Offer: offerID, LeadID: it.LeadID, Try: it.Attempts + 1}
	o, ok := s.Offers.Offer(offerID)
	if !ok {
		// A lead a person moved past new meanwhile is not to be sent:
		// that is how one gives up a paused send.
		if lead := s.itemLead(ctx, it); lead != nil && lead.Status != store.StatusNew {
			s.ack(ctx, it)
		} else if lead != nil {
			s.pause(ctx, offerID, it)
		}
		return nil
	}
	if o.Config.Send == nil || o.Scripts["send.lua"] == nil {
		a.Outcome, a.Err = Dropped, "the offer no longer sends (no [send] or send.lua)"
		s.ack(ctx, it)
		return a
	}
	lead := s.itemLead(ctx, it)
	if lead == nil {
		return nil
	}
	if lead.Status != store.StatusNew {
		// Sent already (a crash came after our commit, before the ack), or
		// moved on by hand: either way not ours to send.
		s.ack(ctx, it)
		return nil
	}
	if it.InFlight && !o.Config.Send.Idempotent {
		// The last attempt began and we never learnt how it ended: the
		// partner may have the lead. Sending again could make a double.
		a.Outcome = Held
		a.Err = "in doubt: leadhost stopped while sending this lead, and the partner may have it; " +
			"check with the partner, then release it (POST /api/outbox/send/<lead>/<rev>/release) or edit the lead " +
			"(or set send.idempotent if the partner recognises repeats)"
		if err := s.feed.Hold(ctx, it, a.Err); err != nil {
			// Another node sharing the outbox held it first (or it went):
			// its hold is the one reported.
			if !gone(err) {
				s.log().Error("send: holding a send", "lead", it.LeadID, "err", err)
			}
			return nil
		}
		s.log().Error("send held for a person", "offer", offerID, "lead", it.LeadID, "why", a.Err)
		return a
	}
	s.waitRate(ctx, o.ID, o.Config.Send.Rate)
	if open, _ := s.Circuit(o.ID); open {
		return nil // another lane's failure opened it while this one waited
	}
	it, err := s.feed.Begin(ctx, it)
	if err != nil {
		if !gone(err) {
			s.log().Error("send: recording the attempt", "lead", it.LeadID, "err", err)
		}
		return nil
	}
	// The rate may have kept us waiting: the lead may have moved since.
	if lead = s.itemLead(ctx, it); lead == nil || lead.Status != store.StatusNew {
		if lead != nil {
			s.ack(ctx, it)
		}
		return nil
	}
	// From here the attempt runs to its end even when the host stops.
	ctx = context.WithoutCancel(ctx)
	s.attempt(ctx, o, lead, a)
	s.settle(ctx, it, a)
	return a
}

// gone says err is the store's answer for an item that is not this
// sender's to deliver any more: acknowledged or held meanwhile, or
// claimed by another node sharing the outbox.
func gone(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrClaimed)
}

// attempt makes the request and runs send.lua on the reply.
func (s *Sender) attempt(ctx context.Context, o *host.Offer, lead *store.Lead, a *Attempt) {
	cfg := o.Config.Send
	req := Request(o, lead)
	hreq, hresp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(hreq)
	defer fasthttp.ReleaseResponse(hresp)
	a.Method, a.URL = req.Method, req.URL
	if err := partner.Encode(hreq, req, cfg.Body); err != nil {
		s.fail(o.ID, a, err, false)
		return
	}
	a.URL, a.Body = string(hreq.URI().FullURI()), partner.Excerpt(hreq.Body(), keepBytes)
	var err error
	a.Duration, err = s.do(hreq, hresp)
	if err != nil {
		sent := !neverSent(err)
		err = fmt.Errorf("%s %s: %v", a.Method, a.URL, partner.Describe(err))
		if !cfg.Idempotent && sent {
			// The request may have reached the partner (a timeout, a reset
			// after it went out): sending again could make a double.
			s.partnerFailed(o.ID)
			a.Outcome, a.Err = Held, "in doubt: "+err.Error()+"; the partner may have the lead: check with it, then release or edit the lead"
			return
		}
		s.fail(o.ID, a, err, true)
		return
	}
	body := hresp.Body()
	a.Status, a.Response = hresp.StatusCode(), partner.Excerpt(body, keepBytes)
	if a.Status >= 500 {
		s.fail(o.ID, a, fmt.Errorf("%s %s: status %d", a.Method, a.URL, a.Status), true)
		return
	}
	// A 4xx is an answer: send.lua decides (a duplicate, a bad phone).
	data, derr := decode.Decode(cfg.Format, body)
	if derr != nil {
		data = nil // send.lua still sees response.body
	}
	headers := map[string]string{}
	hresp.Header.VisitAll(func(k, v []byte) { headers[string(k)] = string(v) })
	var logs store.RunLog
	resp := script.SendResponse{Status: a.Status, Headers: headers, Body: body, Data: data}
	out, err := o.Pool.RunSend(ctx, o.Scripts["send.lua"], script.Send{Store: s.Store, Lead: lead,
		Response: resp, Words: o.Words,
		Log: func(kind, msg string) { logs.Add(kind + ": " + msg) }})
	a.Logs = logs.Lines()
	if s.OnReply != nil {
		s.OnReply(o, lead, resp, out, err)
	}
	switch {
	case err != nil && !out.Retry:
		// The partner took the lead (or refused it) and we cannot record
		// it: an id another lead already has, a lead changed meanwhile.
		// Sending again would not help and might make a double.
		a.Outcome, a.Ext, a.Reason = Held, out.Ext, out.Reason
		a.Err = "the partner answered, and its answer could not be recorded: " + err.Error() + "; check the lead with the partner"
	case err != nil:
		if derr != nil {
			err = fmt.Errorf("%w (the reply did not decode as %s: %v)", err, decode.FormatName(cfg.Format), derr)
		}
		if a.Try >= scriptTries {
			// send.lua fails on the partner's answer (it raises, or returns
			// what is neither an id, a reason nor nil) on a third attempt
			// or later: retrying forever would hide it. A person fixes the script, then
			// releases the send.
			a.Outcome, a.Err = Held, fmt.Sprintf("send.lua failed %d times, the last: %v; fix the script, then release the send", a.Try, err)
			return
		}
		s.fail(o.ID, a, err, false)
	case out.Retry:
		why := "send.lua asked to retry"
		if last := logs.Last(); last != "" {
			why += "; it said: " + last // the partner's reason, as the script read it
		}
		s.fail(o.ID, a, errors.New(why), false)
	case out.Ext != "":
		a.Outcome, a.Ext = Sent, out.Ext
	default:
		a.Outcome, a.Reason = Rejected, out.Reason
	}
}

// scriptTries is the attempt from which a send.lua failure holds the send
// for a person (earlier attempts may have failed at the partner).
const scriptTries = 3

// Request is what [send] makes of a lead: the URL, fields and headers
// with the lead's macros filled in (POST unless the offer says GET).
func Request(o *host.Offer, lead *store.Lead) *partner.Request {
	cfg := o.Config.Send
	m := script.LeadMacros(lead)
	req := &partner.Request{URL: m.ExpandURL(cfg.URL), Method: strings.ToUpper(cfg.Method), Headers: map[string]string{},
		Fields: m.ExpandFields(cfg.Fields)}
	if req.Method == "" {
		req.Method = "POST"
	}
	for k, v := range cfg.Headers {
		req.Headers[k] = m.ExpandText(v)
	}
	return req
}

package shadow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"leadhost/host"
	"leadhost/host/decode"
	"leadhost/host/script"
	"leadhost/store"
)

// The live path's inputs: each hands over what the live version got and
// did, and returns at once. An input of a script the candidate does not
// stage (wants) is not even copied.

// Check compares the candidate's check.lua with the live one's on a
// partner's answer: data as decoded for check.lua from body, about leads
// as the live run found them (before its edits), which made the live
// edits (or failed with liveErr). A candidate whose offer.toml reads
// answers in another [check] format decodes body with its own.
func (s *Shadow) Check(o *host.Offer, mode host.Mode, leads []*store.Lead, body []byte, data any, live []store.BatchChange, liveErr error) {
	c, ok := s.candidate(o.ID, "check.lua")
	if !ok {
		return
	}
	at := time.Now().UTC()
	redecode := checkFormat(c) != checkFormat(o)
	size := int64(len(leads)) * leadBytes
	if redecode {
		data, body = nil, bytes.Clone(body) // decoded on the worker
		size += 2 * int64(len(body))
	} else {
		data = owned(data)
		size += sizeOf(data)
	}
	liveSide := Side{Version: o.Version, Edits: live, Error: errText(liveErr), at: at}
	s.submit(o.ID, c.Version, size, func(ctx context.Context) result {
		c, ok := s.candidate(o.ID, "check.lua")
		if !ok {
			return result{}
		}
		input := fmt.Sprintf("check %s: %d leads", mode, len(leads))
		if redecode {
			var err error
			if data, err = decode.Decode(checkFormat(c), body); err != nil {
				cand := Side{Version: c.Version, Error: fmt.Sprintf("undecodable answer (format %s): %v", decode.FormatName(checkFormat(c)), err)}
				return s.compared(at, o.ID, input, liveSide, cand)
			}
		}
		return s.compared(at, o.ID, input, liveSide, s.runCheck(ctx, c, leads, data))
	})
}

// leadBytes is what a lead handed over is counted for in the queue.
const leadBytes = 512

// runCheck runs an offer version's check.lua in shadow on leads as given
// (a batch seeded with them: the same start for both versions).
func (s *Shadow) runCheck(ctx context.Context, o *host.Offer, leads []*store.Lead, data any) Side {
	at := time.Now()
	res, err := o.Pool.RunCheck(ctx, o.Scripts["check.lua"], script.Check{Store: s.store, Offer: o.ID, Leads: leads, Data: data,
		Words: o.Words, Shadow: true, Batch: s.store.NewBatch()})
	return Side{Version: o.Version, Edits: res.Edits, Error: errText(err), at: at, timedOut: timedOut(err)}
}

// Hook compares the candidate's hook (file: "hook.lua",
// "hooks/<name>.lua", "postback.lua") with the live one's on a call: the
// live run's reply, edits and adds, or its error. The candidate starts
// from the leads as the live run read them (live.Read), not as the live
// run's commit left them.
func (s *Shadow) Hook(o *host.Offer, file string, req script.HookRequest, live script.HookResult, liveErr error) {
	if c, ok := s.candidate(o.ID, file); ok {
		s.hook(o, c, file, req, live, liveErr)
	}
}

// hook queues Hook's comparison. Apart from Hook because its closure
// keeps req: a parameter a closure keeps is moved to the heap on entry,
// and every webhook paid that allocation, staged candidate or not.
func (s *Shadow) hook(o, c *host.Offer, file string, req script.HookRequest, live script.HookResult, liveErr error) {
	at := time.Now().UTC()
	liveSide := Side{Version: o.Version, Edits: live.Edits, Added: live.Added, Error: errText(liveErr), at: at}
	if liveErr == nil {
		liveSide.Reply = replyText(live.Reply)
	}
	size := int64(len(req.Body)+len(req.JSON)) + int64(len(live.Read))*leadBytes
	s.submit(o.ID, c.Version, size, func(ctx context.Context) result {
		c, ok := s.candidate(o.ID, file)
		if !ok {
			return result{}
		}
		cand := s.runHook(ctx, c, file, req, live.Added, live.Read)
		return s.compared(at, o.ID, "webhook "+file, liveSide, cand)
	})
}

// runHook runs an offer version's hook in shadow, its batch seeded with
// the leads as the live run found them.
func (s *Shadow) runHook(ctx context.Context, o *host.Offer, file string, req script.HookRequest, standIns []script.AddedLead, seed []*store.Lead) Side {
	sc := o.Scripts[file]
	if sc == nil {
		return Side{Version: o.Version, Error: fmt.Sprintf("this version has no %s", file)}
	}
	at := time.Now()
	res, err := o.Pool.RunHook(ctx, sc, script.Hook{Store: s.store, Offer: o.ID, Request: req, Words: o.Words,
		Shadow: true, StandIns: standIns, Seed: seed})
	side := Side{Version: o.Version, Edits: res.Edits, Added: res.Added, Error: errText(err), at: at, timedOut: timedOut(err)}
	if err == nil {
		side.Reply = replyText(res.Reply)
	}
	return side
}

// Send compares the candidate's send.lua with the live one's on a
// partner's reply to a sent lead (as it was before the live run). A
// candidate whose offer.toml reads the reply in another [send] format
// decodes the reply's body with its own.
func (s *Shadow) Send(o *host.Offer, lead *store.Lead, resp script.SendResponse, live script.SendOutcome, liveErr error) {
	c, ok := s.candidate(o.ID, "send.lua")
	if !ok {
		return
	}
	at := time.Now().UTC()
	liveSide := Side{Version: o.Version, Edits: live.Edits, Outcome: outcomeText(live), Error: errText(liveErr), at: at}
	resp.Body = bytes.Clone(resp.Body)
	redecode := sendFormat(c) != sendFormat(o)
	if redecode {
		resp.Data = nil // decoded on the worker, from the body
	} else {
		resp.Data = owned(resp.Data)
	}
	s.submit(o.ID, c.Version, 2*int64(len(resp.Body))+leadBytes, func(ctx context.Context) result {
		c, ok := s.candidate(o.ID, "send.lua")
		if !ok {
			return result{}
		}
		if redecode {
			resp.Data, _ = decode.Decode(sendFormat(c), resp.Body) // undecodable: send.lua still sees response.body
		}
		ran := time.Now()
		out, err := c.Pool.RunSend(ctx, c.Scripts["send.lua"], script.Send{Store: s.store, Lead: lead, Response: resp, Words: c.Words, Shadow: true})
		cand := Side{Version: c.Version, Edits: out.Edits, Outcome: outcomeText(out), Error: errText(err), at: ran, timedOut: timedOut(err)}
		return s.compared(at, o.ID, fmt.Sprintf("send reply: lead %d", lead.ID), liveSide, cand)
	})
}

// sendFormat is the format an offer version reads send replies in.
func sendFormat(o *host.Offer) string {
	if o.Config.Send == nil {
		return decode.FormatName("")
	}
	return decode.FormatName(o.Config.Send.Format)
}

// checkFormat is the format an offer version reads check answers in.
func checkFormat(o *host.Offer) string {
	if o.Config.Check == nil {
		return decode.FormatName("")
	}
	return decode.FormatName(o.Config.Check.Format)
}

// owned is a decoded answer the shadow run may keep: JSON is handed over
// as the bytes of the live run's response buffer, which goes back to its
// pool when the live run is done.
func owned(data any) any {
	switch d := data.(type) {
	case json.RawMessage:
		return json.RawMessage(bytes.Clone(d))
	case []byte:
		return bytes.Clone(d)
	}
	return data
}

// sizeOf is about what a decoded answer holds, for the queue's bound:
// JSON's bytes, or a decoder's values walked.
func sizeOf(data any) int64 {
	switch d := data.(type) {
	case json.RawMessage:
		return int64(len(d))
	case []byte:
		return int64(len(d))
	case string:
		return int64(len(d)) + 16
	case map[string]any:
		n := int64(48)
		for k, v := range d {
			n += int64(len(k)) + 16 + sizeOf(v)
		}
		return n
	case []any:
		n := int64(24)
		for _, v := range d {
			n += 16 + sizeOf(v)
		}
		return n
	}
	return 16
}

// timedOut says whether a run passed its deadline.
func timedOut(err error) bool {
	var re *script.RunError
	return errors.As(err, &re) && re.Timeout
}

// compared is a comparison that ran: the difference of two sides, if
// any, and whether the candidate's run passed its deadline.
func (s *Shadow) compared(at time.Time, offer, input string, live, cand Side) result {
	d, differs := differ(at, offer, input, live, cand)
	return result{diff: d, differs: differs, ran: true, timedOut: cand.timedOut}
}

// differ makes the difference of two sides, and says whether there is one.
func differ(at time.Time, offer, input string, live, cand Side) (Difference, bool) {
	rows := compare(offer, live, cand)
	return Difference{At: at, Offer: offer, Input: input, Live: live, Candidate: cand, Rows: rows}, len(rows) > 0
}

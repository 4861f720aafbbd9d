package shadow

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"leadhost/host"
	"leadhost/host/script"
	"leadhost/store"
)

// The live path's inputs: each hands over what the live version got and
// did, and returns at once.

// Check compares the candidate's check.lua with the live one's on a
// partner's answer: data as decoded for check.lua, about leads as the
// live run found them (before its edits), which made the live edits (or
// failed with liveErr).
func (s *Shadow) Check(o *host.Offer, mode host.Mode, leads []*store.Lead, data any, live []store.BatchChange, liveErr error) {
	if _, ok := s.candidate(o.ID); !ok {
		return
	}
	at, data := time.Now().UTC(), owned(data)
	s.submit(o.ID, func(ctx context.Context) (Difference, bool) {
		c, ok := s.candidate(o.ID)
		if !ok || c.Scripts["check.lua"] == nil {
			return Difference{}, false
		}
		cand := s.runCheck(ctx, c, leads, data)
		return s.differ(at, o.ID, fmt.Sprintf("check %s: %d leads", mode, len(leads)),
			Side{Version: o.Version, Edits: live, Error: errText(liveErr), at: at}, cand)
	})
}

// runCheck runs an offer version's check.lua dry on leads as given (a
// batch seeded with them: the same start for both versions).
func (s *Shadow) runCheck(ctx context.Context, o *host.Offer, leads []*store.Lead, data any) Side {
	at := time.Now()
	res, err := o.Pool.RunCheck(ctx, o.Scripts["check.lua"], script.Check{Store: s.store, Offer: o.ID, Leads: leads, Data: data,
		Words: o.Words, Dry: true, Batch: s.store.NewBatch()})
	return Side{Version: o.Version, Edits: res.Edits, Error: errText(err), at: at}
}

// Hook compares the candidate's hook (file: "hook.lua",
// "hooks/<name>.lua", "postback.lua") with the live one's on a call: the
// live run's reply, edits and adds, or its error. The candidate runs
// after the live run committed, so the leads it reads are as the live
// run left them: an edit of its own there is a difference.
func (s *Shadow) Hook(o *host.Offer, file string, req script.HookRequest, live script.HookResult, liveErr error) {
	if _, ok := s.candidate(o.ID); !ok {
		return
	}
	at := time.Now().UTC()
	liveSide := Side{Version: o.Version, Edits: live.Edits, Added: live.Added, Error: errText(liveErr), at: at}
	if liveErr == nil {
		liveSide.Reply = replyText(live.Reply)
	}
	s.submit(o.ID, func(ctx context.Context) (Difference, bool) {
		c, ok := s.candidate(o.ID)
		if !ok {
			return Difference{}, false
		}
		cand := s.runHook(ctx, c, file, req, live.Added)
		return s.differ(at, o.ID, "webhook "+file, liveSide, cand)
	})
}

// runHook runs an offer version's hook in shadow.
func (s *Shadow) runHook(ctx context.Context, o *host.Offer, file string, req script.HookRequest, standIns []script.AddedLead) Side {
	sc := o.Scripts[file]
	if sc == nil {
		return Side{Version: o.Version, Error: fmt.Sprintf("this version has no %s", file)}
	}
	at := time.Now()
	res, err := o.Pool.RunHook(ctx, sc, script.Hook{Store: s.store, Offer: o.ID, Request: req, Words: o.Words,
		Shadow: true, StandIns: standIns})
	side := Side{Version: o.Version, Edits: res.Edits, Added: res.Added, Error: errText(err), at: at}
	if err == nil {
		side.Reply = replyText(res.Reply)
	}
	return side
}

// Send compares the candidate's send.lua with the live one's on a
// partner's reply to a sent lead (as it was before the live run).
func (s *Shadow) Send(o *host.Offer, lead *store.Lead, resp script.SendResponse, live script.SendOutcome, liveErr error) {
	if _, ok := s.candidate(o.ID); !ok {
		return
	}
	at := time.Now().UTC()
	liveSide := Side{Version: o.Version, Edits: live.Edits, Outcome: outcomeText(live), Error: errText(liveErr), at: at}
	resp.Body, resp.Data = bytes.Clone(resp.Body), owned(resp.Data)
	s.submit(o.ID, func(ctx context.Context) (Difference, bool) {
		c, ok := s.candidate(o.ID)
		if !ok || c.Scripts["send.lua"] == nil {
			return Difference{}, false
		}
		ran := time.Now()
		out, err := c.Pool.RunSend(ctx, c.Scripts["send.lua"], script.Send{Store: s.store, Lead: lead, Response: resp, Words: c.Words, Shadow: true})
		cand := Side{Version: c.Version, Edits: out.Edits, Outcome: outcomeText(out), Error: errText(err), at: ran}
		return s.differ(at, o.ID, fmt.Sprintf("send reply: lead %d", lead.ID), liveSide, cand)
	})
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

// differ makes the difference of two sides, and says whether there is one.
func (s *Shadow) differ(at time.Time, offer, input string, live, cand Side) (Difference, bool) {
	rows := compare(live, cand)
	return Difference{At: at, Offer: offer, Input: input, Live: live, Candidate: cand, Rows: rows}, len(rows) > 0
}

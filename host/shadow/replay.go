package shadow

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/host"
	"leadhost/host/decode"
	"leadhost/host/script"
	"leadhost/store"
)

// MaxReplay bounds the inputs one replay runs.
const MaxReplay = 1000

// maxReplayScan bounds the journal entries one replay reads to find them.
const maxReplayScan = 20_000

// maxReplayLeads bounds the leads a replayed check answer is about, as a
// dry run's (check.DryRun).
const maxReplayLeads = 1000

// Replay runs the offer's live version and its candidate, both in shadow,
// over the last `last` inputs the journal kept of the offer — webhook and
// postback calls as they came, and check answers kept whole — and
// returns how many were compared and where the two differ. Nothing is
// committed, sent or journaled. A check answer is about the leads its
// mode would ask about now (the journal keeps the answer, not the leads),
// and each version reads it in its own [check] format. Each run stops
// after RunTimeout, as the live inputs' shadow runs, and take turns with
// them, never with the live runs. One replay of an offer at a time: a
// second wraps ErrBusy. It stops when ctx ends, with what it compared.
func (s *Shadow) Replay(ctx context.Context, offer string, last int) (Counts, []Difference, error) {
	live, ok := s.offers.Offer(offer)
	if !ok {
		return Counts{}, nil, fmt.Errorf("no offer %q is loaded: %w", offer, store.ErrNotFound)
	}
	cand, err := s.offers.LoadedCandidate(offer)
	if err != nil {
		return Counts{}, nil, err
	}
	if last <= 0 || last > MaxReplay {
		return Counts{}, nil, fmt.Errorf("last %d: want 1..%d: %w", last, MaxReplay, store.ErrInvalid)
	}
	if !s.beginReplay(offer) {
		return Counts{}, nil, fmt.Errorf("offer %s: a replay is running; ask again when it is done: %w", offer, ErrBusy)
	}
	defer s.endReplay(offer)
	var (
		counts Counts
		diffs  []Difference
		leads  = map[host.Mode][]*store.Lead{}
		cursor string
		read   int
	)
	for counts.Compared < int64(last) && read < maxReplayScan {
		if err := ctx.Err(); err != nil {
			return counts, diffs, err
		}
		page, next, err := s.store.JournalList(ctx, store.JournalQuery{Offer: offer, Cursor: cursor, Limit: 200})
		if err != nil {
			return counts, diffs, err
		}
		for _, e := range page {
			read++
			for _, in := range s.replayInputs(live, cand, e, leads) {
				if counts.Compared == int64(last) {
					break
				}
				if err := ctx.Err(); err != nil {
					return counts, diffs, err
				}
				r := in(ctx)
				if !r.ran {
					continue
				}
				counts.Compared++
				if r.differs {
					counts.Differing++
					diffs = append(diffs, r.diff)
				}
			}
			if counts.Compared == int64(last) {
				break
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return counts, diffs, nil
}

// beginReplay marks a replay of the offer running, unless one is.
func (s *Shadow) beginReplay(offer string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replaying[offer] {
		return false
	}
	s.replaying[offer] = true
	return true
}

func (s *Shadow) endReplay(offer string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.replaying, offer)
}

// replayRun runs one side of a replayed input under RunTimeout.
func replayRun(ctx context.Context, run func(context.Context) Side) Side {
	ctx, cancel := context.WithTimeout(ctx, RunTimeout)
	defer cancel()
	return run(ctx)
}

// replayInputs are the comparisons one journal entry gives: one for a
// webhook or postback call, one per answer kept whole for a check run,
// none for the rest.
func (s *Shadow) replayInputs(live, cand *host.Offer, e store.JournalEntry, leads map[host.Mode][]*store.Lead) []func(context.Context) result {
	switch {
	case (e.Kind == store.KindHook || e.Kind == store.KindPostback) && e.Request != "" && e.Status != store.JournalRefused:
		file, req, err := callOf(e)
		if err != nil || live.Scripts[file] == nil {
			return nil // not a scripted call, or not one that reads
		}
		return []func(context.Context) result{func(ctx context.Context) result {
			l := replayRun(ctx, func(ctx context.Context) Side { return s.runHook(ctx, live, file, req, nil, nil) })
			c := replayRun(ctx, func(ctx context.Context) Side { return s.runHook(ctx, cand, file, req, l.Added, nil) })
			return s.compared(e.At, live.ID, fmt.Sprintf("webhook %s (journal %d)", file, e.ID), l, c)
		}}
	case e.Kind == store.KindCheck && e.Status != store.JournalDry && live.Config.Check != nil && cand.Config.Check != nil &&
		live.Scripts["check.lua"] != nil && cand.Scripts["check.lua"] != nil:
		var run struct {
			Mode      host.Mode `json:"mode"`
			Exchanges []struct {
				Status   int    `json:"status"`
				Response string `json:"response"`
				Size     int    `json:"size"`
			} `json:"requests"`
		}
		if json.Unmarshal(e.Detail, &run) != nil {
			return nil
		}
		var out []func(context.Context) result
		for i, ex := range run.Exchanges {
			if ex.Status < 200 || ex.Status > 299 || len(ex.Response) != ex.Size {
				continue // failed, or kept cut: not the answer check.lua got
			}
			liveData, err := decode.Decode(checkFormat(live), []byte(ex.Response))
			if err != nil {
				continue
			}
			candData, candErr := liveData, error(nil)
			if checkFormat(cand) != checkFormat(live) {
				candData, candErr = decode.Decode(checkFormat(cand), []byte(ex.Response))
			}
			out = append(out, func(ctx context.Context) result {
				ls, ok := leads[run.Mode]
				if !ok {
					ls = s.modeLeads(ctx, live, run.Mode)
					leads[run.Mode] = ls
				}
				l := replayRun(ctx, func(ctx context.Context) Side { return s.runCheck(ctx, live, ls, liveData) })
				c := Side{Version: cand.Version, Error: errText(candErr)}
				if candErr == nil {
					c = replayRun(ctx, func(ctx context.Context) Side { return s.runCheck(ctx, cand, ls, candData) })
				}
				return s.compared(e.At, live.ID, fmt.Sprintf("check %s answer %d (journal %d): %d leads", run.Mode, i+1, e.ID, len(ls)), l, c)
			})
		}
		return out
	}
	return nil
}

// modeLeads are the leads a mode would ask about now, the oldest first.
func (s *Shadow) modeLeads(ctx context.Context, o *host.Offer, mode host.Mode) []*store.Lead {
	switch mode {
	case host.ModeDates:
		ls, _ := s.store.CreatedBetween(ctx, o.ID, time.Unix(0, 0), time.Now().Add(24*time.Hour), store.NonTerminal, maxReplayLeads)
		return ls
	case host.ModeAccepted:
		page, _ := s.store.List(ctx, store.Query{Offer: o.ID, Statuses: store.InAccepted, Limit: maxReplayLeads})
		return page.Leads
	}
	page, _ := s.store.List(ctx, store.Query{Offer: o.ID, Statuses: store.InProcessing, Limit: maxReplayLeads})
	return page.Leads
}

// callOf reads a journaled webhook or postback: the script it ran
// ("hook.lua", "hooks/<name>.lua", "postback.lua") and the call as the
// script saw it.
func callOf(e store.JournalEntry) (string, script.HookRequest, error) {
	var req fasthttp.Request
	if err := req.Read(bufio.NewReader(strings.NewReader(e.Request))); err != nil {
		return "", script.HookRequest{}, err
	}
	rest, ok := strings.CutPrefix(string(req.URI().Path()), "/"+string(e.Kind)+"/")
	if !ok {
		return "", script.HookRequest{}, fmt.Errorf("not a %s", e.Kind)
	}
	_, name, _ := strings.Cut(rest, "/")
	file := "hook.lua"
	switch {
	case e.Kind == store.KindPostback:
		file = "postback.lua"
	case name != "":
		file = "hooks/" + name + ".lua"
	}
	// From a documentation address, as the journal's replay calls: not
	// the partner's first call, and not a local one.
	hr, err := script.ReadHookRequest(&req, "192.0.2.1")
	return file, hr, err
}

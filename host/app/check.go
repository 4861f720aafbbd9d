package app

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"leadhost/host"
	"leadhost/host/check"
	"leadhost/store"
)

// CheckNowLimit bounds a check run a person asks for (the CLI, the API):
// they wait for its report. The same limit holds wherever it runs.
const CheckNowLimit = 5 * time.Minute

// CheckNow runs one status-check mode of an offer now, as the API and
// `leadhost check` ask for it. mode "" is the offer's first mode; a mode
// the offer does not run (not in its [check], or switched off) is
// refused with the modes it has. A run of the offer in flight gives
// check.ErrBusy. The report's Err says whether the run itself failed.
func (a *App) CheckNow(ctx context.Context, offerID string, req CheckRequest) (*check.Report, error) {
	o, m, err := a.checkMode(offerID, req.Mode)
	if err != nil {
		return nil, err
	}
	if len(req.Leads) > 0 && !m.ByIDs() {
		return nil, fmt.Errorf("leads: the %s mode asks by dates, not by leads: %w", m, store.ErrInvalid)
	}
	if err := a.offersLeads(ctx, o.ID, req.Leads); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, CheckNowLimit)
	defer cancel()
	return a.Checks.RunNow(ctx, o, m, check.Options{Dry: req.Dry, Leads: req.Leads})
}

// CheckRequest is a check run a person asks for.
type CheckRequest struct {
	Mode string // a mode the offer runs; "" its first
	Dry  bool   // show the edits, commit nothing
	// Leads, when given, are the leads to ask about (ID modes) instead of
	// those the mode would list: one of them makes a batch = 1 offer's
	// inid.
	Leads []uint64
}

// DryRunAnswer hands a partner's answer (body) to the offer's check.lua
// as mode would, committing nothing; leads, when given, are the leads it
// is an answer about (one: check.lua's inid).
func (a *App) DryRunAnswer(ctx context.Context, offerID, mode string, body []byte, leads []uint64) (*check.Report, error) {
	o, m, err := a.checkMode(offerID, mode)
	if err != nil {
		return nil, err
	}
	if err := a.offersLeads(ctx, o.ID, leads); err != nil {
		return nil, err
	}
	return a.Checks.DryRun(ctx, o, m, body, leads), nil
}

// offersLeads checks that the leads a person named exist and are the
// offer's, before a run asks about them (the runner checks them too).
func (a *App) offersLeads(ctx context.Context, offer string, ids []uint64) error {
	if _, err := check.OfferLeads(ctx, a.Store, offer, ids); err != nil {
		return fmt.Errorf("leads: %w", err)
	}
	return nil
}

// ParseLeadIDs reads a list of lead ids as people write it: "1,2, 3".
func ParseLeadIDs(text string) ([]uint64, error) {
	var ids []uint64
	for _, part := range strings.Split(text, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		id, err := strconv.ParseUint(part, 10, 64)
		if err != nil || id == 0 {
			return nil, fmt.Errorf("leads: %q is not a lead id (want ids, comma-separated): %w", part, store.ErrInvalid)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// checkMode finds the offer and the mode to run: text names a mode the
// offer runs, or is "" for its first.
func (a *App) checkMode(offerID, text string) (*host.Offer, host.Mode, error) {
	o, err := a.Offer(offerID)
	if err != nil {
		return nil, "", err
	}
	if o.Config.Check == nil || len(o.Modes) == 0 {
		return nil, "", fmt.Errorf("offer %s has no status checks ([check] in offer.toml): %w", offerID, store.ErrInvalid)
	}
	if text == "" {
		return o, o.Modes[0].Name, nil
	}
	mode, err := host.ParseMode(text)
	if err != nil {
		return nil, "", fmt.Errorf("%v: %w", err, store.ErrInvalid)
	}
	names := make([]string, len(o.Modes))
	for i, m := range o.Modes {
		names[i] = string(m.Name)
		if mode == m.Name {
			return o, mode, nil
		}
	}
	return nil, "", fmt.Errorf("offer %s does not run mode %q: it runs %s: %w", offerID, mode, strings.Join(names, ", "), store.ErrInvalid)
}

// Offer is the loaded offer id; an error wrapping store.ErrNotFound names
// what is wrong when there is none (no folder, or a folder that does not
// load, with its problems).
func (a *App) Offer(id string) (*host.Offer, error) {
	if o, ok := a.Offers.Offer(id); ok {
		return o, nil
	}
	if problems := a.Offers.Problems(id); len(problems) > 0 {
		return nil, fmt.Errorf("offer %s does not load: %s: %w", id, strings.Join(problems, "; "), store.ErrNotFound)
	}
	return nil, fmt.Errorf("no offer %q is loaded: %w", id, store.ErrNotFound)
}

package app

import (
	"context"
	"fmt"
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
func (a *App) CheckNow(ctx context.Context, offerID, mode string, dry bool) (*check.Report, error) {
	o, m, err := a.checkMode(offerID, mode)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, CheckNowLimit)
	defer cancel()
	return a.Checks.RunNow(ctx, o, m, check.Options{Dry: dry})
}

// DryRunAnswer hands a partner's answer (body) to the offer's check.lua
// as mode would, committing nothing.
func (a *App) DryRunAnswer(ctx context.Context, offerID, mode string, body []byte) (*check.Report, error) {
	o, m, err := a.checkMode(offerID, mode)
	if err != nil {
		return nil, err
	}
	return a.Checks.DryRun(ctx, o, m, body), nil
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

package app

import (
	"context"

	"leadhost/host/shadow"
)

// ShadowView is an offer's candidate version (next/) and how it compares
// with the live one: the admin API's, the CLI's and the console's view.
type ShadowView struct {
	Offer string `json:"offer"`
	// LiveVersion is the live version's.
	LiveVersion uint64 `json:"live_version"`
	// Candidate is null when the offer stages none.
	Candidate *CandidateView `json:"candidate"`
	// Replay says the counts and differences are a replay's over the
	// journal's last inputs, not the live traffic's since serve started.
	Replay      bool                `json:"replay,omitempty"`
	Counts      shadow.Counts       `json:"counts"`
	Differences []shadow.Difference `json:"differences"` // newest first
}

// Masked is v as people are shown it: contacts and secrets masked in
// the differences, as the journal shows them.
func (v *ShadowView) Masked() *ShadowView {
	out := *v
	out.Differences = make([]shadow.Difference, len(v.Differences))
	for i, d := range v.Differences {
		out.Differences[i] = d.Masked()
	}
	return &out
}

// CandidateView is a candidate as loaded.
type CandidateView struct {
	Version  uint64   `json:"version,omitempty"` // 0 when it does not load
	Files    []string `json:"files"`             // next/'s, by path inside it
	Problems []string `json:"problems"`          // file:line: why it does not load
}

// Shadow is the offer's candidate and its shadow runs on live traffic
// since serve started (the journal keeps each difference: kind shadow).
func (a *App) Shadow(_ context.Context, offer string) (*ShadowView, error) {
	v, err := a.shadowView(offer)
	if err != nil {
		return nil, err
	}
	v.Counts, v.Differences = a.Shadows.Status(offer)
	if v.Differences == nil {
		v.Differences = []shadow.Difference{}
	}
	return v, nil
}

// ShadowReplay runs the offer's candidate and live version over the last
// `last` inputs its journal kept (shadow.Replay): nothing is committed,
// sent or journaled.
func (a *App) ShadowReplay(ctx context.Context, offer string, last int) (*ShadowView, error) {
	v, err := a.shadowView(offer)
	if err != nil {
		return nil, err
	}
	v.Replay = true
	v.Counts, v.Differences, err = a.Shadows.Replay(ctx, offer, last)
	if v.Differences == nil {
		v.Differences = []shadow.Difference{}
	}
	return v, err
}

func (a *App) shadowView(offer string) (*ShadowView, error) {
	o, err := a.Offer(offer)
	if err != nil {
		return nil, err
	}
	v := &ShadowView{Offer: o.ID, LiveVersion: o.Version}
	if c, ok := a.Offers.Candidate(offer); ok {
		cv := &CandidateView{Files: c.Files, Problems: c.Problems()}
		if c.Offer != nil {
			cv.Version = c.Offer.Version
		}
		if cv.Files == nil {
			cv.Files = []string{}
		}
		v.Candidate = cv
	}
	return v, nil
}

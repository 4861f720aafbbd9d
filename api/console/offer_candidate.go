package console

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/host"
	"leadhost/host/app"
	"leadhost/host/shadow"
	"leadhost/store"
)

// candidateData is the offer page's "Candidate (next/)" section: the
// staged version, its counts on live traffic (or, after "Compare over the
// last K inputs", the replay's) and its differences side by side.
type candidateData struct {
	Staged      bool // next/ holds one
	Version     uint64
	LiveVersion uint64
	Files       []string
	FileList    string // Files, comma-separated
	Problems    []string
	Replay      bool
	Last        int // the replay form's K
	Counts      shadow.Counts
	Diffs       []diffView
	// Raw shows the differences unmasked ("show raw", raw=1), as the
	// API's shadow routes allow.
	Raw bool
}

// diffView is one difference as the page shows it, masked unless raw.
type diffView struct {
	At              time.Time
	Input           string
	Live, Candidate uint64 // versions
	Rows            []shadow.Row
}

// defaultReplayLast is the K the replay form starts with.
const defaultReplayLast = 100

// candidateOf is the offer's candidate section from an app view,
// contacts masked unless raw.
func candidateOf(v *app.ShadowView, last int, raw bool) *candidateData {
	d := &candidateData{LiveVersion: v.LiveVersion, Replay: v.Replay, Last: last, Counts: v.Counts, Raw: raw}
	if !raw {
		v = v.Masked()
	}
	if c := v.Candidate; c != nil {
		d.Staged, d.Version, d.Files, d.Problems = true, c.Version, c.Files, c.Problems
		d.FileList = strings.Join(c.Files, ", ")
	}
	for _, df := range v.Differences {
		dv := diffView{At: df.At, Input: df.Input, Live: df.Live.Version, Candidate: df.Candidate.Version}
		for _, r := range df.Rows {
			if r.What == "status" {
				r.Live, r.Candidate = statusChange(r.Live), statusChange(r.Candidate)
			}
			dv.Rows = append(dv.Rows, r)
		}
		d.Diffs = append(d.Diffs, dv)
	}
	return d
}

// statusChange is "2 → 5" with the statuses' names.
func statusChange(text string) string {
	old, new, ok := strings.Cut(text, " → ")
	if !ok {
		return text
	}
	return statusName(old) + " → " + statusName(new)
}

// candidateSection fills the page's candidate section with the counts on
// live traffic, masked unless the page asks for raw=1.
func (cs *Console) candidateSection(r *request, d *offerData) {
	if d.Version == 0 {
		return // the offer does not load: nothing to compare with
	}
	if v, err := cs.App.Shadow(r, d.ID); err == nil {
		d.Candidate = candidateOf(v, defaultReplayLast, wantsRaw(r))
	}
}

// wantsRaw says whether the request asks for contacts unmasked (raw=1,
// in the address or the form).
func wantsRaw(r *request) bool {
	return string(r.QueryArgs().Peek("raw")) == "1" || string(r.PostArgs().Peek("raw")) == "1"
}

// shadowReplay is POST /ui/offers/<id>/shadow (last): the candidate and
// the live version over the offer's last K journaled inputs, through the
// app function POST /api/offers/<id>/shadow/replay uses; nothing is
// committed.
func (cs *Console) shadowReplay(r *request, id string) {
	d, err := cs.offerData(r, id, false)
	if err != nil {
		r.failErr(err)
		return
	}
	title := r.T("offer.title") + " " + id
	text := strings.TrimSpace(string(r.PostArgs().Peek("last")))
	last, err := strconv.Atoi(text)
	if err != nil || last < 1 || last > shadow.MaxReplay {
		r.render(fasthttp.StatusBadRequest, "offer", title, d, r.Tf("candidate.bad_last", text, shadow.MaxReplay), "")
		return
	}
	ctx, cancel := context.WithTimeout(r, app.CheckNowLimit)
	defer cancel()
	v, err := cs.App.ShadowReplay(ctx, id, last)
	if err != nil {
		r.render(cs.statusOf(err), "offer", title, d, store.Describe(err), "")
		return
	}
	d.Candidate = candidateOf(v, last, wantsRaw(r))
	r.render(fasthttp.StatusOK, "offer", title, d, "", r.Tf("candidate.replayed", v.Counts.Compared, v.Counts.Differing))
}

// promoteAsk is what the promote confirmation shows.
type promoteAsk struct {
	ID        string
	Candidate *candidateData
}

// promote is /ui/offers/<id>/promote: GET asks for confirmation, POST
// (the confirmed form) makes the candidate live through app.Promote, as
// POST /api/offers/<id>/promote does (journaled as by the console), then
// goes back to the offer's page.
func (cs *Console) promote(r *request, id string) {
	title := r.T("candidate.promote_title") + " " + id
	if !r.IsPost() {
		v, err := cs.App.Shadow(r, id)
		if err != nil {
			r.failErr(err)
			return
		}
		ask := promoteAsk{ID: id, Candidate: candidateOf(v, defaultReplayLast, false)}
		status := fasthttp.StatusOK
		if !ask.Candidate.Staged || len(ask.Candidate.Problems) > 0 {
			status = fasthttp.StatusConflict
		}
		r.render(status, "promoteask", title, ask, "", "")
		return
	}
	p, err := cs.App.Promote(r, id, app.ByConsole)
	if err != nil {
		d, derr := cs.offerData(r, id, false)
		if derr != nil {
			r.failErr(err)
			return
		}
		r.render(cs.statusOf(err), "offer", r.T("offer.title")+" "+id, d, store.Describe(err), "")
		return
	}
	cs.Log.Info("console: a candidate promoted", "offer", id, "files", strings.Join(p.Files, ","), "version", p.Version)
	seeOther(r.RequestCtx, "/ui/offers/"+id+"?done=promote")
}

// Tf is the message of key in the request's language, filled in.
func (r *request) Tf(key string, a ...any) string { return fmt.Sprintf(r.T(key), a...) }

// promotedNote is the offer page's note after a promote.
func promotedNote(r *request) string {
	if string(r.QueryArgs().Peek("done")) == "promote" {
		return r.Tf("candidate.promoted", host.PrevDir)
	}
	return ""
}

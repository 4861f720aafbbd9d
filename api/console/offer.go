package console

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/host"
	"leadhost/host/app"
	"leadhost/host/check"
	"leadhost/host/script"
	"leadhost/store"
)

// offerData is an offer's page: what it is, its files, where partners
// call it, its schedules, and the check forms with a run's report.
type offerData struct {
	ID, Name  string
	Version   uint64 // 0: it never loaded
	Loaded    time.Time
	Problems  []string
	Settings  []setting
	Files     []offerFile
	Endpoints []endpoint
	ShowToken bool
	Modes     []host.Mode
	Schedules []check.Schedule
	// Check and Try are the two forms as last posted; Report is the
	// run one of them made ("" Ran: none).
	Check  checkForm
	Try    tryForm
	Ran    string // "check" or "try"
	Report *reportView
	// Candidate is the staged version's section (nil: the offer does
	// not load, so there is nothing to compare with).
	Candidate *candidateData
}

// endpoint is an address partners call: a webhook or incoming postbacks.
type endpoint struct {
	Kind string // "hook", "postback"
	URL  string // with the token, or *** for it unless asked
}

// checkForm is the Run a check now form.
type checkForm struct {
	Mode string
	Dry  bool
}

// tryForm is the Try an answer form.
type tryForm struct {
	Mode, Leads, Answer string
}

// offerPage is /ui/offers/<id>.
func (cs *Console) offerPage(r *request, id string) {
	d, err := cs.offerData(r, id, false)
	if err != nil {
		r.failErr(err)
		return
	}
	r.render(fasthttp.StatusOK, "offer", r.T("offer.title")+" "+id, d, "", promotedNote(r))
}

// offerData gathers the offer's page; an offer neither loaded nor
// failing to load is not found.
func (cs *Console) offerData(r *request, id string, showToken bool) (offerData, error) {
	a := cs.App
	o, ok := a.Offers.Offer(id)
	loadErrs, failing := a.Offers.Errors()[id]
	if !ok && !failing {
		_, err := a.Offer(id)
		return offerData{}, err
	}
	d := offerData{ID: id, Problems: a.Offers.Problems(id), ShowToken: showToken, Check: checkForm{Dry: true}}
	if o != nil {
		d.Name, d.Version, d.Loaded = o.Config.Name, o.Version, o.Loaded
		d.Settings = settingsOf(o.Config)
		for _, m := range o.Modes {
			d.Modes = append(d.Modes, m.Name)
		}
		d.Endpoints = cs.endpoints(r, o, showToken)
	}
	d.Files = offerFiles(a.Offers.Dir(), id, o, loadErrs)
	for _, sc := range a.Checks.Schedules() {
		if sc.Offer == id {
			d.Schedules = append(d.Schedules, sc)
		}
	}
	cs.candidateSection(r, &d)
	return d, nil
}

// endpoints are the addresses partners call the offer at, as the
// browser reached this server (a trusted proxy's host and scheme), the
// token masked unless asked for.
func (cs *Console) endpoints(r *request, o *host.Offer, showToken bool) []endpoint {
	scheme := "http"
	if cs.Access.Secure != nil && cs.Access.Secure(r.RequestCtx) {
		scheme = "https"
	}
	hostname := string(r.Host())
	if cs.Access.Host != nil {
		hostname = cs.Access.Host(r.RequestCtx)
	}
	base := scheme + "://" + hostname
	withToken := func(path, token string) string {
		if token == "" {
			return base + path
		}
		if !showToken {
			return base + path + "?token=***"
		}
		return base + path + "?token=" + url.QueryEscape(token)
	}
	var out []endpoint
	hookToken := ""
	if o.Config.Hook != nil {
		hookToken = o.Config.Hook.Token
	}
	var hooks []string
	for name := range o.Scripts {
		switch {
		case name == "hook.lua":
			hooks = append(hooks, "/hook/"+o.ID)
		case strings.HasPrefix(name, "hooks/"):
			hooks = append(hooks, "/hook/"+o.ID+"/"+strings.TrimSuffix(strings.TrimPrefix(name, "hooks/"), ".lua"))
		}
	}
	sort.Strings(hooks)
	for _, h := range hooks {
		out = append(out, endpoint{Kind: "hook", URL: withToken(h, hookToken)})
	}
	if p := o.Config.Postback; p != nil && p.Token != "" {
		out = append(out, endpoint{Kind: "postback", URL: withToken("/postback/"+o.ID, p.Token)})
	}
	return out
}

// showToken is POST /ui/offers/<id>/token: the page again, its
// addresses with the token in them. A form, not a link: only a
// signed-in session sees the partners' secret.
func (cs *Console) showToken(r *request, id string) {
	d, err := cs.offerData(r, id, true)
	if err != nil {
		r.failErr(err)
		return
	}
	r.render(fasthttp.StatusOK, "offer", r.T("offer.title")+" "+id, d, "", "")
}

// reportView is a check run's report as the page shows it, masked.
type reportView struct {
	Mode      host.Mode
	Dry       bool
	Started   time.Time
	Duration  store.Duration
	Leads     int
	Exchanges []check.Exchange
	Edits     []editRow
	Refused   []string
	Logs      []string
	Err       string
}

// editRow is one field an edit changed (or would change): lead, field,
// old → new.
type editRow struct {
	Lead            uint64
	Field, Old, New string
}

func viewReport(rep *check.Report) *reportView {
	rep = rep.Masked()
	v := &reportView{Mode: rep.Mode, Dry: rep.Dry, Started: rep.Started, Duration: rep.Duration, Leads: rep.Leads, Err: rep.Error(), Exchanges: rep.Exchanges}
	for _, e := range rep.Edits {
		for _, f := range e.Fields {
			row := editRow{Lead: e.LeadID, Field: f.Field, Old: f.Old, New: f.New}
			if f.Field == "status" {
				row.Old, row.New = statusName(f.Old), statusName(f.New)
			}
			v.Edits = append(v.Edits, row)
		}
	}
	v.Refused, v.Logs = rep.Refused, rep.Logs
	return v
}

// statusName is a status as a change records it ("6"), with its code
// and Russian label as the console shows statuses.
func statusName(text string) string {
	n, err := strconv.Atoi(text)
	if err != nil {
		return text
	}
	return statusText(store.Status(n))
}

// runCheck is POST /ui/offers/<id>/check (mode, dry): a check run now,
// through the app function POST /api/offers/<id>/check uses, its report
// shown on the page and answered with the API's status for it (502 the
// partner failed the run, 500 the offer's script raised).
func (cs *Console) runCheck(r *request, id string) {
	form := checkForm{Mode: string(r.PostArgs().Peek("mode")), Dry: string(r.PostArgs().Peek("dry")) == "1"}
	d, err := cs.offerData(r, id, false)
	if err != nil {
		r.failErr(err)
		return
	}
	d.Check, d.Ran = form, "check"
	rep, err := cs.App.CheckNow(r, id, app.CheckRequest{Mode: form.Mode, Dry: form.Dry})
	if err != nil {
		r.render(cs.statusOf(err), "offer", r.T("offer.title")+" "+id, d, store.Describe(err), "")
		return
	}
	d.Report = viewReport(rep)
	cs.showRun(r, d, rep, fasthttp.StatusBadGateway)
}

// tryAnswer is POST /ui/offers/<id>/try (mode, leads, answer): the
// partner's answer pasted handed to check.lua as the mode would, nothing
// committed — the app function behind POST /api/offers/<id>/dry-run.
func (cs *Console) tryAnswer(r *request, id string) {
	a := r.PostArgs()
	form := tryForm{Mode: string(a.Peek("mode")), Leads: strings.TrimSpace(string(a.Peek("leads"))), Answer: string(a.Peek("answer"))}
	d, err := cs.offerData(r, id, false)
	if err != nil {
		r.failErr(err)
		return
	}
	d.Try, d.Ran = form, "try"
	title := r.T("offer.title") + " " + id
	if strings.TrimSpace(form.Answer) == "" {
		r.render(fasthttp.StatusBadRequest, "offer", title, d, r.T("offer.try_empty"), "")
		return
	}
	leads, err := app.ParseLeadIDs(form.Leads)
	if err != nil {
		r.render(cs.statusOf(err), "offer", title, d, store.Describe(err), "")
		return
	}
	ctx, cancel := context.WithTimeout(r, app.CheckNowLimit)
	defer cancel()
	rep, err := cs.App.DryRunAnswer(ctx, id, form.Mode, []byte(form.Answer), leads)
	if err != nil {
		r.render(cs.statusOf(err), "offer", title, d, store.Describe(err), "")
		return
	}
	d.Report = viewReport(rep)
	cs.showRun(r, d, rep, fasthttp.StatusUnprocessableEntity)
}

// showRun answers with the page and a run's report: failed is the
// status of a run that failed (as the API answers it), 500 when the
// offer's script raised (its file:line in the error).
func (cs *Console) showRun(r *request, d offerData, rep *check.Report, failed int) {
	title := r.T("offer.title") + " " + d.ID
	if rep.Err == nil {
		note := r.T("offer.ran")
		if rep.Dry {
			note = r.T("offer.ran_dry")
		}
		r.render(fasthttp.StatusOK, "offer", title, d, "", fmt.Sprintf(note, len(d.Report.Edits)))
		return
	}
	var scriptErr *script.RunError
	if errors.As(rep.Err, &scriptErr) {
		failed = fasthttp.StatusInternalServerError
	}
	r.render(failed, "offer", title, d, d.Report.Err, "")
}

// statusOf is the admin API's status for err.
func (cs *Console) statusOf(err error) int {
	if cs.Access.StatusOf != nil {
		return cs.Access.StatusOf(err)
	}
	return fasthttp.StatusInternalServerError
}

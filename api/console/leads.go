package console

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"leadhost/host/app"
	"leadhost/store"
)

// leadsData is the leads page: its filters and a page of leads.
type leadsData struct {
	Offer, Status, Ext, Contact string
	Offers                      []string
	Statuses                    []store.Status
	Leads                       []leadRow
	Next                        string
}

// leadRow is one lead in the list, its contact masked.
type leadRow struct {
	ID      uint64
	Offer   string
	Ext     string
	Status  store.Status
	Created string
	Name    string
	Contact string
}

func allStatuses() []store.Status {
	var out []store.Status
	for s := store.StatusNew; s <= store.MaxStatus; s++ {
		out = append(out, s)
	}
	return out
}

// leads is /ui/leads?offer=&status=&ext=&contact=: leads found as GET
// /api/leads finds them (app.FindLeads). With a phone or an e-mail and
// no offer, every offer's.
func (cs *Console) leads(r *request) {
	a := r.QueryArgs()
	d := leadsData{Offer: string(a.Peek("offer")), Status: string(a.Peek("status")), Ext: strings.TrimSpace(string(a.Peek("ext"))),
		Contact: strings.TrimSpace(string(a.Peek("contact"))), Offers: cs.App.Offers.IDs(), Statuses: allStatuses()}
	if d.Offer == "" && d.Contact == "" && len(d.Offers) > 0 {
		d.Offer = d.Offers[0]
	}
	f := app.LeadFilter{Offer: d.Offer, Ext: d.Ext, Contact: d.Contact, Cursor: string(a.Peek("cursor"))}
	if d.Status != "" {
		st, err := store.ParseStatus(d.Status)
		if err != nil {
			r.render(fasthttp.StatusBadRequest, "leads", r.T("leads.title"), d, store.Describe(err), "")
			return
		}
		f.Statuses = store.Statuses(st)
	}
	var page store.Page
	if d.Offer != "" || d.Contact != "" {
		var err error
		if page, err = cs.App.FindLeads(r, f); err != nil {
			r.render(fasthttp.StatusBadRequest, "leads", r.T("leads.title"), d, store.Describe(err), "")
			return
		}
	}
	for _, l := range page.Leads {
		d.Leads = append(d.Leads, leadRow{ID: l.ID, Offer: l.Offer, Ext: l.Ext, Status: l.Status, Created: when(l.Created),
			Name: store.Mask(l.Fields["name"]), Contact: store.Mask(strings.TrimSpace(l.Fields["phone"] + " " + l.Fields["email"]))})
	}
	if page.Next != "" {
		v := url.Values{"cursor": {page.Next}}
		for name, val := range map[string]string{"offer": d.Offer, "status": d.Status, "contact": d.Contact} {
			if val != "" {
				v.Set(name, val)
			}
		}
		d.Next = "/ui/leads?" + v.Encode()
	}
	r.render(fasthttp.StatusOK, "leads", r.T("leads.title"), d, "", "")
}

// leadData is a lead's page: the lead shown (masked unless raw), its
// history, and the edit form.
type leadData struct {
	Lead     *store.Lead
	Fields   []field
	Raw      bool
	Reason   string
	Statuses []store.Status
	Reasons  []store.ReasonInfo
	// Form is what the edit form holds: the lead's, or what was posted
	// and refused.
	Form editForm
}

// field is one of a lead's fields, in name order.
type field struct{ Name, Value string }

// editForm is the edit form's values.
type editForm struct {
	Status, Reason, Comment, Hold string
}

// lead is /ui/leads/<id>[?raw=1].
func (cs *Console) lead(r *request, text string) {
	cs.showLead(r, text, nil, "", fasthttp.StatusOK)
}

// showLead answers with a lead's page; after a form, with the form as
// posted and why it was refused (answered with status), or saying it
// was saved.
func (cs *Console) showLead(r *request, text string, form *editForm, refusal string, status int) {
	id, err := strconv.ParseUint(text, 10, 64)
	if err != nil || id == 0 {
		r.fail(fasthttp.StatusBadRequest, fmt.Sprintf("%q is not a lead id", text))
		return
	}
	l, err := cs.App.LeadWithHistory(r, id)
	if err != nil {
		r.failErr(err)
		return
	}
	raw := string(r.QueryArgs().Peek("raw")) == "1"
	d := leadData{Lead: l, Raw: raw, Statuses: allStatuses(), Reasons: cs.App.Store.Reasons().All()}
	for name, v := range l.Fields {
		if !raw {
			v = store.Mask(v)
		}
		d.Fields = append(d.Fields, field{name, v})
	}
	sort.Slice(d.Fields, func(i, j int) bool { return d.Fields[i].Name < d.Fields[j].Name })
	if !raw {
		masked := *l
		masked.Comment = store.Mask(l.Comment)
		masked.History = maskHistory(l.History)
		d.Lead = &masked
	}
	if info, ok := cs.App.Store.Reasons().Lookup(l.Reason); ok && l.Reason != 0 {
		d.Reason = fmt.Sprintf("%d %s · %s", info.ID, info.Code, info.Label)
	}
	d.Form = editForm{Status: strconv.Itoa(int(l.Status)), Comment: d.Lead.Comment}
	if l.Reason != 0 {
		d.Form.Reason = strconv.Itoa(int(l.Reason))
	}
	note := ""
	switch {
	case form != nil && refusal != "":
		d.Form = *form
	case form != nil:
		note = r.T("lead.saved")
	}
	errText := ""
	if refusal != "" {
		errText = r.T("lead.refused") + " " + refusal
	}
	r.render(status, "lead", fmt.Sprintf("%s %d", r.T("lead.title"), l.ID), d, errText, note)
}

func maskHistory(h []store.Change) []store.Change {
	out := make([]store.Change, len(h))
	for i, c := range h {
		c.Fields = append([]store.FieldChange(nil), c.Fields...)
		for j := range c.Fields {
			c.Fields[j].Old, c.Fields[j].New = store.Mask(c.Fields[j].Old), store.Mask(c.Fields[j].New)
		}
		out[i] = c
	}
	return out
}

// editLead is POST /ui/leads/<id>/edit: the form's status, reason,
// comment and hold (days) go through the edit rules as PATCH /api/leads/<id> does; a
// refusal is shown in words, with the form as it was posted.
func (cs *Console) editLead(r *request, text string) {
	id, err := strconv.ParseUint(text, 10, 64)
	if err != nil || id == 0 {
		r.fail(fasthttp.StatusBadRequest, fmt.Sprintf("%q is not a lead id", text))
		return
	}
	before, err := cs.App.Store.Get(r, id)
	if err != nil {
		r.failErr(err)
		return
	}
	a := r.PostArgs()
	form := editForm{Status: string(a.Peek("status")), Reason: string(a.Peek("reason")), Comment: string(a.Peek("comment")),
		Hold: strings.TrimSpace(string(a.Peek("hold")))}
	patch := map[string]any{}
	if form.Status != "" && form.Status != strconv.Itoa(int(before.Status)) {
		patch["status"] = json.RawMessage(strconv.Quote(form.Status))
	}
	if form.Reason != "" && form.Reason != strconv.Itoa(int(before.Reason)) {
		n, err := strconv.Atoi(form.Reason)
		if err != nil {
			cs.showLead(r, text, &form, fmt.Sprintf("reason %q is not a number", form.Reason), fasthttp.StatusBadRequest)
			return
		}
		patch["reason"] = n
	}
	if form.Hold != "" {
		days, err := strconv.Atoi(form.Hold)
		if err != nil || days < 1 {
			cs.showLead(r, text, &form, fmt.Sprintf("hold %q: want a number of days, 1 or more", form.Hold), fasthttp.StatusBadRequest)
			return
		}
		patch["hold"] = days
		delete(patch, "status") // the form's status is the lead's own: hold is status 4
	}
	if form.Comment != before.Comment && form.Comment != store.Mask(before.Comment) {
		patch["comment"] = form.Comment
	}
	if len(patch) == 0 {
		cs.showLead(r, text, nil, "", fasthttp.StatusOK)
		return
	}
	input, _ := json.Marshal(patch)
	if _, err := cs.App.EditLead(r, id, input, app.ByConsole); err != nil {
		status := fasthttp.StatusConflict
		if cs.Access.StatusOf != nil {
			status = cs.Access.StatusOf(err) // as PATCH /api/leads/<id> answers it
		}
		cs.showLead(r, text, &form, store.Describe(err), status)
		return
	}
	cs.showLead(r, text, &form, "", fasthttp.StatusOK)
}

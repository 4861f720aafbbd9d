package console

import (
	"fmt"
	"strconv"

	"github.com/valyala/fasthttp"

	"leadhost/host/app"
	"leadhost/host/send"
	"leadhost/store"
)

// heldRow is one held item as the held work page shows it: what is
// known of it, its last error masked.
type heldRow struct {
	Outbox string
	store.FeedItem
}

// heldData is the held work page: the items held for a person, of both
// outboxes, oldest lead first.
type heldData struct {
	Items []heldRow
	// Held is how many each outbox holds, counted up to heldListed
	// (Over: that many or more); the page shows the first heldShown.
	Held []heldCount
	More bool // an outbox holds more than the page shows
}

// heldCount is how many items an outbox holds.
type heldCount struct {
	Outbox string
	N      int
	Over   bool
}

// heldListed bounds the items read per outbox, as GET
// /api/outbox/<outbox> does; heldShown those the page shows (each
// masked and drawn: 1000 rows took 80 ms, 100 a tenth of that).
const (
	heldListed = 1000
	heldShown  = 100
)

// outboxNames are the outboxes whose held items the page lists, in order.
var outboxNames = []string{send.Feed, send.PostbackFeed}

// held is /ui/held: sends and outgoing postbacks held for a person (in
// doubt, or failing in the offer's script), oldest lead first, each with
// Release… and Drop….
func (cs *Console) held(r *request) {
	d := heldData{}
	for _, name := range outboxNames {
		feed, err := cs.App.Store.Feed(name)
		if err != nil {
			r.failErr(err)
			return
		}
		items, err := feed.Held(r, heldListed)
		if err != nil {
			r.failErr(err)
			return
		}
		d.Held = append(d.Held, heldCount{Outbox: name, N: len(items), Over: len(items) == heldListed})
		if len(items) > heldShown {
			items, d.More = items[:heldShown], true
		}
		for _, it := range items {
			d.Items = append(d.Items, heldRow{Outbox: name, FeedItem: it.Masked()})
		}
	}
	note := ""
	switch string(r.QueryArgs().Peek("done")) {
	case "release":
		note = r.T("held.released")
	case "drop":
		note = r.T("held.dropped")
	}
	r.render(fasthttp.StatusOK, "held", r.T("held.title"), d, "", note)
}

// heldAction is what a Release or Drop form names.
type heldAction struct {
	Outbox, Action string
	Lead           uint64
	Rev            uint32
	Item           *heldRow // nil: no such item held (any more)
}

// heldItem is /ui/held/<outbox>/<lead>/<rev>/<release|drop>: GET asks
// for confirmation, POST (the confirmed form) releases the item back to
// be delivered or drops it for good, through the app functions POST
// /api/outbox/<outbox>/<lead>/<rev>/release and …/drop use
// (app.ReleaseHeld, app.DropHeld: journaled as by the console), then goes
// back to the list.
func (cs *Console) heldItem(r *request, parts []string) {
	act := heldAction{Outbox: parts[0], Action: parts[3]}
	feed, err := cs.App.Store.Feed(act.Outbox)
	if err != nil {
		r.fail(fasthttp.StatusNotFound, fmt.Sprintf("no outbox %q (send, postback)", act.Outbox))
		return
	}
	lead, errL := strconv.ParseUint(parts[1], 10, 64)
	rev, errR := strconv.ParseUint(parts[2], 10, 32)
	if errL != nil || errR != nil || lead == 0 {
		r.fail(fasthttp.StatusBadRequest, fmt.Sprintf("%s/%s: want a lead id and a revision", parts[1], parts[2]))
		return
	}
	act.Lead, act.Rev = lead, uint32(rev)
	if !r.IsPost() {
		items, err := feed.Held(r, heldListed)
		if err != nil {
			r.failErr(err)
			return
		}
		for _, it := range items {
			if it.LeadID == act.Lead && it.Rev == act.Rev {
				act.Item = &heldRow{Outbox: act.Outbox, FeedItem: it.Masked()}
			}
		}
		status := fasthttp.StatusOK
		if act.Item == nil {
			status = fasthttp.StatusNotFound
		}
		r.render(status, "heldask", r.T("held."+act.Action+"_title"), act, "", "")
		return
	}
	switch act.Action {
	case "release":
		_, err = cs.App.ReleaseHeld(r, act.Outbox, act.Lead, act.Rev, app.ByConsole)
	case "drop":
		_, err = cs.App.DropHeld(r, act.Outbox, act.Lead, act.Rev, app.ByConsole)
	}
	if err != nil {
		r.failErr(err)
		return
	}
	cs.Log.Info("console: a held item "+act.Action+"d", "outbox", act.Outbox, "lead", act.Lead, "rev", act.Rev)
	seeOther(r.RequestCtx, "/ui/held?done="+act.Action)
}

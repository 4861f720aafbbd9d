package console

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"leadhost/store"
)

// journalData is the journal page: its filters, a page of entries and
// the address of the next.
type journalData struct {
	Offer, Kind, Status, Since string
	Offers                     []string
	Kinds                      []store.JournalKind
	Statuses                   []store.JournalStatus
	Entries                    []store.JournalEntry
	Next                       string // the next page's address ("" on the last)
	Live                       bool   // the first page: polled for new entries
	Rows                       string // the rows' address, polled
}

// journalPageSize is how many entries a page shows.
const journalPageSize = 50

// journalQuery reads the filters as GET /api/journal takes them, and
// refuses what it refuses.
func (cs *Console) journalQuery(r *request) (journalData, store.JournalQuery, error) {
	a := r.QueryArgs()
	d := journalData{Offer: string(a.Peek("offer")), Kind: string(a.Peek("kind")), Status: string(a.Peek("status")),
		Since: string(a.Peek("since")), Offers: cs.App.Offers.IDs(), Kinds: store.JournalKinds, Statuses: store.JournalStatuses}
	q := store.JournalQuery{Offer: d.Offer, Cursor: string(a.Peek("cursor")), Limit: journalPageSize}
	var err error
	if d.Kind != "" {
		if q.Kind, err = store.ParseJournalKind(d.Kind); err != nil {
			return d, q, err
		}
	}
	if d.Status != "" {
		if q.Status, err = store.ParseJournalStatus(d.Status); err != nil {
			return d, q, err
		}
	}
	if d.Since != "" {
		if q.Since, err = store.ParseSince(d.Since, time.Now()); err != nil {
			return d, q, err
		}
	}
	d.Live = q.Cursor == ""
	filters := url.Values{}
	for k, v := range map[string]string{"offer": d.Offer, "kind": d.Kind, "status": d.Status, "since": d.Since} {
		if v != "" {
			filters.Set(k, v)
		}
	}
	d.Rows = "/ui/journal/rows?" + filters.Encode()
	entries, next, err := cs.App.Store.JournalList(r, q)
	if err != nil {
		return d, q, err
	}
	for i := range entries {
		entries[i] = entries[i].Masked() // the list never shows raw: an entry's page may
	}
	d.Entries = entries
	if next != "" {
		filters.Set("cursor", next)
		d.Next = "/ui/journal?" + filters.Encode()
	}
	return d, q, nil
}

// journal is /ui/journal: newest first, filtered, and on its first page
// new entries come in by htmx polling (journalRows).
func (cs *Console) journal(r *request) {
	d, _, err := cs.journalQuery(r)
	if err != nil {
		r.render(fasthttp.StatusBadRequest, "journal", r.T("journal.title"), d, store.Describe(err), "")
		return
	}
	r.render(fasthttp.StatusOK, "journal", r.T("journal.title"), d, "", "")
}

// journalRows is /ui/journal/rows: the first page's rows alone, for the
// page to poll.
func (cs *Console) journalRows(r *request) {
	d, _, err := cs.journalQuery(r)
	if err != nil {
		r.failErr(err)
		return
	}
	r.render(fasthttp.StatusOK, "journal#rows", "", d, "", "")
}

// entryData is one entry's page.
type entryData struct {
	store.JournalEntry
	Raw        bool
	Replayable bool
}

func (cs *Console) entryFor(r *request, text string) (*store.JournalEntry, error) {
	id, err := strconv.ParseUint(text, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%q is not a journal id: %w", text, store.ErrInvalid)
	}
	return cs.App.Store.JournalGet(r, id)
}

// journalEntry is /ui/journal/<id>[?raw=1]: what came in and went out,
// masked unless raw=1, as GET /api/journal/<id> shows it.
func (cs *Console) journalEntry(r *request, text string) {
	e, err := cs.entryFor(r, text)
	if err != nil {
		r.failErr(err)
		return
	}
	d := entryData{Raw: string(r.QueryArgs().Peek("raw")) == "1",
		Replayable: (e.Kind == store.KindHook || e.Kind == store.KindPostback) && e.Request != ""}
	if d.Raw {
		d.JournalEntry = *e
	} else {
		d.JournalEntry = e.Masked()
	}
	r.render(fasthttp.StatusOK, "entry", fmt.Sprintf("%s %d", r.T("entry.title"), e.ID), d, "", "")
}

// replayData is the replay page: the entry, and after a replay its
// answer and the offer's newest entries (the replay's own on top).
type replayData struct {
	Entry      store.JournalEntry
	Done       bool
	Status     int
	Body       string
	NewEntries []store.JournalEntry
}

// replay is /ui/journal/<id>/replay: GET asks for confirmation, POST
// (the confirmed form) runs it as POST /api/journal/<id>/replay does.
func (cs *Console) replay(r *request, text string) {
	e, err := cs.entryFor(r, text)
	if err != nil {
		r.failErr(err)
		return
	}
	d := replayData{Entry: e.Masked()}
	title := fmt.Sprintf("%s %d", r.T("replay.title"), e.ID)
	if !r.IsPost() {
		r.render(fasthttp.StatusOK, "replay", title, d, "", "")
		return
	}
	if cs.Access.Replay == nil {
		r.fail(fasthttp.StatusNotImplemented, "this console cannot replay")
		return
	}
	status, body, err := cs.Access.Replay(r.RequestCtx, text)
	if err != nil {
		r.failErr(err)
		return
	}
	d.Done, d.Status, d.Body = true, status, store.Mask(body)
	if d.NewEntries, _, err = cs.App.Store.JournalList(r, store.JournalQuery{Offer: e.Offer, Limit: 5}); err != nil {
		r.failErr(err)
		return
	}
	for i := range d.NewEntries {
		d.NewEntries[i] = d.NewEntries[i].Masked()
	}
	r.render(fasthttp.StatusOK, "replay", title, d, "", "")
}

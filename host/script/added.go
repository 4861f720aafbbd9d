package script

import (
	"fmt"

	lua "github.com/yuin/gopher-lua"

	"leadhost/store"
)

// AddedLead is a lead a hook run added with core.lead.add, as the script
// asked for it: what a shadow run's adds are compared by.
type AddedLead struct {
	ID      uint64            `json:"id"`
	Created bool              `json:"created"`
	Key     string            `json:"key,omitempty"`
	Ext     string            `json:"ext,omitempty"`
	Status  store.Status      `json:"status,omitempty"`
	Comment string            `json:"comment,omitempty"`
	Fields  map[string]string `json:"fields,omitempty"`
}

func addedLead(nl store.NewLead, id uint64, created bool) AddedLead {
	return AddedLead{ID: id, Created: created, Key: nl.Key, Ext: nl.Ext, Status: nl.Status, Comment: nl.Comment, Fields: nl.Fields}
}

// standIn is core.lead.add in shadow: nothing is stored. The n-th add
// answers as the live run's n-th did (its lead's id) when it is for the
// same key and ext, so that a reply naming the lead reads the same when
// the two versions agree (a live add the store refused is not among the
// live run's adds, so the next one must not take its place). An add the
// live run did not make (a replay of the journal runs both versions in
// shadow) answers as the store would: the lead its idempotency key
// already made, not created; else id 0, created.
func (r *Run) standIn(L *lua.LState, nl store.NewLead) int {
	id, created := uint64(0), true
	if n := len(r.Added); n < len(r.StandIns) && r.StandIns[n].Key == nl.Key && r.StandIns[n].Ext == nl.Ext {
		id, created = r.StandIns[n].ID, r.StandIns[n].Created
	} else if r.Store != nil {
		if nl.Key != "" {
			if l, err := r.Store.ByKey(r.Ctx, nl.Offer, nl.Key); err == nil {
				id, created = l.ID, false
			}
		}
		if created && nl.Ext != "" {
			if l, err := r.Store.ByExt(r.Ctx, nl.Offer, nl.Ext); err == nil {
				return fail(L, r, "core.lead.add: "+store.Describe(fmt.Errorf("offer %q already has ext %q (lead %d): %w", nl.Offer, nl.Ext, l.ID, store.ErrExists)))
			}
		}
	}
	r.Added = append(r.Added, addedLead(nl, id, created))
	L.Push(lua.LNumber(id))
	L.Push(lua.LBool(created))
	return 2
}

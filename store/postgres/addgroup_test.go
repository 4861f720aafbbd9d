package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"leadhost/store"
	"leadhost/store/postgres/pgtest"
)

// newReq builds an Add's request as Add does.
func newReq(t *testing.T, s *Store, nl store.NewLead) *addReq {
	t.Helper()
	l, err := store.BuildLead(&nl, s.clock(), store.DefaultPolicy(), s.reasons)
	if err != nil {
		t.Fatal(err)
	}
	return &addReq{lead: l, key: nl.Key, by: "hook:" + nl.Offer, feeds: []string{"send"}, done: make(chan addResult, 1)}
}

// One statement writes a group of Adds as each alone would: a key given
// twice in the group makes one lead, a key claimed before makes none,
// and each new lead has its row, its key and its send item.
func TestGroupAddIsEachAddAlone(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, pgtest.URL(t), store.Options{Feeds: []string{"send"}, Now: func() time.Time { return time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC) }})
	if _, _, err := s.Add(ctx, store.NewLead{Offer: "acme", Key: "old"}); err != nil {
		t.Fatal(err)
	}
	group := []*addReq{
		newReq(t, s, store.NewLead{Offer: "acme", Key: "k1", Fields: map[string]string{"phone": "7999"}}),
		newReq(t, s, store.NewLead{Offer: "acme"}),
		newReq(t, s, store.NewLead{Offer: "acme", Key: "k1"}), // the same key again
		newReq(t, s, store.NewLead{Offer: "acme", Key: "old"}),
		newReq(t, s, store.NewLead{Offer: "other", Key: "k1", Ext: "X-1"}), // the same key, another offer
	}
	ids, err := s.groupAdd(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if ids[0] == 0 || ids[1] == 0 || ids[2] != 0 || ids[3] != 0 || ids[4] == 0 || ids[0] == ids[1] || ids[0] == ids[4] {
		t.Fatalf("ids %v: want new leads for 0, 1 and 4, none for the repeated keys", ids)
	}
	for _, i := range []int{0, 1, 4} {
		l, err := s.Get(ctx, ids[i])
		if err != nil {
			t.Fatalf("lead of add %d: %v", i, err)
		}
		if l.Offer != group[i].lead.Offer || l.Ext != group[i].lead.Ext || l.Fields["phone"] != group[i].lead.Fields["phone"] {
			t.Errorf("lead of add %d: %+v", i, l)
		}
		hist, _ := s.History(ctx, ids[i])
		if len(hist) != 1 || hist[0].By != "hook:"+l.Offer {
			t.Errorf("history of add %d: %+v", i, hist)
		}
	}
	var keyed uint64
	if err := s.pool.QueryRow(ctx, `SELECT lead_id FROM idempotency_keys WHERE offer = 'acme' AND key = 'k1'`).Scan(&keyed); err != nil || keyed != ids[0] {
		t.Errorf("key k1 of acme points at %d (%v), want %d", keyed, err, ids[0])
	}
	f, _ := s.Feed("send")
	items, _ := f.Pending(ctx, 100)
	if len(items) != 4 { // before's and the three new leads'
		t.Errorf("%d send items, want 4: %+v", len(items), items)
	}
	if probs, err := s.Verify(ctx); err != nil || len(probs) > 0 {
		t.Errorf("verify: %v %v", probs, err)
	}
}

// A group the server refuses as a whole (one Add's ext is taken) is
// written Add by Add: that one hears why, the others are stored.
func TestGroupRefusedIsWrittenOneByOne(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, pgtest.URL(t), store.Options{Feeds: []string{"send"}})
	if _, _, err := s.Add(ctx, store.NewLead{Offer: "acme", Ext: "P-1"}); err != nil {
		t.Fatal(err)
	}
	group := []*addReq{
		newReq(t, s, store.NewLead{Offer: "acme", Key: "a"}),
		newReq(t, s, store.NewLead{Offer: "acme", Ext: "P-1"}),
		newReq(t, s, store.NewLead{Offer: "acme", Key: "b"}),
	}
	s.addGroup(group)
	for i, r := range group {
		res := <-r.done
		var pe *pgconn.PgError
		taken := errors.As(res.err, &pe) && pe.ConstraintName == "leads_offer_ext"
		if (i == 1) != taken || (i != 1 && (res.err != nil || res.id == 0)) {
			t.Errorf("add %d: id %d, err %v", i, res.id, res.err)
		}
	}
	if n, _ := s.CountLeads(ctx); n["acme"][store.StatusNew] != 3 {
		t.Errorf("leads: %v, want 3", n)
	}
}

package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"leadhost/store"
)

// reasonNoStock is a network's own reason (leadhost.toml), beyond the
// seed's 1..17.
const reasonNoStock store.Reason = 40

// editPolicies: "nodelivery" approves straight to paid and has reasons of
// its own; every other offer has the default policy.
var editPolicies = policyMap{"nodelivery": {Delivery: false, HoldDays: 7,
	DefaultReason: store.ReasonExpensive, TrashReason: store.ReasonFraud}}

// testEditRules: SPEC §1's edit rules, the cases of store/edit_test.go. An
// allowed edit is stored with its history entry and status event; a
// refused or invalid one leaves the lead, its history and its events as
// they were; an edit that changes nothing writes nothing.
func testEditRules(t *testing.T, b Backend) {
	reasons, err := store.StandardReasons().With(store.ReasonInfo{ID: reasonNoStock, Code: "no_stock", Label: "Нет в наличии"})
	if err != nil {
		t.Fatal(err)
	}
	f := open(t, b, store.Options{Policies: editPolicies, Reasons: reasons})
	evs := watch(f)
	week := 7 * 24 * time.Hour
	type rule struct {
		name     string
		offer    string       // "" is "acme"; "nodelivery" has delivery = false
		from     store.Status // status the lead is imported with
		patch    store.Patch
		wantErr  error // nil: must succeed
		status   store.Status
		reason   store.Reason
		hold     time.Duration // expected hold_until - now; 0: none
		accepted bool          // accepted_at set by this edit
		noop     bool          // no history entry, no event
		event    bool          // a status event is expected
	}
	cases := []rule{
		{name: "accept goes to packing", from: 2, patch: store.Patch{Accept: true}, status: 6, accepted: true, event: true},
		{name: "accept without delivery goes to paid", offer: "nodelivery", from: 3, patch: store.Patch{Accept: true}, status: 10, accepted: true, event: true},
		{name: "accept from hold clears the hold", from: 4, patch: store.Patch{Accept: true}, status: 6, accepted: true, event: true},
		{name: "accept of a cancelled lead clears the reason", from: 5, patch: store.Patch{Accept: true}, status: 6, accepted: true, event: true},
		{name: "accept of a lead in transit changes nothing", from: 8, patch: store.Patch{Accept: true}, status: 8, noop: true},
		{name: "cancel without reason takes the default, a cancel (2)", from: 2, patch: store.Patch{Status: ptr(store.StatusCancel)}, status: 5, reason: store.ReasonChangedMind, event: true},
		{name: "cancel without reason takes the offer's default", offer: "nodelivery", from: 2, patch: store.Patch{Status: ptr(store.StatusCancel)}, status: 5, reason: store.ReasonExpensive, event: true},
		{name: "a trash word takes the trash reason (6)", from: 2, patch: store.Patch{Status: ptr(store.StatusCancel), Trash: true}, status: 5, reason: store.ReasonTrash, event: true},
		{name: "a trash word takes the offer's trash reason", offer: "nodelivery", from: 2, patch: store.Patch{Status: ptr(store.StatusCancel), Trash: true}, status: 5, reason: store.ReasonFraud, event: true},
		{name: "a trash word on a cancelled lead makes it trash", from: 5, patch: store.Patch{Status: ptr(store.StatusCancel), Trash: true}, status: 5, reason: store.ReasonTrash},
		{name: "accept of a paid lead changes nothing", from: 10, patch: store.Patch{Accept: true}, status: 10, noop: true},
		{name: "cancel with reason", from: 3, patch: store.Patch{Status: ptr(store.StatusCancel), Reason: ptr(store.ReasonExpensive)}, status: 5, reason: store.ReasonExpensive, event: true},
		{name: "cancel with the network's own reason", from: 2, patch: store.Patch{Status: ptr(store.StatusCancel), Reason: ptr(reasonNoStock)}, status: 5, reason: reasonNoStock, event: true},
		{name: "new reason on a cancelled lead", from: 5, patch: store.Patch{Reason: ptr(store.ReasonFraud)}, status: 5, reason: store.ReasonFraud},
		{name: "hold true uses hold days", from: 2, patch: store.Patch{Hold: &store.Hold{}}, status: 4, hold: week, event: true},
		{name: "hold N days", from: 2, patch: store.Patch{Hold: &store.Hold{Days: 3}}, status: 4, hold: 3 * 24 * time.Hour, event: true},
		{name: "status 4 holds for hold days", from: 3, patch: store.Patch{Status: ptr(store.StatusHold)}, status: 4, hold: week, event: true},
		{name: "callback", from: 2, patch: store.Patch{Status: ptr(store.StatusCallback)}, status: 3, event: true},
		{name: "delivery stages move forward", from: 6, patch: store.Patch{Status: ptr(store.StatusTransit)}, status: 8, event: true},
		{name: "paid to return", from: 10, patch: store.Patch{Status: ptr(store.StatusReturn)}, status: 11, event: true},
		{name: "direct status 6 is no approval", from: 2, patch: store.Patch{Status: ptr(store.StatusPacking)}, status: 6, event: true},
		{name: "same status is a no-op", from: 2, patch: store.Patch{Status: ptr(store.StatusProcessing)}, status: 2, noop: true},
		{name: "comment only", from: 2, patch: store.Patch{Comment: ptr("call after 18:00")}, status: 2},
		{name: "the same comment again is a no-op", from: 2, patch: store.Patch{Comment: ptr("")}, status: 2, noop: true},

		{name: "paid back to processing is refused", from: 10, patch: store.Patch{Status: ptr(store.StatusProcessing)}, wantErr: store.ErrRefused, status: 10},
		{name: "approved back to callback is refused", from: 6, patch: store.Patch{Status: ptr(store.StatusCallback)}, wantErr: store.ErrRefused, status: 6},
		{name: "cancelled into hold is refused", from: 5, patch: store.Patch{Hold: &store.Hold{}}, wantErr: store.ErrRefused, status: 5, reason: store.ReasonChangedMind},
		{name: "refusal keeps the comment too", from: 10, patch: store.Patch{Status: ptr(store.StatusNew), Comment: ptr("x")}, wantErr: store.ErrRefused, status: 10},
		{name: "status 0", from: 2, patch: store.Patch{Status: ptr(store.Status(0))}, wantErr: store.ErrInvalid, status: 2},
		{name: "status 13", from: 2, patch: store.Patch{Status: ptr(store.Status(13))}, wantErr: store.ErrInvalid, status: 2},
		{name: "unknown reason", from: 2, patch: store.Patch{Status: ptr(store.StatusCancel), Reason: ptr(store.Reason(99))}, wantErr: store.ErrInvalid, status: 2},
		{name: "reason without cancel", from: 2, patch: store.Patch{Reason: ptr(store.ReasonTrash)}, wantErr: store.ErrInvalid, status: 2},
		{name: "negative counts", from: 2, patch: store.Patch{Counts: ptr(-1)}, wantErr: store.ErrInvalid, status: 2},
		{name: "negative base", from: 2, patch: store.Patch{Base: ptr(store.MoneyFromUnits(-100, 2))}, wantErr: store.ErrInvalid, status: 2},
		{name: "unknown currency", from: 2, patch: store.Patch{Curr: ptr(store.Currency(999))}, wantErr: store.ErrInvalid, status: 2},
		{name: "unknown cash currency", from: 2, patch: store.Patch{Cash: &store.CashPatch{CC: ptr(store.Currency(1))}}, wantErr: store.ErrInvalid, status: 2},
		{name: "unknown goal", from: 2, patch: store.Patch{Goal: ptr(uint32(777))}, wantErr: store.ErrInvalid, status: 2},
		{name: "unknown goal code", from: 2, patch: store.Patch{GoalCode: "nope"}, wantErr: store.ErrInvalid, status: 2},
		{name: "accept with status", from: 2, patch: store.Patch{Accept: true, Status: ptr(store.StatusPaid)}, wantErr: store.ErrInvalid, status: 2},
		{name: "hold with another status", from: 2, patch: store.Patch{Hold: &store.Hold{}, Status: ptr(store.StatusCallback)}, wantErr: store.ErrInvalid, status: 2},
		{name: "hold of 100 years", from: 2, patch: store.Patch{Hold: &store.Hold{Days: 36500}}, wantErr: store.ErrInvalid, status: 2},
		{name: "another offer's script", from: 2, patch: store.Patch{Accept: true, Offer: "other"}, wantErr: store.ErrRefused, status: 2},
		{name: "empty ext", from: 2, patch: store.Patch{Ext: ptr("")}, wantErr: store.ErrInvalid, status: 2},
	}
	// Events are asynchronous: each case's lead is checked for surplus
	// events once all of them ran (settle).
	type ran struct {
		rule
		id uint64
	}
	var done []ran
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			offer := tc.offer
			if offer == "" {
				offer = "acme"
			}
			lead := f.add(store.NewLead{Offer: offer, Ext: fmt.Sprint("E", i), Status: tc.from,
				Fields: map[string]string{"phone": "79990001122"}})
			done = append(done, ran{tc, lead.ID})
			before := f.history(lead.ID)
			f.clk.Advance(time.Hour)
			now := f.clk.Now()

			got, err := f.s.Edit(f.ctx, lead.ID, tc.patch)
			stored := f.get(lead.ID)
			after := f.history(lead.ID)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if got != nil {
					t.Errorf("a failed edit returned a lead")
				}
				if !sameLead(stored, lead) {
					t.Errorf("a failed edit changed the lead:\n was %s\n now %s", leadText(lead), leadText(stored))
				}
				if len(after) != len(before) {
					t.Errorf("a failed edit wrote history: %d entries, then %d", len(before), len(after))
				}
				return
			}
			if err != nil {
				t.Fatalf("edit: %v", err)
			}
			if stored.Status != tc.status || stored.Reason != tc.reason {
				t.Errorf("stored status %d reason %d, want %d reason %d", stored.Status, stored.Reason, tc.status, tc.reason)
			}
			if !sameLead(got, stored) {
				t.Errorf("Edit returned %s, stored is %s", leadText(got), leadText(stored))
			}
			wantHold := time.Time{}
			if tc.hold != 0 {
				wantHold = now.Add(tc.hold)
			}
			if !stored.HoldUntil.Equal(wantHold) {
				t.Errorf("hold_until = %v, want %v", stored.HoldUntil, wantHold)
			}
			if tc.accepted != stored.AcceptedAt.Equal(now) {
				t.Errorf("accepted_at = %v, want set by this edit: %v", stored.AcceptedAt, tc.accepted)
			}
			if tc.noop {
				if len(after) != len(before) || stored.Rev != lead.Rev || !stored.Updated.Equal(lead.Updated) {
					t.Errorf("an edit that changes nothing wrote: history %d→%d, rev %d→%d, updated %v→%v",
						len(before), len(after), lead.Rev, stored.Rev, lead.Updated, stored.Updated)
				}
				return
			}
			if len(after) != len(before)+1 || stored.Rev != lead.Rev+1 || !stored.Updated.Equal(now) {
				t.Fatalf("the edit wrote history %d→%d, rev %d→%d, updated %v", len(before), len(after), lead.Rev, stored.Rev, stored.Updated)
			}
			if last := after[len(after)-1]; last.Rev != stored.Rev || !last.At.Equal(now) || len(last.Fields) == 0 {
				t.Errorf("history entry %+v", last)
			}
			if tc.event {
				ev := evs.wait(t, lead.ID, 2)[1]
				if ev.From != tc.from || ev.To != tc.status || ev.Approved != tc.accepted || ev.Rev != stored.Rev ||
					ev.Offer != offer || (tc.status == store.StatusCancel && ev.Reason != tc.reason) {
					t.Errorf("event %+v", ev)
				}
			}
		})
	}
	t.Run("events", func(t *testing.T) {
		evs.settle(f)
		for _, r := range done {
			want := 1 // the creation
			if r.event && r.wantErr == nil {
				want = 2
			}
			if got := evs.of(r.id); len(got) != want {
				t.Errorf("%s: %d events %+v, want %d", r.name, len(got), got, want)
			}
		}
	})

	t.Run("unknown lead", func(t *testing.T) {
		for _, id := range []uint64{0, 1 << 60} {
			if _, err := f.s.Edit(f.ctx, id, store.Patch{Accept: true}); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("edit of lead %d: err = %v, want ErrNotFound", id, err)
			}
		}
	})

	t.Run("accept of a lead put in transit by a status", func(t *testing.T) {
		l := f.add(store.NewLead{Offer: "acme", Status: store.StatusProcessing})
		put := f.edit(l.ID, store.Patch{Status: ptr(store.StatusTransit)})
		f.clk.Advance(time.Minute)
		got := f.edit(l.ID, store.Patch{Accept: true})
		evs.settle(f)
		if got.Status != store.StatusTransit || got.Rev != put.Rev || !got.AcceptedAt.IsZero() {
			t.Errorf("accept of a lead already in transit: %s", leadText(got))
		}
		if n := len(evs.of(l.ID)); n != 2 {
			t.Errorf("%d events, want the creation and the move to transit only", n)
		}
	})
}

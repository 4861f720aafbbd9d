package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestEditRules(t *testing.T) {
	t.Parallel()
	week := 7 * 24 * time.Hour
	cases := []struct {
		name     string
		offer    string // "" is "acme"; "nodelivery" has delivery = false
		from     Status // status the lead is imported with
		patch    Patch
		wantErr  error // nil: must succeed
		status   Status
		reason   Reason
		hold     time.Duration // expected hold_until - now; 0: none
		accepted bool          // accepted_at set by this edit
		noop     bool          // no history entry, no event
		event    bool          // a status event is expected
	}{
		{name: "accept goes to packing", from: 2, patch: Patch{Accept: true}, status: 6, accepted: true, event: true},
		{name: "accept without delivery goes to paid", offer: "nodelivery", from: 3, patch: Patch{Accept: true}, status: 10, accepted: true, event: true},
		{name: "accept from hold clears the hold", from: 4, patch: Patch{Accept: true}, status: 6, accepted: true, event: true},
		{name: "accept of a cancelled lead clears the reason", from: 5, patch: Patch{Accept: true}, status: 6, accepted: true, event: true},
		{name: "accept of a lead in transit changes nothing", from: 8, patch: Patch{Accept: true}, status: 8, noop: true},
		{name: "cancel without reason takes the default, a cancel (2)", from: 2, patch: Patch{Status: ptr(StatusCancel)}, status: 5, reason: ReasonChangedMind, event: true},
		{name: "cancel without reason takes the offer's default", offer: "nodelivery", from: 2, patch: Patch{Status: ptr(StatusCancel)}, status: 5, reason: ReasonExpensive, event: true},
		{name: "a trash word takes the trash reason (6)", from: 2, patch: Patch{Status: ptr(StatusCancel), Trash: true}, status: 5, reason: ReasonTrash, event: true},
		{name: "a trash word takes the offer's trash reason", offer: "nodelivery", from: 2, patch: Patch{Status: ptr(StatusCancel), Trash: true}, status: 5, reason: ReasonFraud, event: true},
		{name: "a trash word on a cancelled lead makes it trash", from: 5, patch: Patch{Status: ptr(StatusCancel), Trash: true}, status: 5, reason: ReasonTrash},
		{name: "accept of a paid lead changes nothing", from: 10, patch: Patch{Accept: true}, status: 10, noop: true},
		{name: "cancel with reason", from: 3, patch: Patch{Status: ptr(StatusCancel), Reason: ptr(ReasonExpensive)}, status: 5, reason: ReasonExpensive, event: true},
		{name: "new reason on a cancelled lead", from: 5, patch: Patch{Reason: ptr(ReasonFraud)}, status: 5, reason: ReasonFraud},
		{name: "hold true uses hold days", from: 2, patch: Patch{Hold: &Hold{}}, status: 4, hold: week, event: true},
		{name: "hold N days", from: 2, patch: Patch{Hold: &Hold{Days: 3}}, status: 4, hold: 3 * 24 * time.Hour, event: true},
		{name: "status 4 holds for hold days", from: 3, patch: Patch{Status: ptr(StatusHold)}, status: 4, hold: week, event: true},
		{name: "callback", from: 2, patch: Patch{Status: ptr(StatusCallback)}, status: 3, event: true},
		{name: "delivery stages move forward", from: 6, patch: Patch{Status: ptr(StatusTransit)}, status: 8, event: true},
		{name: "paid to return", from: 10, patch: Patch{Status: ptr(StatusReturn)}, status: 11, event: true},
		{name: "direct status 6 is no approval", from: 2, patch: Patch{Status: ptr(StatusPacking)}, status: 6, event: true},
		{name: "same status is a no-op", from: 2, patch: Patch{Status: ptr(StatusProcessing)}, status: 2, noop: true},
		{name: "comment only", from: 2, patch: Patch{Comment: ptr("call after 18:00")}, status: 2},

		{name: "paid back to processing is refused", from: 10, patch: Patch{Status: ptr(StatusProcessing)}, wantErr: ErrRefused, status: 10},
		{name: "approved back to callback is refused", from: 6, patch: Patch{Status: ptr(StatusCallback)}, wantErr: ErrRefused, status: 6},
		{name: "cancelled into hold is refused", from: 5, patch: Patch{Hold: &Hold{}}, wantErr: ErrRefused, status: 5, reason: ReasonTrash},
		{name: "refusal keeps the comment too", from: 10, patch: Patch{Status: ptr(StatusNew), Comment: ptr("x")}, wantErr: ErrRefused, status: 10},
		{name: "status 0", from: 2, patch: Patch{Status: ptr(Status(0))}, wantErr: ErrInvalid, status: 2},
		{name: "status 13", from: 2, patch: Patch{Status: ptr(Status(13))}, wantErr: ErrInvalid, status: 2},
		{name: "unknown reason", from: 2, patch: Patch{Status: ptr(StatusCancel), Reason: ptr(Reason(99))}, wantErr: ErrInvalid, status: 2},
		{name: "reason without cancel", from: 2, patch: Patch{Reason: ptr(ReasonTrash)}, wantErr: ErrInvalid, status: 2},
		{name: "negative counts", from: 2, patch: Patch{Counts: ptr(-1)}, wantErr: ErrInvalid, status: 2},
		{name: "negative base", from: 2, patch: Patch{Base: ptr(MoneyFromUnits(-100, 2))}, wantErr: ErrInvalid, status: 2},
		{name: "unknown currency", from: 2, patch: Patch{Curr: ptr(Currency(999))}, wantErr: ErrInvalid, status: 2},
		{name: "unknown cash currency", from: 2, patch: Patch{Cash: &CashPatch{CC: ptr(Currency(1))}}, wantErr: ErrInvalid, status: 2},
		{name: "unknown goal", from: 2, patch: Patch{Goal: ptr(uint32(777))}, wantErr: ErrInvalid, status: 2},
		{name: "accept with status", from: 2, patch: Patch{Accept: true, Status: ptr(StatusPaid)}, wantErr: ErrInvalid, status: 2},
		{name: "hold with another status", from: 2, patch: Patch{Hold: &Hold{}, Status: ptr(StatusCallback)}, wantErr: ErrInvalid, status: 2},
		{name: "hold of 100 years", from: 2, patch: Patch{Hold: &Hold{Days: 36500}}, wantErr: ErrInvalid, status: 2},
		{name: "another offer's script", from: 2, patch: Patch{Accept: true, Offer: "other"}, wantErr: ErrRefused, status: 2},
		{name: "empty ext", from: 2, patch: Patch{Ext: ptr("")}, wantErr: ErrInvalid, status: 2},
	}
	policies := policyMap{"nodelivery": {Delivery: false, HoldDays: 7, DefaultReason: ReasonExpensive, TrashReason: ReasonFraud}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, clk := newTestStore(t, Options{Policies: policies})
			ctx := context.Background()
			var events []Event
			s.Subscribe(func(ev Event) { events = append(events, ev) })
			offer := tc.offer
			if offer == "" {
				offer = "acme"
			}
			lead := mustAdd(t, s, NewLead{Offer: offer, Ext: "E1", Status: tc.from, Fields: map[string]string{"phone": "79990001122"}})
			before, _ := s.History(ctx, lead.ID)
			events = nil
			clk.Advance(time.Hour)
			now := clk.Now()

			got, err := s.Edit(ctx, lead.ID, tc.patch)
			stored, gerr := s.Get(ctx, lead.ID)
			if gerr != nil {
				t.Fatal(gerr)
			}
			after, _ := s.History(ctx, lead.ID)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if got != nil {
					t.Errorf("a failed edit returned a lead")
				}
				if string(encodeLead(nil, stored)) != string(encodeLead(nil, lead)) {
					t.Errorf("failed edit changed the lead:\n was %+v\n now %+v", lead, stored)
				}
				if len(after) != len(before) || len(events) != 0 {
					t.Errorf("failed edit wrote history (%d→%d) or fired %d events", len(before), len(after), len(events))
				}
				return
			}
			if err != nil {
				t.Fatalf("edit: %v", err)
			}
			if stored.Status != tc.status || stored.Reason != tc.reason {
				t.Errorf("stored status %d reason %d, want %d reason %d", stored.Status, stored.Reason, tc.status, tc.reason)
			}
			if string(encodeLead(nil, got)) != string(encodeLead(nil, stored)) {
				t.Errorf("Edit returned %+v, stored is %+v", got, stored)
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
					t.Errorf("no-op edit wrote: history %d→%d, rev %d→%d", len(before), len(after), lead.Rev, stored.Rev)
				}
			} else {
				if len(after) != len(before)+1 || stored.Rev != lead.Rev+1 || !stored.Updated.Equal(now) {
					t.Fatalf("edit wrote history %d→%d, rev %d→%d", len(before), len(after), lead.Rev, stored.Rev)
				}
				last := after[len(after)-1]
				if last.Rev != stored.Rev || !last.At.Equal(now) || len(last.Fields) == 0 {
					t.Errorf("history entry %+v", last)
				}
			}
			if tc.event != (len(events) == 1) {
				t.Fatalf("events %+v, want one: %v", events, tc.event)
			}
			if tc.event {
				ev := events[0]
				if ev.LeadID != lead.ID || ev.From != tc.from || ev.To != tc.status || ev.Approved != tc.accepted || ev.Rev != stored.Rev {
					t.Errorf("event %+v", ev)
				}
			}
			mustVerify(t, s)
		})
	}
}

func TestEditUnknownLead(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{})
	for _, id := range []uint64{0, 1, 1 << 60} {
		if _, err := s.Edit(context.Background(), id, Patch{Accept: true}); !errors.Is(err, ErrNotFound) {
			t.Errorf("edit of lead %d: err = %v, want ErrNotFound", id, err)
		}
	}
}

func TestEditHistoryRecordsOldAndNew(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{})
	ctx := context.Background()
	l := mustAdd(t, s, NewLead{Offer: "acme", Status: StatusProcessing})
	rub := Currency(643)
	if _, err := s.Edit(ctx, l.ID, Patch{Accept: true, Base: ptr(money(t, "12.10")), Curr: &rub,
		Cash: &CashPatch{Pay: ptr(money(t, "300.5")), CC: &rub}, By: "script:acme/check.lua"}); err != nil {
		t.Fatal(err)
	}
	// 12.1 equals 12.10: nothing changes and nothing is written.
	if _, err := s.Edit(ctx, l.ID, Patch{Base: ptr(money(t, "12.1"))}); err != nil {
		t.Fatal(err)
	}
	hist, err := s.History(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 {
		t.Fatalf("history has %d entries, want creation + 1 edit: %+v", len(hist), hist)
	}
	got := map[string][2]string{}
	for _, f := range hist[1].Fields {
		got[f.Field] = [2]string{f.Old, f.New}
	}
	want := map[string][2]string{
		"status": {"2", "6"}, "base": {"", "12.10"}, "curr": {"", "RUB"},
		"cash.pay": {"", "300.5"}, "cash.cc": {"", "RUB"}, "accepted_at": {"", timeText(t0)},
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("history %s = %q, want %q", k, got[k], v)
		}
	}
	if hist[1].By != "script:acme/check.lua" {
		t.Errorf("history by = %q", hist[1].By)
	}
	stored, _ := s.Get(ctx, l.ID)
	if stored.Base.String() != "12.10" {
		t.Errorf("base = %s, want 12.10 exactly", stored.Base)
	}
}

func TestEditExtIsUniquePerOffer(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{})
	ctx := context.Background()
	a := mustAdd(t, s, NewLead{Offer: "acme", Ext: "A"})
	b := mustAdd(t, s, NewLead{Offer: "acme"})
	other := mustAdd(t, s, NewLead{Offer: "zeta"})
	if _, err := s.Edit(ctx, b.ID, Patch{Ext: ptr("A")}); !errors.Is(err, ErrExists) {
		t.Fatalf("taking another lead's ext: err = %v, want ErrExists", err)
	}
	if _, err := s.Edit(ctx, other.ID, Patch{Ext: ptr("A")}); err != nil {
		t.Fatalf("same ext in another offer: %v", err)
	}
	if _, err := s.Edit(ctx, a.ID, Patch{Ext: ptr("A2")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Edit(ctx, b.ID, Patch{Ext: ptr("A")}); err != nil {
		t.Fatalf("ext freed by its lead: %v", err)
	}
	for ext, want := range map[string]uint64{"A": b.ID, "A2": a.ID} {
		l, err := s.ByExt(ctx, "acme", ext)
		if err != nil || l.ID != want {
			t.Errorf("ByExt(%q) = %v, %v; want lead %d", ext, l, err, want)
		}
	}
	mustVerify(t, s)
}

func TestEditGoal(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t, Options{})
	ctx := context.Background()
	gid, err := s.DefineGoal(ctx, "acme", "deposit")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := s.DefineGoal(ctx, "acme", "deposit"); again != gid {
		t.Errorf("DefineGoal is not idempotent: %d then %d", gid, again)
	}
	if got, err := s.GoalByCode(ctx, "acme", "deposit"); err != nil || got != gid {
		t.Errorf("GoalByCode = %d, %v", got, err)
	}
	if _, err := s.GoalByCode(ctx, "zeta", "deposit"); !errors.Is(err, ErrNotFound) {
		t.Errorf("another offer's goal: err = %v", err)
	}
	l := mustAdd(t, s, NewLead{Offer: "acme"})
	z := mustAdd(t, s, NewLead{Offer: "zeta"})
	if _, err := s.Edit(ctx, l.ID, Patch{Goal: &gid}); err != nil {
		t.Errorf("own goal: %v", err)
	}
	if _, err := s.Edit(ctx, z.ID, Patch{Goal: &gid}); !errors.Is(err, ErrInvalid) {
		t.Errorf("another offer's goal id: err = %v, want ErrInvalid", err)
	}
}

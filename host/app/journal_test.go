package app

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"leadhost/host"
	"leadhost/store"
)

// What the journal keeps of a call that came in: whole when the offer
// answered it, a line when it was refused at the door, no offer when
// the path names none.
func TestInboundEntry(t *testing.T) {
	t.Parallel()
	reg := host.NewRegistry("../testdata/scripts")
	if _, err := reg.Reload(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		offer     string
		status    int
		want      store.JournalStatus
		wantOffer string
		kept      bool
	}{
		{"answered", "acme", 200, store.JournalOK, "acme", true},
		{"a script error", "acme", 500, store.JournalError, "acme", true},
		{"bad input", "acme", 400, store.JournalError, "acme", true},
		{"a wrong token", "acme", 401, store.JournalRefused, "acme", false},
		{"a made-up path", "wp-login.php", 404, store.JournalRefused, "", false},
		{"a wrong method", "acme", 405, store.JournalRefused, "acme", false},
		{"the script's own 404", "acme", 404, store.JournalError, "acme", true},
	} {
		call := &fakeCall{}
		atDoor := tc.want == store.JournalRefused
		in := Inbound{Kind: store.KindHook, Offer: tc.offer, Method: []byte("POST"), Path: []byte("/hook/" + tc.offer), Status: tc.status, AtDoor: atDoor, Took: time.Millisecond, Call: call}
		e := in.Entry(reg)
		asked := call.asked
		if e.Status != tc.want || e.Offer != tc.wantOffer || (e.Request != "") != tc.kept || asked != tc.kept {
			t.Errorf("%s: status %s, offer %q, request kept %v (asked %v); want %s, %q, %v", tc.name, e.Status, e.Offer, e.Request != "", asked, tc.want, tc.wantOffer, tc.kept)
		}
		want := "POST /hook/" + tc.offer + " → " + strconv.Itoa(tc.status)
		if tc.want == store.JournalError {
			want += ": acme/hook.lua:3: boom" // the reason, for the mails and the log
		}
		if e.Summary != want {
			t.Errorf("%s: summary %q, want %q", tc.name, e.Summary, want)
		}
	}
}

// fakeCall is a call whose request says when it was read.
type fakeCall struct{ asked bool }

func (f *fakeCall) Request() string  { f.asked = true; return "POST /hook/x HTTP/1.1\r\n\r\n" }
func (f *fakeCall) Response() string { return `{"error":"acme/hook.lua:3: boom"}` }
func (f *fakeCall) Logs() []string   { return nil }

// The network's own reasons (leadhost.toml) are the store's: a lead may
// be cancelled with one.
func TestNetworkReasons(t *testing.T) {
	t.Parallel()
	a, err := Open(context.Background(), Config{InMemory: true, Scripts: "../testdata/scripts",
		Reasons: []store.ReasonInfo{{ID: 18, Code: "blacklist", Label: "Blacklist", Trash: true}}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	l, _, err := a.AddLead(context.Background(), []byte(`{"offer":"acme","status":2}`), ByAPI)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := a.EditLead(context.Background(), l.ID, []byte(`{"status":5,"reason":18}`), ByAPI); err != nil || got.Reason != 18 {
		t.Errorf("cancel with the network's reason 18: %+v, %v", got, err)
	}
	if _, err := a.EditLead(context.Background(), l.ID, []byte(`{"reason":19}`), ByAPI); err == nil {
		t.Error("reason 19, which nobody defined, was taken")
	}
}

// A refused call's journal line is of a fixed size, however long the path
// anyone sent.
func TestRefusedCallIsAShortLine(t *testing.T) {
	t.Parallel()
	reg := host.NewRegistry("../testdata/scripts")
	if _, err := reg.Reload(); err != nil {
		t.Fatal(err)
	}
	path := []byte("/hook/" + strings.Repeat("x", 15000))
	e := Inbound{Kind: store.KindHook, Offer: strings.Repeat("x", 15000), Method: []byte("GET"), Path: path, Status: 404, AtDoor: true, Call: &fakeCall{}}.Entry(reg)
	if len(e.Summary) > 300 || e.Request != "" || e.Offer != "" {
		t.Errorf("a refused call kept %d bytes of summary, request %d bytes, offer %q…", len(e.Summary), len(e.Request), e.Offer[:min(len(e.Offer), 10)])
	}
}

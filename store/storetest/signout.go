package storetest

import (
	"crypto/sha256"
	"testing"
	"time"

	"leadhost/store"
)

// testSignOuts: a console session signed out stays signed out for a
// reopened store and for another node, until its cookie expires; other
// sessions are not touched.
func testSignOuts(t *testing.T, b Backend) {
	f := open(t, b, store.Options{})
	gone, kept := sha256.Sum256([]byte("cookie one")), sha256.Sum256([]byte("cookie two"))
	signedOut := func(s store.Store, id [32]byte) bool {
		t.Helper()
		out, err := s.SignedOut(f.ctx, id)
		if err != nil {
			t.Fatalf("SignedOut: %v", err)
		}
		return out
	}
	if signedOut(f.s, gone) {
		t.Fatal("a session never signed out reads as signed out")
	}
	if err := f.s.SignOut(f.ctx, gone, t0.Add(time.Hour)); err != nil {
		t.Fatalf("SignOut: %v", err)
	}
	if !signedOut(f.s, gone) || signedOut(f.s, kept) {
		t.Fatalf("after signing one session out: signed out %v (want true), the other %v (want false)", signedOut(f.s, gone), signedOut(f.s, kept))
	}
	if b.Peer != nil {
		if peer := b.Peer(t, f.s, f.opts); !signedOut(peer, gone) {
			t.Error("another node still takes a session signed out on this one")
		}
	}
	f.reopen()
	if !signedOut(f.s, gone) {
		t.Error("a restart forgot a sign-out")
	}
	f.clk.Advance(time.Hour)
	if signedOut(f.s, gone) {
		t.Error("a sign-out outlived its cookie's expiry")
	}
	// An expired sign-out is forgotten by the next one; signing the same
	// session out again keeps the later expiry.
	if err := f.s.SignOut(f.ctx, kept, t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := f.s.SignOut(f.ctx, kept, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(90 * time.Minute)
	if !signedOut(f.s, kept) {
		t.Error("signing out again with an earlier expiry shortened the sign-out")
	}
}

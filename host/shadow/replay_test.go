package shadow

import (
	"context"
	"errors"
	"testing"
)

// One replay of an offer at a time: a second asked for meanwhile is
// refused with ErrBusy, not run beside it; another offer's is not; and a
// replay whose context ended stops.
func TestReplayOneAtATime(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	reg := stage(t, map[string]string{
		"pb/offer.toml": token, "pb/hook.lua": "return {ok = true}\n", "pb/next/hook.lua": "return {ok = false}\n",
		"qa/offer.toml": token, "qa/hook.lua": "return {ok = true}\n", "qa/next/hook.lua": "return {ok = false}\n",
	})
	s := New(st, reg, 0, nil)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if !s.beginReplay("pb") { // a replay of pb is running
		t.Fatal("no replay was running")
	}
	for _, tc := range []struct {
		name  string
		offer string
		ctx   context.Context
		want  error
	}{
		{"the same offer", "pb", context.Background(), ErrBusy},
		{"another offer, its context ended", "qa", ended, context.Canceled},
		{"another offer", "qa", context.Background(), nil},
	} {
		if _, _, err := s.Replay(tc.ctx, tc.offer, 10); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	s.endReplay("pb")
	if _, _, err := s.Replay(context.Background(), "pb", 10); err != nil {
		t.Errorf("after the first ended: %v", err)
	}
}

package gateway

import (
	"testing"
	"time"
)

func TestTypingLimiter(t *testing.T) {
	l := newTypingLimiter(2*time.Second, 6*time.Second, 3)
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	steps := []struct {
		uid, room string
		on        bool
		ms        int
		want      bool
	}{
		{"u", "r", false, 0, false},    // off with nothing shown: dropped
		{"u", "r", true, 0, true},      // on
		{"u", "r", true, 500, false},   // on again within 2s
		{"u", "r", false, 600, true},   // off after on
		{"u", "r", false, 700, false},  // off again
		{"u", "r", true, 800, false},   // on again within 2s of the last on
		{"u", "r", true, 2000, true},   // 2s after the last on
		{"u", "r2", true, 2000, true},  // another room
		{"v", "r", true, 2000, true},   // another user
		{"w", "r", true, 2100, false},  // map full, nothing old enough to sweep
		{"w", "r", true, 8100, true},   // 6s later the old entries are swept
		{"u", "r", false, 9000, false}, // its on expired long ago: nothing to turn off
	}
	for i, s := range steps {
		if got := l.allow(s.uid, s.room, s.on, at(s.ms)); got != s.want {
			t.Fatalf("step %d %+v: allow = %v", i, s, got)
		}
	}
	if len(l.m) > 3 {
		t.Fatalf("limiter holds %d entries, bound 3", len(l.m))
	}
}

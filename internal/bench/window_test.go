package bench

import (
	"testing"
	"time"
)

func TestSendWindow(t *testing.T) {
	var w sendWindow
	now := time.Now()
	for range 40 {
		w.queue = append(w.queue, &pendingSend{})
	}
	if got := len(w.take(now)); got != maxWindow {
		t.Fatalf("open window: %d sends out, want %d", got, maxWindow)
	}
	// A refusal: one in flight at most, nothing before the pause ends.
	w.answered(false, now, time.Second)
	if got := len(w.take(now.Add(999 * time.Millisecond))); got != 0 {
		t.Fatalf("%d sends out during the pause", got)
	}
	for range maxWindow - 1 {
		w.answered(true, now, 0) // the others' acks open it again...
	}
	w.limit = 1
	w.until = now.Add(time.Second) // ...but say the refusal came last
	if w.inflight != 0 {
		t.Fatalf("inflight %d after every answer", w.inflight)
	}
	if got := len(w.take(now.Add(time.Second))); got != 1 {
		t.Fatalf("after the pause: %d sends out, want 1 (a probe)", got)
	}
	if got := len(w.take(now.Add(time.Second))); got != 0 {
		t.Fatalf("a second send before the probe's ack: %d", got)
	}
	// Each ack doubles the window: 2, then 4 (with 1 and 2 in flight).
	w.answered(true, now, 0)
	if got := len(w.take(now.Add(time.Second))); got != 2 {
		t.Fatalf("after one ack: %d out, want 2", got)
	}
	w.answered(true, now, 0)
	if got := len(w.take(now.Add(time.Second))); got != 3 {
		t.Fatalf("after two acks: %d out, want 3 (window 4, one in flight)", got)
	}
	if len(w.queue) != 40-maxWindow-6 {
		t.Fatalf("queue %d", len(w.queue))
	}
}

package admission

import (
	"errors"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

func isUnavailable(err error) bool {
	var e *protocol.Error
	return errors.As(err, &e) && e.Code == protocol.CodeUnavailable
}

// Sends never take the slots that recovery needs: with sends at their
// share, a sync still gets in at once, and a further send is refused.
func TestGateKeepsSlotsForRecovery(t *testing.T) {
	g := New(Options{Size: 8, Wait: 20 * time.Millisecond, Target: time.Second})
	var rel []func()
	for i := range 7 {
		r, err := g.Acquire(OpSend)
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		rel = append(rel, r)
	}
	_, err := g.Acquire(OpSend)
	if !isUnavailable(err) {
		t.Fatalf("8th send of 8 slots: %v, want unavailable", err)
	}
	if e := protocol.AsError(err); e.RetryAfter < time.Second {
		t.Fatalf("a refusal's retry hint: %v, want at least 1s", e.RetryAfter)
	}
	for i := range 1 {
		r, err := g.Acquire("sync")
		if err != nil {
			t.Fatalf("sync %d with sends at their share: %v", i, err)
		}
		rel = append(rel, r)
	}
	if _, err := g.Acquire("sync"); !isUnavailable(err) {
		t.Fatalf("sync with every slot taken: %v, want unavailable", err)
	}
	// A slot freed while an acquirer waits is handed over within the wait.
	done := make(chan error, 1)
	go func() {
		r, err := g.Acquire("read")
		if err == nil {
			r()
		}
		done <- err
	}()
	time.Sleep(5 * time.Millisecond)
	rel[0]()
	if err := <-done; err != nil {
		t.Fatalf("waiting read after a release: %v", err)
	}
	for _, r := range rel[1:] {
		r()
	}
	if g.used != 0 || g.sends != 0 {
		t.Fatalf("after every release: used %d sends %d", g.used, g.sends)
	}
}

// Sends slower than the target cut the send share (at most once per
// target); fast ones grow it back to its bound.
func TestGateAdaptsToLatency(t *testing.T) {
	g := New(Options{Size: 40, Wait: time.Millisecond, Target: 10 * time.Millisecond})
	if g.sendCap != 35 {
		t.Fatalf("initial send share %v, want 35", g.sendCap)
	}
	g.mu.Lock()
	for range 5 { // one burst of slow answers: one cut
		g.adapt(50 * time.Millisecond)
	}
	g.mu.Unlock()
	if g.sendCap != 31.5 {
		t.Fatalf("after a burst of slow sends: %v, want 31.5", g.sendCap)
	}
	for range 40 {
		g.mu.Lock()
		g.lastCut = time.Time{}
		g.adapt(50 * time.Millisecond)
		g.mu.Unlock()
	}
	if g.sendCap != 1 {
		t.Fatalf("after slow sends: %v, want the floor 1", g.sendCap)
	}
	// With a share of 1, a second send waits and is refused.
	r, err := g.Acquire(OpSend)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Acquire(OpSend); !isUnavailable(err) {
		t.Fatalf("second send at share 1: %v", err)
	}
	r()
	g.mu.Lock()
	for range 2000 {
		g.adapt(time.Millisecond)
	}
	g.mu.Unlock()
	if g.sendCap != 35 {
		t.Fatalf("after fast sends: %v, want back at 35", g.sendCap)
	}
}

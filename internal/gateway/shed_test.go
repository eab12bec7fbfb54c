package gateway

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
func TestStoreGateKeepsSlotsForRecovery(t *testing.T) {
	g := newStoreGate(8, 20*time.Millisecond, time.Second)
	var rel []func()
	for i := range 6 {
		r, err := g.acquire(opSend)
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		rel = append(rel, r)
	}
	if _, err := g.acquire(opSend); !isUnavailable(err) {
		t.Fatalf("7th send of 8 slots: %v, want unavailable", err)
	}
	for i := range 2 {
		r, err := g.acquire("sync")
		if err != nil {
			t.Fatalf("sync %d with sends at their share: %v", i, err)
		}
		rel = append(rel, r)
	}
	if _, err := g.acquire("sync"); !isUnavailable(err) {
		t.Fatalf("sync with every slot taken: %v, want unavailable", err)
	}
	// A slot freed while an acquirer waits is handed over within the wait.
	done := make(chan error, 1)
	go func() {
		r, err := g.acquire("read")
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
func TestStoreGateAdaptsToLatency(t *testing.T) {
	g := newStoreGate(40, time.Millisecond, 10*time.Millisecond)
	if g.sendCap != 30 {
		t.Fatalf("initial send share %v, want 30", g.sendCap)
	}
	g.mu.Lock()
	for range 5 { // one burst of slow answers: one cut
		g.adapt(50 * time.Millisecond)
	}
	g.mu.Unlock()
	if g.sendCap != 27 {
		t.Fatalf("after a burst of slow sends: %v, want 27", g.sendCap)
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
	r, err := g.acquire(opSend)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.acquire(opSend); !isUnavailable(err) {
		t.Fatalf("second send at share 1: %v", err)
	}
	r()
	g.mu.Lock()
	for range 2000 {
		g.adapt(time.Millisecond)
	}
	g.mu.Unlock()
	if g.sendCap != 30 {
		t.Fatalf("after fast sends: %v, want back at 30", g.sendCap)
	}
}

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

// An old send that finds the gate full is refused without waiting; a
// young one waits, and an old one is served when a slot is free.
func TestGateRefusesOldSendsAtOnce(t *testing.T) {
	g := New(Options{Size: 2, Wait: time.Hour, MaxAge: 100 * time.Millisecond})
	r, err := g.AcquireAged(OpSend, time.Second)
	if err != nil {
		t.Fatalf("an old send with a free slot: %v", err)
	}
	// Size 2: one send slot (the other is kept for recovery).
	start := time.Now()
	if _, err := g.AcquireAged(OpSend, 100*time.Millisecond); !isUnavailable(err) {
		t.Fatalf("an old send at a full gate: %v", err)
	}
	if d := time.Since(start); d > time.Minute {
		t.Fatalf("refused after %v", d)
	}
	got := make(chan error, 1)
	go func() {
		r2, err := g.AcquireAged(OpSend, 99*time.Millisecond) // young: waits for r
		if err == nil {
			r2()
		}
		got <- err
	}()
	waitForWaiters(g, 1)
	r()
	if err := <-got; err != nil {
		t.Fatalf("a young send waiting for a slot: %v", err)
	}
	// Recovery is never refused for its age.
	rs, err := g.AcquireAged("sync", time.Hour)
	if err != nil {
		t.Fatalf("an old sync: %v", err)
	}
	rs()
}

// A freed slot goes to the oldest waiter, not to whoever asks next: a
// connection whose next frame follows its own release cannot keep the
// slot while another connection's frame waits.
func TestGateHandsSlotsOverInOrder(t *testing.T) {
	g := New(Options{Size: 2, Wait: time.Minute}) // one send slot
	r1, err := g.Acquire(OpSend)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		r, err := g.Acquire(OpSend)
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	waitForWaiters(g, 1)
	r1()
	// The slot is the waiter's now: a new send finds none free.
	g.mu.Lock()
	free := g.free(true)
	g.mu.Unlock()
	if free {
		t.Fatal("a send slot free after the release although a send waited")
	}
	(<-got)()
	if g.used != 0 {
		t.Fatalf("used %d after every release", g.used)
	}
}

// waitForWaiters returns once n acquirers wait at g.
func waitForWaiters(g *Gate, n int) {
	for {
		g.mu.Lock()
		w := len(g.waiters)
		g.mu.Unlock()
		if w == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

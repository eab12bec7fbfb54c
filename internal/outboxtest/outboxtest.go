// Package outboxtest holds the behavioural tests every outbox.Outbox
// implementation must pass (memoutbox, redisoutbox, sqliteoutbox).
package outboxtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/outbox"
)

// Clock is a settable clock the suite moves forward (no sleeps).
type Clock struct{ ns atomic.Int64 }

// NewClock starts at a fixed time.
func NewClock() *Clock {
	c := &Clock{}
	c.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

// Now reads the clock.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Add moves the clock.
func (c *Clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// New makes an empty outbox reading the clock (a fresh key space).
type New func(t *testing.T, now func() time.Time) outbox.Outbox

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return c
}

func entry(id string) outbox.Entry {
	return outbox.Entry{ID: id + "/ep", EventID: id, Endpoint: "ep", Event: "after_send", Payload: []byte(`{"id":"` + id + `"}`)}
}

func ids(es []outbox.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Run runs the suite.
func Run(t *testing.T, newOutbox New) {
	t.Run("EnqueueClaimAck", func(t *testing.T) {
		clk := NewClock()
		o := newOutbox(t, clk.Now)
		c := ctx(t)
		must(t, o.Enqueue(c, entry("a"), entry("b")))
		clk.Add(time.Millisecond)
		must(t, o.Enqueue(c, entry("c")))
		clk.Add(time.Millisecond)
		got, err := o.Claim(c, 10, time.Minute)
		must(t, err)
		if fmt.Sprint(ids(got)) != "[a/ep b/ep c/ep]" {
			t.Fatalf("claimed %v, want a, b, c in order", ids(got))
		}
		e := got[0]
		if e.EventID != "a" || e.Endpoint != "ep" || e.Event != "after_send" || string(e.Payload) != `{"id":"a"}` || e.Attempts != 0 || e.CreatedAt.IsZero() {
			t.Fatalf("entry came back as %+v", e)
		}
		again, err := o.Claim(c, 10, time.Minute)
		must(t, err)
		if len(again) != 0 {
			t.Fatalf("leased entries claimed again: %v", ids(again))
		}
		for _, e := range got {
			must(t, o.Ack(c, e.ID))
		}
		must(t, o.Ack(c, "unknown"))
		n, err := o.Pending(c)
		must(t, err)
		if n != 0 {
			t.Fatalf("pending %d after acks", n)
		}
		clk.Add(2 * time.Minute)
		if got, _ := o.Claim(c, 10, time.Minute); len(got) != 0 {
			t.Fatalf("acked entries came back: %v", ids(got))
		}
	})

	t.Run("EnqueueIsIdempotent", func(t *testing.T) {
		clk := NewClock()
		o := newOutbox(t, clk.Now)
		c := ctx(t)
		must(t, o.Enqueue(c, entry("a")))
		must(t, o.Enqueue(c, entry("a"), entry("a")))
		if n, _ := o.Pending(c); n != 1 {
			t.Fatalf("pending %d, want 1", n)
		}
		got, _ := o.Claim(c, 10, time.Minute)
		must(t, o.Kill(c, got[0].ID, "boom"))
		must(t, o.Enqueue(c, entry("a")))
		if n, _ := o.Pending(c); n != 0 {
			t.Fatalf("a dead entry was queued again by enqueue: pending %d", n)
		}
	})

	t.Run("LapsedLeaseIsDueAgain", func(t *testing.T) {
		clk := NewClock()
		o := newOutbox(t, clk.Now)
		c := ctx(t)
		must(t, o.Enqueue(c, entry("a")))
		got, _ := o.Claim(c, 10, 30*time.Second)
		if len(got) != 1 {
			t.Fatalf("claimed %d", len(got))
		}
		clk.Add(29 * time.Second)
		if got, _ := o.Claim(c, 10, 30*time.Second); len(got) != 0 {
			t.Fatal("claimed within the lease")
		}
		clk.Add(2 * time.Second)
		got, _ = o.Claim(c, 10, 30*time.Second)
		if len(got) != 1 || got[0].ID != "a/ep" {
			t.Fatalf("after the lease claimed %v", ids(got))
		}
	})

	t.Run("RetryLaterCountsAttempts", func(t *testing.T) {
		clk := NewClock()
		o := newOutbox(t, clk.Now)
		c := ctx(t)
		must(t, o.Enqueue(c, entry("a")))
		got, _ := o.Claim(c, 10, time.Second)
		must(t, o.Retry(c, got[0].ID, clk.Now().Add(10*time.Second), "503"))
		clk.Add(5 * time.Second)
		if got, _ := o.Claim(c, 10, time.Second); len(got) != 0 {
			t.Fatal("claimed before its retry time")
		}
		clk.Add(6 * time.Second)
		got, _ = o.Claim(c, 10, time.Second)
		if len(got) != 1 || got[0].Attempts != 1 || got[0].LastError != "503" {
			t.Fatalf("after the retry time got %+v", got)
		}
		must(t, o.Retry(c, got[0].ID, clk.Now(), "timeout"))
		got, _ = o.Claim(c, 10, time.Second)
		if len(got) != 1 || got[0].Attempts != 2 || got[0].LastError != "timeout" {
			t.Fatalf("second retry got %+v", got)
		}
		must(t, o.Retry(c, "unknown", clk.Now(), "x"))
	})

	t.Run("DeadLettersAndReplay", func(t *testing.T) {
		clk := NewClock()
		o := newOutbox(t, clk.Now)
		c := ctx(t)
		must(t, o.Enqueue(c, entry("a"), entry("b"), entry("c")))
		got, _ := o.Claim(c, 10, time.Second)
		must(t, o.Kill(c, got[1].ID, "gone"))
		must(t, o.Kill(c, got[0].ID, "gone too"))
		must(t, o.Kill(c, "unknown", "x"))
		dead, err := o.DeadLetters(c, 10)
		must(t, err)
		if fmt.Sprint(ids(dead)) != "[b/ep a/ep]" || dead[0].Attempts != 1 || dead[0].LastError != "gone" {
			t.Fatalf("dead letters %+v", dead)
		}
		if d, _ := o.DeadLetters(c, 1); len(d) != 1 {
			t.Fatalf("limit 1 gave %d", len(d))
		}
		clk.Add(time.Hour)
		got, _ = o.Claim(c, 10, time.Second)
		if fmt.Sprint(ids(got)) != "[c/ep]" {
			t.Fatalf("dead entries were claimed: %v", ids(got))
		}
		must(t, o.Ack(c, "c/ep"))
		must(t, o.Ack(c, "a/ep")) // not queued: the dead letter stays
		if d, _ := o.DeadLetters(c, 10); len(d) != 2 {
			t.Fatalf("ack of a dead id removed it: %v", ids(d))
		}
		must(t, o.Replay(c, "a/ep"))
		if err := o.Replay(c, "a/ep"); !errors.Is(err, outbox.ErrNotFound) {
			t.Fatalf("second replay: %v, want ErrNotFound", err)
		}
		if err := o.Replay(c, "c/ep"); !errors.Is(err, outbox.ErrNotFound) {
			t.Fatalf("replay of a delivered entry: %v, want ErrNotFound", err)
		}
		got, _ = o.Claim(c, 10, time.Second)
		if len(got) != 1 || got[0].ID != "a/ep" || got[0].Attempts != 0 || string(got[0].Payload) != `{"id":"a"}` {
			t.Fatalf("replayed entry came back as %+v", got)
		}
		if d, _ := o.DeadLetters(c, 10); fmt.Sprint(ids(d)) != "[b/ep]" {
			t.Fatalf("dead letters after replay %v", ids(d))
		}
	})

	t.Run("ClaimBound", func(t *testing.T) {
		clk := NewClock()
		o := newOutbox(t, clk.Now)
		c := ctx(t)
		for i := 0; i < 25; i++ {
			must(t, o.Enqueue(c, entry(fmt.Sprintf("m%02d", i))))
		}
		got, _ := o.Claim(c, 10, time.Minute)
		if len(got) != 10 || got[0].ID != "m00/ep" {
			t.Fatalf("claimed %v", ids(got))
		}
		if n, _ := o.Pending(c); n != 25 {
			t.Fatalf("pending %d, want 25 (claimed ones count)", n)
		}
	})

	// Concurrent claimers never hold one entry at once: every entry is
	// claimed exactly once while the leases last.
	t.Run("ConcurrentClaimersShareNothing", func(t *testing.T) {
		clk := NewClock()
		o := newOutbox(t, clk.Now)
		c := ctx(t)
		const n = 200
		batch := make([]outbox.Entry, n)
		for i := range batch {
			batch[i] = entry(fmt.Sprintf("e%03d", i))
		}
		must(t, o.Enqueue(c, batch...))
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for round := 0; round < 100; round++ {
					got, err := o.Claim(c, 7, time.Hour)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, e := range got {
						seen[e.ID]++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(seen) != n {
			t.Fatalf("claimed %d distinct entries, want %d", len(seen), n)
		}
		for id, k := range seen {
			if k != 1 {
				t.Fatalf("%s claimed %d times", id, k)
			}
		}
	})
}

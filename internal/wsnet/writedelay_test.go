package wsnet

import (
	"fmt"
	"testing"
	"time"
)

// With WriteDelay, messages sent to a connection whose writer is idle wait
// for one write together, in order; without it each burst starts a writer
// at once. Both deliver everything.
func TestWriteDelayBatchesBursts(t *testing.T) {
	const n = 20
	for _, delay := range []time.Duration{0, MaxWriteDelay} {
		t.Run(fmt.Sprint(delay), func(t *testing.T) {
			h := newTestHandler()
			h.onMessage = func(c *Conn, p []byte) {
				for i := range n {
					c.Send(fmt.Appendf(nil, "%s-%d", p, i))
					time.Sleep(50 * time.Microsecond) // a fan-out's pace: messages arrive one by one
				}
			}
			srv, url := startServer(t, h, Options{WriteDelay: delay})
			c := dial(t, url)
			before := srv.Stats()
			c.sendText("m")
			for i := range n {
				if got, want := c.readText(), fmt.Sprintf("m-%d", i); got != want {
					t.Fatalf("message %d: %q, want %q", i, got, want)
				}
			}
			// The counters move after the write returns, which may be
			// after the client has read the bytes.
			waitFor(t, "frames counted", 5*time.Second, func() bool { return srv.Stats().FramesOut-before.FramesOut >= n })
			after := srv.Stats()
			frames, writes := after.FramesOut-before.FramesOut, after.Writes-before.Writes
			if frames != n {
				t.Fatalf("%d frames out, want %d", frames, n)
			}
			t.Logf("delay %v: %d frames in %d writes", delay, frames, writes)
			// The delay spans the whole burst (20 x 50 µs, about 1 ms, against
			// 50 ms) unless the machine stalls the handler for longer: allow
			// one stall.
			if delay > 0 && writes > 2 {
				t.Fatalf("%d frames took %d writes with WriteDelay %v, want at most 2", frames, writes, delay)
			}
		})
	}
}

// A connection closed while its writer waits for the delay still gets its
// close frame, and the server shuts down without waiting on it forever.
func TestWriteDelayClose(t *testing.T) {
	h := newTestHandler()
	h.onMessage = func(c *Conn, p []byte) {
		c.Send(p)
		c.Close(1000, "bye")
	}
	srv, url := startServer(t, h, Options{WriteDelay: MaxWriteDelay})
	c := dial(t, url)
	c.sendText("last")
	if got := c.readText(); got != "last" {
		t.Fatalf("got %q before the close", got)
	}
	hd, _, err := c.readFrame(5 * time.Second)
	if err != nil || hd.OpCode != 0x8 {
		t.Fatalf("want a close frame, got %+v %v", hd, err)
	}
	h.waitClose(t, 5*time.Second)
	done := make(chan struct{})
	go func() { srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Server.Close hung")
	}
}

func TestWriteDelayValidation(t *testing.T) {
	for _, d := range []time.Duration{-time.Millisecond, MaxWriteDelay + time.Millisecond} {
		if _, err := NewServer(newTestHandler(), Options{WriteDelay: d}); err == nil {
			t.Fatalf("WriteDelay %v accepted", d)
		}
	}
}

package client

import (
	"context"
	"sync"
	"time"
)

// maxInFlight is the open send window: sends on the wire at once.
const maxInFlight = 32

// sendWindow is the client's pushback under overload (docs/protocol.md §6):
// at most limit sends on the wire; a refusal (`unavailable`,
// `rate_limited`) closes the window to one and pauses every send until the
// retry time; each ack doubles it again up to maxInFlight. An overloaded
// gateway then gets fewer sends instead of the same ones again.
type sendWindow struct {
	mu      sync.Mutex
	limit   int
	onWire  int
	until   time.Time
	changed chan struct{} // closed (and replaced) when a slot frees or the pause changes
}

func newSendWindow() *sendWindow {
	return &sendWindow{limit: maxInFlight, changed: make(chan struct{})}
}

// acquire waits for a place on the wire; stop ends the wait with its
// error (ctx, or the client closing).
func (w *sendWindow) acquire(ctx context.Context, stop <-chan struct{}, stopErr func() error) error {
	for {
		w.mu.Lock()
		wait := time.Until(w.until)
		if wait <= 0 && w.onWire < w.limit {
			w.onWire++
			w.mu.Unlock()
			return nil
		}
		ch := w.changed
		w.mu.Unlock()
		if err := waitChange(ctx, stop, stopErr, ch, wait); err != nil {
			return err
		}
	}
}

// waitChange waits for ch, for wait when positive, or for the end.
func waitChange(ctx context.Context, stop <-chan struct{}, stopErr func() error, ch <-chan struct{}, wait time.Duration) error {
	var tc <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		tc = t.C
	}
	select {
	case <-ch:
	case <-tc:
	case <-ctx.Done():
		return ctx.Err()
	case <-stop:
		return stopErr()
	}
	return nil
}

// release gives the place back: after an ack (ok) the window doubles;
// after a refusal it closes to one and nothing goes out for pause; after
// a lost connection (neither) it stays.
func (w *sendWindow) release(ok, refused bool, pause time.Duration) {
	w.mu.Lock()
	w.onWire = max(0, w.onWire-1)
	switch {
	case ok:
		w.limit = min(maxInFlight, w.limit*2)
	case refused:
		w.limit = 1
		if u := time.Now().Add(pause); u.After(w.until) {
			w.until = u
		}
	}
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

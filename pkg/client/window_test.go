package client

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSendWindow(t *testing.T) {
	w := newSendWindow()
	ctx := context.Background()
	never := make(chan struct{})
	stopErr := func() error { return errors.New("stopped") }
	for i := range maxInFlight {
		if err := w.acquire(ctx, never, stopErr); err != nil {
			t.Fatalf("place %d of an open window: %v", i, err)
		}
	}
	// Full: the next waits, and gets the place an ack frees.
	got := make(chan error, 1)
	go func() { got <- w.acquire(ctx, never, stopErr) }()
	select {
	case err := <-got:
		t.Fatalf("a send beyond a full window went out: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	w.release(true, false, 0)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// A refusal: window one, nothing before the pause ends (and then one
	// only while the others are still on the wire).
	w.release(false, true, 50*time.Millisecond)
	for range maxInFlight - 1 {
		w.release(false, false, 0) // connection lost: the others come back
	}
	start := time.Now()
	if err := w.acquire(ctx, never, stopErr); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("a send %v after a refusal that asked for 50ms", d)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := w.acquire(cctx, never, stopErr); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second send with a window of one: %v", err)
	}
	w.release(true, false, 0) // the probe's ack: window two
	for range 2 {
		if err := w.acquire(ctx, never, stopErr); err != nil {
			t.Fatal(err)
		}
	}
}

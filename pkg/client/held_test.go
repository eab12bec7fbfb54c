package client

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// A room held back while its sync is being answered stays held until the
// answer ends, so the answer's messages dropped meanwhile are synced again
// rather than passed over as holes. (CI once lost messages 5..8 this way:
// the 200 ms tick released the room between two frames of one answer.)
func TestHeldRoomWaitsForItsSyncAnswer(t *testing.T) {
	c := newBareClient()
	r := &roomState{syncing: time.Now()} // a sync from 0 is in flight
	c.rooms["r"] = r
	var got []int64
	drainEvents := func() {
		for len(c.events) > 0 {
			got = append(got, (<-c.events).(*MessageEvent).Message.Seq)
		}
	}
	answer := func(from, to int64) {
		for s := from; s <= to; s++ {
			c.onMessage(&Message{RoomID: "r", Seq: s})
		}
	}
	answer(1, 6) // 1..4 fit, 5 holds the room, 6 is dropped
	if !r.held {
		t.Fatal("the room is not held with Events full")
	}
	drainEvents()
	c.release() // the consumer read: but the answer is still coming
	answer(7, 8)
	c.onSynced("r", 8, false)
	if r.cursor != 4 {
		t.Fatalf("cursor %d after the held answer, want 4 (5..8 were never delivered)", r.cursor)
	}
	c.release() // the answer ended: now sync again from 4
	if r.held || !r.needSync {
		t.Fatalf("after the answer ended: held %v, needSync %v; want a new sync", r.held, r.needSync)
	}
	r.needSync, r.syncing = false, time.Now()
	answer(5, 8)
	c.onSynced("r", 8, false)
	drainEvents()
	for i, s := range got {
		if s != int64(i+1) {
			t.Fatalf("delivered %v, want 1..8 in order", got)
		}
	}
	if len(got) != 8 {
		t.Fatalf("delivered %v, want 1..8", got)
	}
}

// newBareClient is a Client with no connection, for tests of its state
// handling: room state, an Events buffer of 4, a kick channel.
func newBareClient() *Client {
	return &Client{log: slog.New(slog.NewTextHandler(io.Discard, nil)), events: make(chan Event, 4),
		changed: make(chan struct{}), kick: make(chan struct{}, 1), rooms: map[string]*roomState{}}
}

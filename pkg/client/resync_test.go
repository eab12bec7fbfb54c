package client

import (
	"testing"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// A per-room resync (a gap the gateway could not fill, or on a Redis
// Cluster the bus connection of that room's shard reconnected) marks only
// that room for a sync; the node-wide form marks every room.
func TestResyncPerRoomAndNodeWide(t *testing.T) {
	c := newBareClient()
	r1, r2 := &roomState{cursor: 3}, &roomState{cursor: 7}
	c.rooms["r1"], c.rooms["r2"] = r1, r2
	c.onEvent(&protocol.Outbound{Type: protocol.TypeEvent, Event: "resync",
		Data: []byte(`{"room_id":"r1","reason":"bus reconnected"}`)})
	if !r1.needSync || r2.needSync {
		t.Fatalf("per-room resync of r1: r1 needSync %v, r2 needSync %v; want true, false", r1.needSync, r2.needSync)
	}
	ev, ok := (<-c.events).(*ResyncEvent)
	if !ok || ev.RoomID != "r1" || ev.Reason != "bus reconnected" {
		t.Fatalf("event %+v, want a ResyncEvent for r1", ev)
	}
	r1.needSync = false
	c.onEvent(&protocol.Outbound{Type: protocol.TypeEvent, Event: "resync", Data: []byte(`{"reason":"bus reconnected"}`)})
	if !r1.needSync || !r2.needSync {
		t.Fatalf("node-wide resync: r1 needSync %v, r2 needSync %v; want both", r1.needSync, r2.needSync)
	}
	if len(c.kick) != 1 {
		t.Fatal("the sync loop was not woken")
	}
}

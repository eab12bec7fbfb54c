package client_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/pkg/client"
)

// TestCompression: clients with Options.Compression negotiate
// permessage-deflate with the gateways; short and long messages go both
// ways, in order, to a compressing and a plain connection of the receiver
// alike, and the gateways did compress and inflate.
func TestCompression(t *testing.T) {
	cl := apitest.NewCluster(t, 2, apitest.Options{})
	a, b := cl.Register("za"), cl.Register("zb")
	room := cl.Befriend(a, b)
	checkLeaks(t)
	ca := dial(t, a, []string{cl.Nodes[0].URL}, client.Options{Compression: true})
	cb := dial(t, b, []string{cl.Nodes[1].URL}, client.Options{Compression: true, Rooms: map[string]int64{room: 0}})
	cp := dial(t, b, []string{cl.Nodes[1].URL}, client.Options{Rooms: map[string]int64{room: 0}})
	cl.Settle()
	st0, st1 := cl.Nodes[0].GW.Stats(), cl.Nodes[1].GW.Stats()
	if st0.Deflate != 1 || st1.Deflate != 1 {
		t.Fatalf("deflate connections: node0 %d, node1 %d; want 1 and 1", st0.Deflate, st1.Deflate)
	}

	var sent []*client.Message
	for i := range 12 {
		body := fmt.Sprintf("short %d", i)
		if i%3 == 0 { // a long one, compressed both ways
			body = fmt.Sprintf("long %d: %s", i, strings.Repeat("the meeting moved to room 42, see you there 🙂 ", 70))
		}
		sender := ca
		if i%4 == 3 {
			sender = cb // b answers through its compressing connection
		}
		m, err := sender.Send(ctxT(t), room, body, client.SendOptions{})
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if m.Body != body {
			t.Fatalf("ack of %d: body of %d bytes, want %d", i, len(m.Body), len(body))
		}
		sent = append(sent, m)
	}
	var want []*client.Message
	for _, m := range sent {
		want = append(want, m)
	}
	for _, c := range []*client.Client{cb, cp} {
		got := messages(t, c, room, len(want))
		sameMessages(t, got, want)
		for i := range got {
			if got[i].Body != want[i].Body {
				t.Fatalf("message %d: body differs (%d bytes, want %d)", i, len(got[i].Body), len(want[i].Body))
			}
		}
	}
	st0, st1 = cl.Nodes[0].GW.Stats(), cl.Nodes[1].GW.Stats()
	if st0.InflatedIn == 0 || st1.InflatedIn == 0 || st0.CompressedOut == 0 || st1.CompressedOut == 0 {
		t.Fatalf("node0 %+v\nnode1 %+v: want compressed frames both ways on both", st0, st1)
	}
}

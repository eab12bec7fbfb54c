package gateway_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/gateway"
)

// TestDeliveryWithDeflate: with permessage-deflate on (the default), a
// group whose members' connections negotiated it, or not, gets every acked
// message once, in seq order, short and long alike, while members send
// concurrently from three nodes; history has them all.
func TestDeliveryWithDeflate(t *testing.T) {
	// The nodes share one registry: the first node's collectors register,
	// the others' are refused as duplicates (New ignores that).
	reg := prometheus.NewRegistry()
	cl := apitest.NewCluster(t, 3, apitest.Options{}, func(o *gateway.Options) { o.Registry = reg })
	a, b, c := cl.Register("da"), cl.Register("db"), cl.Register("dc")
	cl.Befriend(a, b)
	cl.Befriend(a, c)
	var g struct{ Group struct{ ID string } }
	cl.Do("POST", "/v1/groups", a.Token, map[string]any{"name": "zipped", "members": []string{b.Account, c.Account}}).JSON(t, &g)
	room := g.Group.ID

	a0 := apitest.DialWSDeflate(t, cl.Nodes[0].URL, a.Token)
	a2 := apitest.DialWS(t, cl.Nodes[2].URL, a.Token) // A's second device does not offer it
	b1 := apitest.DialWSDeflate(t, cl.Nodes[1].URL, b.Token)
	c2 := apitest.DialWSDeflate(t, cl.Nodes[2].URL, c.Token)
	cl.Settle()

	const perSender = 8
	senders := []*apitest.WS{a0, b1, c2}
	var (
		mu    sync.Mutex
		acked = map[int64]string{} // seq -> body
		wg    sync.WaitGroup
	)
	for si, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perSender {
				body := fmt.Sprintf("s%d-%d", si, i)
				if i%2 == 0 {
					body += " " + strings.Repeat(fmt.Sprintf("long text from sender %d, part %d; ", si, i), 40)
				}
				o, _, err := s.SendReliably(room, body, fmt.Sprintf("z%d-%d", si, i), 10, wait)
				if err != nil {
					t.Errorf("send: %v", err)
					return
				}
				if o.Message.Body != body {
					t.Errorf("ack body of %d bytes, want %d", len(o.Message.Body), len(body))
				}
				mu.Lock()
				acked[o.Message.Seq] = body
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	n := len(senders) * perSender
	for i, cc := range []*apitest.WS{a0, a2, b1, c2} {
		var last int64
		for range n {
			o, err := cc.WaitFor(wait, isMsg(room))
			if err != nil {
				t.Fatalf("conn %d after seq %d: %v", i, last, err)
			}
			m := o.Message
			if m.Seq <= last {
				t.Fatalf("conn %d: seq %d after %d", i, m.Seq, last)
			}
			if want, ok := acked[m.Seq]; !ok || m.Body != want {
				t.Fatalf("conn %d: seq %d body of %d bytes, acked %v with %d", i, m.Seq, len(m.Body), ok, len(want))
			}
			last = m.Seq
		}
		if o, err := cc.WaitFor(300*time.Millisecond, isMsg(room)); err == nil {
			t.Fatalf("conn %d: extra delivery %+v", i, o.Message)
		}
	}
	_, seqs, _ := history(t, cl, a.Token, room)
	if len(seqs) != n {
		t.Fatalf("history has %d messages, want %d", len(seqs), n)
	}
	for i, nd := range cl.Nodes {
		st := nd.GW.Stats()
		if st.Deflate == 0 || st.CompressedOut == 0 || st.InflatedIn == 0 {
			t.Fatalf("node %d: %+v: want deflate connections, compressed frames out and in", i, st)
		}
	}
	for _, name := range []string{"im_gateway_ws_deflate_connections_total", "im_gateway_ws_compressions_total",
		"im_gateway_ws_frames_compressed_out_total", "im_gateway_ws_messages_inflated_total", "im_gateway_ws_bytes_out_total", "im_gateway_ws_bytes_in_total"} {
		if v := metricValue(t, reg, name, ""); v < 1 {
			t.Errorf("%s = %v, want the node's count", name, v)
		}
	}
}

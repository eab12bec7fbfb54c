//go:build linux

package securitytest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/gateway"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// TestSlowConsumerDisconnected: a client that does not read its frames
// is disconnected ("slow consumer", 1008) once its write queue is full,
// instead of making the node buffer without bound; the other members of
// the room get every message, in order.
func TestSlowConsumerDisconnected(t *testing.T) {
	cl := apitest.NewCluster(t, 0, apitest.Options{})
	node := startNodeSmallSendBuffer(t, cl, 8<<10, func(o *gateway.Options) { o.WS.WriteQueue = 8 })
	w := newWorld(t, cl.Env)
	fast := apitest.DialWS(t, node.URL, w.owner.Token)

	// The slow client: a tiny receive window from the start, and nobody
	// reading.
	d := ws.Dialer{
		Header:  ws.HandshakeHeaderHTTP(http.Header{"Authorization": {"Bearer " + w.member.Token}}),
		Timeout: wait,
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
				var serr error
				err := rc.Control(func(fd uintptr) {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048)
				})
				if err != nil {
					return err
				}
				return serr
			}}
			return nd.DialContext(ctx, network, addr)
		},
	}
	slow, _, _, err := d.Dial(context.Background(), node.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	cl.Settle() // the node has subscribed to the rooms

	body := strings.Repeat("z", 2000)
	sent := 0
	stop := time.Now().Add(60 * time.Second)
	for ; sent < 500 && time.Now().Before(stop) && node.GW.Stats().SlowConsumers == 0; sent++ {
		r := cl.Do("POST", "/v1/rooms/"+w.direct+"/messages", w.owner.Token,
			map[string]string{"body": body, "client_msg_id": fmt.Sprintf("flood-%d", sent)})
		if r.Status != 201 {
			t.Fatalf("send %d: %d %s", sent, r.Status, r.Body)
		}
	}
	deadline := time.Now().Add(wait)
	for node.GW.Stats().SlowConsumers == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if node.GW.Stats().SlowConsumers == 0 {
		t.Fatalf("no slow-consumer disconnect after %d messages of %d bytes", sent, len(body))
	}
	t.Logf("slow consumer cut after %d messages", sent)
	// Reading now, the slow client finds what was in flight and then the
	// close: 1008 "slow consumer".
	_ = slow.SetReadDeadline(time.Now().Add(wait))
	var closeErr wsutil.ClosedError
	for i := 0; i < 10000; i++ {
		_, err := wsutil.ReadServerText(slow)
		if err == nil {
			continue
		}
		if !errors.As(err, &closeErr) {
			t.Logf("slow client: connection ended without a close frame: %v", err)
		} else if closeErr.Code != ws.StatusPolicyViolation {
			t.Errorf("slow client: close %d %q, want 1008", closeErr.Code, closeErr.Reason)
		}
		break
	}
	// The fast reader got all of them (seq 2.. after the seed message), in order.
	next := int64(2)
	for i := 0; i < sent; i++ {
		o, err := fast.WaitFor(wait, func(o protocol.Outbound) bool {
			return o.Type == protocol.TypeMessage && o.Message.RoomID == w.direct
		})
		if err != nil {
			t.Fatalf("fast reader after %d of %d: %v", i, sent, err)
		}
		if o.Message.Seq != next {
			t.Fatalf("fast reader: seq %d, want %d", o.Message.Seq, next)
		}
		next++
	}
	// The node still serves everyone else.
	apitest.DialWS(t, node.URL, w.stranger.Token)
}

// sendBufListener gives every accepted connection a small, fixed socket
// send buffer (no autotuning), so that a client that stops reading fills
// it after a few frames instead of megabytes.
type sendBufListener struct {
	net.Listener
	size int
}

func (l sendBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(l.size)
	}
	return c, err
}

// startNodeSmallSendBuffer is apitest's (*Cluster).StartNode with the
// node's listener giving accepted sockets a send buffer of size bytes.
func startNodeSmallSendBuffer(t *testing.T, cl *apitest.Cluster, size int, tweak apitest.NodeOptions) *apitest.Node {
	return cl.StartNodeOn(func(l net.Listener) net.Listener { return sendBufListener{Listener: l, size: size} }, tweak)
}

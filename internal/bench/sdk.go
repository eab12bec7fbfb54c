package bench

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/client"
)

// The two clients of the load tool (Config.Client):
//
//   - ClientRaw, the default, reads the server's frames itself. It is the
//     verifier: it sees every frame as the gateway sent it, so it counts
//     what the server got wrong (a duplicate, a seq out of order, a body
//     that differs from its ack), and it costs a goroutine and a 4 KiB
//     buffer per connection, so 100k connections fit beside the gateways.
//   - ClientSDK drives each user with the Go SDK (pkg/client), as an app
//     would: reconnect, sync from its cursor, sends retried with the same
//     client_msg_id. It measures what an SDK user gets. The SDK repairs
//     order and duplicates itself, so a server fault it hides is counted
//     only by the raw client; what it cannot repair (a message acked and
//     never delivered) shows as missing in both.
const (
	ClientRaw = "raw"
	ClientSDK = "sdk"
)

// sdkEventBuffer is each SDK client's Events buffer: a room that
// overflows it is held back and synced again, never lost.
const sdkEventBuffer = 256

// dialSDK connects c with the Go SDK, tracking its room from the start
// (the run's rooms are fresh: an empty sync), and reads its events.
func (r *runner) dialSDK(ctx context.Context, c *Conn) error {
	o := client.Options{URLs: []string{r.cfg.Gateways[c.gw]}, Token: client.StaticToken(c.user.Token),
		EventBuffer: sdkEventBuffer, Compression: r.cfg.Deflate}
	if c.room != nil {
		o.Rooms = map[string]int64{c.room.ID: 0}
	}
	sc, err := client.Dial(ctx, o)
	if err != nil {
		return err
	}
	c.sdk, c.done = sc, make(chan struct{})
	c.alive.Store(true)
	go r.consumeSDK(c)
	return nil
}

// consumeSDK hands each delivered message to the same checks as the raw
// client's frames.
func (r *runner) consumeSDK(c *Conn) {
	defer close(c.done)
	prefix := r.run + "."
	for ev := range c.sdk.Events() {
		switch e := ev.(type) {
		case *client.MessageEvent:
			m := &e.Message
			if !strings.HasPrefix(m.ClientMsgID, prefix) {
				continue // history from before this run
			}
			f := frame{kind: kindMessage, seq: m.Seq, room: []byte(m.RoomID), cmid: []byte(m.ClientMsgID),
				body: []byte(m.Body), from: []byte(m.From)}
			r.onMessage(c, &f)
		case *client.ConnectedEvent:
			c.alive.Store(true)
		case *client.DisconnectedEvent:
			c.alive.Store(false)
			if !c.closed.Load() {
				r.noteErr("sdk: connection dropped (it reconnects): %v", e.Err)
			}
		case *client.ErrorEvent:
			r.noteErr("sdk: error frame: %v", e.Err)
		}
	}
}

// sendSDK sends one message with the SDK, which retries it itself with the
// same client_msg_id; its answer goes through the raw client's checks.
func (r *runner) sendSDK(c *Conn, ps *pendingSend, cmid, body []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), sdkSendTimeout)
	defer cancel()
	m, err := c.sdk.Send(ctx, c.room.ID, string(body), client.SendOptions{ClientMsgID: string(cmid)})
	if err != nil {
		c.mu.Lock()
		delete(c.pending, string(cmid))
		c.mu.Unlock()
		r.sendErrs.add(c.idx, 1)
		r.failed.add(c.idx, 1)
		if s := r.step(ps.step); s != nil {
			s.errs.add(c.idx, 1)
		}
		if !c.closed.Load() {
			r.noteErr("sdk: send: %v", err)
		}
		return
	}
	f := frame{kind: kindAck, seq: m.Seq, room: []byte(m.RoomID), cmid: []byte(m.ClientMsgID),
		body: []byte(m.Body), from: []byte(m.From)}
	r.onAck(c, &f)
}

// sdkSendTimeout bounds one SDK send with its retries.
const sdkSendTimeout = 30 * time.Second

// recoverSDK waits (bounded) until every SDK client has caught up: each
// syncs its room from its cursor after a reconnect or a gap, by itself.
func (r *runner) recoverSDK(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, c := range r.conns {
		if c.sdk == nil {
			continue
		}
		if err := c.sdk.WaitSynced(ctx); err != nil {
			r.noteErr("sdk: user %d not caught up: %v", c.idx, err)
			return
		}
	}
}

// sdkRetries sums the sends the SDK clients sent again.
func (r *runner) sdkRetries() int64 {
	var n int64
	for _, c := range r.conns {
		if c.sdk != nil {
			n += int64(c.sdk.Stats().Resent)
		}
	}
	return n
}

func checkClient(c *Config) error {
	switch c.Client {
	case "", ClientRaw:
		c.Client = ClientRaw
		return nil
	case ClientSDK:
		switch c.Scenario {
		case ScenarioFanout, ScenarioDirect, ScenarioRamp:
		default:
			return fmt.Errorf("-client sdk runs the fanout, direct and ramp scenarios, not %s", c.Scenario)
		}
		if c.Kind == KindImage {
			return fmt.Errorf("-client sdk sends text messages only")
		}
		return nil
	}
	return fmt.Errorf("-client must be raw or sdk, not %q", c.Client)
}

package faulttest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/pkg/client"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// ackRec is one acknowledged message.
type ackRec struct {
	room, id, cmid string
	seq            int64
}

// Ledger collects what every client saw, for the final checks.
type Ledger struct {
	mu       sync.Mutex
	acks     map[string]ackRec // cmid -> first ack
	sent     int
	retries  int
	errs     map[string]int // error code -> count
	conflict []string       // contradictions seen (same cmid, different ack)
}

func newLedger() *Ledger { return &Ledger{acks: map[string]ackRec{}, errs: map[string]int{}} }

func (l *Ledger) ack(a ackRec) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.acks[a.cmid]; ok {
		if old != a {
			l.conflict = append(l.conflict, fmt.Sprintf("cmid %s acked as %+v and %+v", a.cmid, old, a))
		}
		return
	}
	l.acks[a.cmid] = a
}

func (l *Ledger) count(f func(*Ledger)) {
	l.mu.Lock()
	f(l)
	l.mu.Unlock()
}

// acked is the number of messages acked so far.
func (l *Ledger) acked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acks)
}

// errCount is the number of errors with this code so far.
func (l *Ledger) errCount(code string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.errs[code]
}

// errSummary is a copy of the error counts.
func (l *Ledger) errSummary() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.errs)
}

// Client is one user's device, on the Go SDK (pkg/client): it sends one
// message at a time, receives, reconnects and syncs. The SDK does the
// protocol's client algorithm (cursors, sync after every connect, resends
// with the same client_msg_id); this wrapper records what it saw for the
// checks.
type Client struct {
	User  *apitest.User
	Rooms []string
	nodes func() []string
	l     *Ledger
	rng   *rand.Rand

	sdk     *client.Client
	evDone  chan struct{}
	cursors map[string]int64 // of the last SDK client, kept across restarts

	mu   sync.Mutex
	view map[string]map[int64]string // room -> seq -> message id
	// live counts the messages delivered; synced the sync frames the
	// SDK sent (for the log).
	live    int
	synced  int
	dials   int
	pending *pendingSend
	n       int
	bad     []string
}

type pendingSend struct {
	room, cmid string
	tries      int
}

func newClient(u *apitest.User, rooms []string, nodes func() []string, l *Ledger, seed uint64) *Client {
	c := &Client{User: u, Rooms: rooms, nodes: nodes, l: l, rng: rand.New(rand.NewPCG(seed, 7)),
		view: map[string]map[int64]string{}}
	for _, r := range rooms {
		c.view[r] = map[int64]string{}
	}
	return c
}

// start makes the SDK client (it connects in the background) from the
// cursors of the last one (0 at first: the rooms are new).
func (c *Client) start() {
	cursors := map[string]int64{}
	for _, r := range c.Rooms {
		cursors[r] = c.cursors[r]
	}
	sdk, err := client.New(client.Options{URLs: c.nodes(), Token: client.StaticToken(c.User.Token),
		Rooms: cursors, MinBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second,
		RequestTimeout: 4 * time.Second, OnRetry: c.onRetry})
	if err != nil {
		panic(err) // the options above are valid
	}
	c.sdk, c.evDone = sdk, make(chan struct{})
	go c.consume(sdk, c.evDone)
}

// stop closes the SDK client and waits for its events to be recorded.
func (c *Client) stop() {
	if c.sdk == nil {
		return
	}
	_ = c.sdk.Close()
	<-c.evDone
	c.cursors = c.sdk.Cursors()
	st := c.sdk.Stats()
	c.mu.Lock()
	c.synced += st.Syncs
	c.mu.Unlock()
	c.sdk = nil
}

func (c *Client) onRetry(_ string, err error) {
	c.l.count(func(l *Ledger) {
		l.retries++ // same client_msg_id again
		var e *client.Error
		if errors.As(err, &e) {
			l.errs[e.Code]++
		}
	})
}

// consume records every event of one SDK client until it closes Events.
func (c *Client) consume(sdk *client.Client, done chan struct{}) {
	defer close(done)
	for ev := range sdk.Events() {
		switch e := ev.(type) {
		case *client.MessageEvent:
			c.record(&e.Message)
		case *client.ConnectedEvent:
			c.mu.Lock()
			c.dials++
			c.mu.Unlock()
		case *client.RoomErrorEvent:
			c.l.count(func(l *Ledger) { l.errs[e.Err.Code]++ })
		case *client.ErrorEvent:
			c.l.count(func(l *Ledger) { l.errs[e.Err.Code]++ })
		}
	}
}

func (c *Client) record(m *protocol.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live++
	v := c.view[m.RoomID]
	if v == nil {
		c.bad = append(c.bad, "message for a room not mine: "+m.RoomID)
		return
	}
	if old, ok := v[m.Seq]; ok && old != m.ID {
		c.bad = append(c.bad, fmt.Sprintf("room %s seq %d is %s and %s", m.RoomID, m.Seq, old, m.ID))
	}
	v[m.Seq] = m.ID
}

// step does one round: maybe start a send (one at a time), wait a little
// for its ack (the SDK resends it, same client_msg_id), now and then
// reconnect on purpose.
func (c *Client) step(sending bool) {
	t0 := time.Now()
	if c.sdk == nil {
		c.start()
	}
	if sending && c.pending == nil {
		c.n++
		c.pending = &pendingSend{room: c.Rooms[c.rng.IntN(len(c.Rooms))], cmid: fmt.Sprintf("%s-%d", c.User.Account, c.n)}
		c.l.count(func(l *Ledger) { l.sent++ })
	}
	if c.pending != nil {
		c.send(2 * time.Second)
	}
	if c.rng.IntN(150) == 0 { // a random reconnect, to any node
		c.sdk.Reconnect()
	}
	if d := 40*time.Millisecond - time.Since(t0); d > 0 {
		time.Sleep(d) // pace: at most one send a step, as a person types
	}
}

// send tries the pending send for up to d; it stays pending unless acked
// or refused.
func (c *Client) send(d time.Duration) {
	p := c.pending
	if p.tries > 0 {
		c.l.count(func(l *Ledger) { l.retries++ }) // same client_msg_id again
	}
	p.tries++
	ctx, cancel := context.WithTimeout(context.Background(), d)
	m, err := c.sdk.Send(ctx, p.room, "body of "+p.cmid, client.SendOptions{ClientMsgID: p.cmid})
	cancel()
	var e *client.Error
	switch {
	case err == nil:
		c.l.ack(ackRec{room: m.RoomID, id: m.ID, cmid: p.cmid, seq: m.Seq})
		c.pending = nil
	case errors.As(err, &e):
		c.l.count(func(l *Ledger) { l.errs[e.Code]++ })
		c.mu.Lock()
		c.bad = append(c.bad, fmt.Sprintf("send %s refused: %s %s", p.cmid, e.Code, e.Message))
		c.mu.Unlock()
		c.pending = nil
	}
}

// flush resends its unacked send (if any), same client_msg_id, until it is
// acked.
func (c *Client) flush(deadline time.Time) error {
	if c.sdk == nil {
		c.start()
	}
	for c.pending != nil && time.Now().Before(deadline) {
		c.send(time.Until(deadline))
	}
	if c.pending != nil {
		return fmt.Errorf("%s: %s never acked", c.User.Account, c.pending.cmid)
	}
	return nil
}

// finish reconnects and syncs every room until nothing more comes, like a
// client coming back: from its cursor in each room.
func (c *Client) finish(deadline time.Time) error {
	if c.sdk == nil {
		c.start()
	}
	defer c.stop()
	c.sdk.Reconnect()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := c.sdk.WaitSynced(ctx); err != nil {
		return fmt.Errorf("%s: final sync did not finish: %v (stats %+v)", c.User.Account, err, c.sdk.Stats())
	}
	return nil
}

// slowConn dials with a tiny receive buffer and never reads: the server's
// queue for it must overflow and the server must cut it off.
func slowConn(url, token string, rooms []string, stop <-chan struct{}) (net.Conn, error) {
	d := ws.Dialer{
		Header: ws.HandshakeHeaderHTTP(map[string][]string{"Authorization": {"Bearer " + token}}),
		NetDial: func(ctx contextLike, network, addr string) (net.Conn, error) {
			nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
				var serr error
				_ = rc.Control(func(fd uintptr) {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
				})
				return serr
			}}
			return nd.DialContext(ctx, network, addr)
		},
		Timeout: 5 * time.Second,
	}
	conn, _, _, err := d.Dial(bg(), url)
	if err != nil {
		return nil, err
	}
	m := map[string]int64{}
	for _, r := range rooms {
		m[r] = 0
	}
	frame := []byte(fmt.Sprintf(`{"type":"sync","rooms":%s}`, mustJSON(m)))
	go func() {
		// Ask for history again and again without reading a byte, until
		// the server stops reading us or cuts us off (bounded: 60s).
		end := time.Now().Add(60 * time.Second)
		for time.Now().Before(end) {
			select {
			case <-stop:
				return
			default:
			}
			_ = conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
			if err := wsutil.WriteClientText(conn, frame); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return conn, nil
}

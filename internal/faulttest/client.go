package faulttest

import (
	"encoding/json"
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

// Client is one user's device: it sends, receives, reconnects and syncs.
type Client struct {
	User  *apitest.User
	Rooms []string
	nodes func() []string
	l     *Ledger
	rng   *rand.Rand

	conn *apitest.WS
	view map[string]map[int64]string // room -> seq -> message id
	// cursor is, per room, the seq up to which the client has everything:
	// it advances over contiguous seqs and to a synced frame's last_seq
	// (which passes permanent holes), never over a gap and never because
	// of an ack. Syncs start from it.
	cursor  map[string]int64
	live    int // messages received outside a sync answer (approximate)
	synced  int
	dials   int
	pending *pendingSend
	n       int
	slow    bool // a client that stops reading (set by the test)
	bad     []string
}

type pendingSend struct {
	room, cmid string
	at         time.Time
	tries      int
}

func newClient(u *apitest.User, rooms []string, nodes func() []string, l *Ledger, seed uint64) *Client {
	c := &Client{User: u, Rooms: rooms, nodes: nodes, l: l, rng: rand.New(rand.NewPCG(seed, 7)),
		view: map[string]map[int64]string{}, cursor: map[string]int64{}}
	for _, r := range rooms {
		c.view[r] = map[int64]string{}
	}
	return c
}

func (c *Client) connect() bool {
	nodes := c.nodes()
	url := nodes[c.rng.IntN(len(nodes))]
	w, err := apitest.TryDialWS(url, c.User.Token, nil)
	if err != nil {
		return false
	}
	if h, err := w.Next(3 * time.Second); err != nil || h.Type != protocol.TypeHello {
		w.Conn.Close()
		return false
	}
	c.conn = w
	c.dials++
	c.syncRooms(c.Rooms)
	return true
}

func (c *Client) syncRooms(rooms []string) {
	m := map[string]int64{}
	for _, r := range rooms {
		m[r] = c.cursor[r]
	}
	_ = c.conn.Send(map[string]any{"type": "sync", "rooms": m})
}

func (c *Client) drop() {
	if c.conn != nil {
		c.conn.Conn.Close()
		c.conn = nil
	}
}

func (c *Client) record(m *protocol.Message) {
	v := c.view[m.RoomID]
	if v == nil {
		c.bad = append(c.bad, "message for a room not mine: "+m.RoomID)
		return
	}
	if old, ok := v[m.Seq]; ok && old != m.ID {
		c.bad = append(c.bad, fmt.Sprintf("room %s seq %d is %s and %s", m.RoomID, m.Seq, old, m.ID))
	}
	v[m.Seq] = m.ID
	c.advance(m.RoomID)
}

func (c *Client) advance(room string) {
	v := c.view[room]
	for {
		if _, ok := v[c.cursor[room]+1]; !ok {
			return
		}
		c.cursor[room]++
	}
}

// step does one round: (re)connect, maybe send, read frames for a while.
func (c *Client) step(sending bool) {
	if c.conn == nil {
		if !c.connect() {
			time.Sleep(100 * time.Millisecond)
			return
		}
	}
	select {
	case <-c.conn.Closed:
		c.drop()
		return
	default:
	}
	now := time.Now()
	if sending && c.pending == nil {
		c.n++
		c.pending = &pendingSend{room: c.Rooms[c.rng.IntN(len(c.Rooms))], cmid: fmt.Sprintf("%s-%d", c.User.Account, c.n)}
		c.l.count(func(l *Ledger) { l.sent++ })
	}
	if c.pending != nil && (c.pending.at.IsZero() || now.Sub(c.pending.at) > 4*time.Second) {
		if !c.pending.at.IsZero() {
			c.l.count(func(l *Ledger) { l.retries++ }) // same client_msg_id again
		}
		c.pending.at, c.pending.tries = now, c.pending.tries+1
		_ = c.conn.SendMsg(c.pending.room, "body of "+c.pending.cmid, c.pending.cmid)
	}
	deadline := now.Add(40 * time.Millisecond)
	for time.Now().Before(deadline) {
		o, err := c.conn.Next(time.Until(deadline))
		if err != nil {
			break
		}
		c.handle(o)
		if c.conn == nil {
			return
		}
	}
	if c.rng.IntN(150) == 0 { // a random reconnect, to any node
		c.drop()
	}
}

func (c *Client) handle(o protocol.Outbound) {
	switch o.Type {
	case protocol.TypeAck:
		c.l.ack(ackRec{room: o.Message.RoomID, id: o.Message.ID, cmid: o.ClientMsgID, seq: o.Message.Seq})
		c.record(o.Message)
		if c.pending != nil && c.pending.cmid == o.ClientMsgID {
			c.pending = nil
		}
	case protocol.TypeError:
		c.l.count(func(l *Ledger) { l.errs[o.Code]++ })
		if c.pending != nil && o.ClientMsgID == c.pending.cmid {
			if o.Code == protocol.CodeUnavailable || o.Code == protocol.CodeRateLimited || o.Code == protocol.CodeInternal {
				c.pending.at = time.Now().Add(-3800 * time.Millisecond) // retry soon, same id
			} else {
				c.bad = append(c.bad, fmt.Sprintf("send %s refused: %s %s", c.pending.cmid, o.Code, o.ErrMessage))
				c.pending = nil
			}
		}
		if o.RoomID != "" && o.ClientMsgID == "" { // a sync that failed: ask again later
			c.drop()
		}
	case protocol.TypeMessage:
		c.live++
		c.record(o.Message)
	case protocol.TypeSynced:
		c.synced++
		if _, ok := c.view[o.RoomID]; ok && o.LastSeq > c.cursor[o.RoomID] {
			c.cursor[o.RoomID] = o.LastSeq
			c.advance(o.RoomID)
		}
		if o.More {
			c.syncRooms([]string{o.RoomID})
		}
	case protocol.TypeEvent:
		if o.Event == "resync" { // one room (an unfillable gap) or all
			var d struct {
				RoomID string `json:"room_id"`
			}
			_ = json.Unmarshal(o.Data, &d)
			if _, ok := c.view[d.RoomID]; ok {
				c.syncRooms([]string{d.RoomID})
			} else {
				c.syncRooms(c.Rooms)
			}
		}
	case protocol.TypeReconnect:
		c.drop()
	}
}

// flush reconnects until its unacked send (if any) is acked, resending it
// with the same client_msg_id.
func (c *Client) flush(deadline time.Time) error {
	for c.pending != nil && time.Now().Before(deadline) {
		if c.conn == nil && !c.connect() {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		c.pending.at = time.Time{}
		c.step(false)
		for c.pending != nil && c.conn != nil && time.Now().Before(deadline) {
			o, err := c.conn.Next(2 * time.Second)
			if err != nil {
				break
			}
			c.handle(o)
		}
	}
	if c.pending != nil {
		return fmt.Errorf("%s: %s never acked", c.User.Account, c.pending.cmid)
	}
	return nil
}

// finish reconnects and syncs every room until nothing more comes, like a
// client coming back: from its cursor in each room.
func (c *Client) finish(deadline time.Time) error {
	c.drop()
	defer c.drop()
	for time.Now().Before(deadline) {
		if c.conn == nil && !c.connect() { // connect sends the sync
			time.Sleep(100 * time.Millisecond)
			continue
		}
		left := map[string]bool{}
		for _, r := range c.Rooms {
			left[r] = true
		}
		for len(left) > 0 && time.Now().Before(deadline) && c.conn != nil {
			o, err := c.conn.Next(time.Until(deadline))
			if err != nil {
				break
			}
			c.handle(o)
			if o.Type == protocol.TypeSynced && !o.More {
				delete(left, o.RoomID)
			}
		}
		if c.conn != nil && len(left) == 0 {
			return nil
		}
		c.drop()
	}
	return fmt.Errorf("%s: final sync did not finish (connected: %v, dials %d)", c.User.Account, c.conn != nil, c.dials)
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

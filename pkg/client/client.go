// Package client is the Go SDK of im-websocket-go: what a Go service or a
// bot uses to speak the WebSocket protocol (docs/protocol.md).
//
// A Client keeps one connection to one of the gateways it is given,
// reconnecting with exponential back-off and jitter whenever it drops (and
// to another node when one goes away). It tracks, per room, the seq up to
// which it has delivered everything (the cursor), and after every connect
// and every `resync` it syncs each room from there, so the messages of a
// room reach Events once each, in seq order, whatever happened to the
// connection. Send (and the changes: Edit, Recall, React, Unreact) is
// idempotent: it retries with the same client_msg_id on `unavailable`,
// `internal`, `rate_limited`, a timeout or a lost connection, until the
// server answers or the context ends. Close stops every goroutine.
//
//	c, err := client.Dial(ctx, client.Options{
//		URLs:  []string{"ws://127.0.0.1:8080/ws"},
//		Token: client.StaticToken(accessToken),
//	})
//	...
//	defer c.Close()
//	for ev := range c.Events() {
//		if m, ok := ev.(*client.MessageEvent); ok && m.Message.From != c.UserID() {
//			_, err := c.Send(ctx, m.Message.RoomID, "echo: "+m.Message.Body, client.SendOptions{})
//			...
//		}
//	}
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// Options configure a Client. URLs and Token are required; every other
// field has a default when zero.
type Options struct {
	// URLs are gateway WebSocket endpoints (ws://host:port/ws, or wss://
	// behind TLS); each connect picks one at random and moves to the next
	// after a failure.
	URLs []string
	// Token returns an access token for each connect (refresh it there:
	// the server closes a connection whose token expires, and the client
	// then reconnects with a new one).
	Token func(ctx context.Context) (string, error)
	// Rooms are the rooms to track from the start, with the seq up to
	// which the caller already has each (0: the whole history). Rooms can
	// be added later with Track; a live message of an unknown room starts
	// tracking it from that message.
	Rooms map[string]int64
	// Logger receives connection changes at Info and failures at Warn;
	// nil: nothing is logged. Tokens are never logged.
	Logger *slog.Logger
	// MinBackoff and MaxBackoff bound the waits between reconnects and
	// between retries of a request (each wait is random in the upper half
	// of a step that doubles from MinBackoff to MaxBackoff). Defaults:
	// 200ms and 5s.
	MinBackoff, MaxBackoff time.Duration
	// RequestTimeout: a connection that owes answers (to requests or
	// syncs written on it) and reads nothing for two RequestTimeouts is
	// dropped and replaced; requests are then sent again on the next one
	// (same client_msg_id). On a connection that keeps reading (a busy
	// node answers a connection's frames in order) a request waits up to
	// six RequestTimeouts for its answer before it is sent again on it, and
	// a sync up to six before the connection is replaced. Also the dial and
	// write timeout. Default 10s.
	RequestTimeout time.Duration
	// EventBuffer is the capacity of the Events channel (default 1024).
	// The client never blocks on it: when it is full, a room's messages
	// are held back (not lost: the room is synced again from its cursor
	// once the channel has room) and other events are dropped (counted in
	// Stats().Dropped).
	EventBuffer int
	// OnRetry, when set, is called (on the requesting goroutine) before a
	// request is sent again with the same client_msg_id: err is the
	// server's *Error (unavailable, internal, rate_limited),
	// ErrConnectionLost or ErrNoAnswer. For metrics and tests; it must not
	// block.
	OnRetry func(clientMsgID string, err error)
	// Heartbeat is how often the client pings an idle connection; default:
	// the hello's heartbeat_s. A connection that answers nothing for two
	// intervals and a bit is dropped and replaced.
	Heartbeat time.Duration
	// Compression offers permessage-deflate (RFC 7692, no context
	// takeover either way). When the gateway accepts, its larger frames
	// arrive compressed (often half the bytes) and the client compresses
	// its own frames of 512 bytes and more. It costs CPU on both ends and
	// a flate writer (about 1.2 MB, pooled) while sending large frames.
	Compression bool
}

// StaticToken is a token source that always returns tok.
func StaticToken(tok string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return tok, nil }
}

// Errors of the client itself.
var (
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("client: closed")
	// ErrSessionRevoked: the server revoked the session (close 4001);
	// the client stopped. Log in again.
	ErrSessionRevoked = errors.New("client: session revoked")
	// ErrConnectionLost: a request's connection dropped before its answer.
	ErrConnectionLost = errors.New("client: connection lost before the answer")
	// ErrNoAnswer: no answer came on a connection that kept reading, within
	// six Options.RequestTimeout.
	ErrNoAnswer = errors.New("client: no answer in time")
)

// Stats are counters of a client's life.
type Stats struct {
	Connects  int // connections established
	Resent    int // request frames sent again with the same client_msg_id
	Syncs     int // sync frames sent
	Delivered int // messages delivered on Events
	Dropped   int // non-message events dropped because Events was full
	HeldBack  int // times a room's messages were held back (Events full)
}

// roomState is what the client knows of one room.
type roomState struct {
	cursor   int64             // everything up to here was delivered (or is a hole)
	pending  map[int64]Message // received beyond a gap, waiting
	syncing  time.Time         // a sync is in flight since then (zero: none)
	needSync bool              // send a sync from cursor
	held     bool              // a message could not be delivered: wait, then sync
}

// maxPending bounds the messages held per room beyond a gap; past it they
// are dropped and fetched again by a sync.
const maxPending = 1000

// Client is a connection to the gateways that survives their failures. Its
// methods are safe for concurrent use.
type Client struct {
	o      Options
	log    *slog.Logger
	events chan Event
	ctx    context.Context // ends with Close
	stop   context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{} // wakes the loop to send syncs

	mu       sync.Mutex
	conn     *conn         // nil while disconnected
	ready    chan struct{} // closed when conn is set
	changed  chan struct{} // closed (and replaced) when sync state changes
	fatal    error         // ErrSessionRevoked, or ErrClosed after Close
	userID   string
	rooms    map[string]*roomState
	calls    map[string][]chan result
	win      *sendWindow // sends on the wire; the pause after a refusal
	stats    Stats
	lastSync time.Time
	nextURL  int
	lastErr  error // why the last connect failed
}

type result struct {
	msg *Message
	err *Error
}

// New checks the options and starts a client that connects in the
// background; Dial also waits for the first connection.
func New(o Options) (*Client, error) {
	if len(o.URLs) == 0 {
		return nil, errors.New("client: Options.URLs is empty")
	}
	if o.Token == nil {
		return nil, errors.New("client: Options.Token is required")
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(5*time.Second, o.MinBackoff)
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 10 * time.Second
	}
	if o.EventBuffer <= 0 {
		o.EventBuffer = 1024
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := &Client{o: o, log: log, events: make(chan Event, o.EventBuffer), kick: make(chan struct{}, 1),
		ready: make(chan struct{}), changed: make(chan struct{}), rooms: map[string]*roomState{},
		calls: map[string][]chan result{}, win: newSendWindow(), nextURL: rand.IntN(len(o.URLs))}
	for id, seq := range o.Rooms {
		c.rooms[id] = &roomState{cursor: max(seq, 0)}
	}
	c.ctx, c.stop = context.WithCancel(context.Background())
	c.wg.Add(1)
	go c.run()
	return c, nil
}

// Dial starts a client and waits until it is connected (or ctx ends: the
// client is then closed). ctx bounds only this wait; the client lives
// until Close.
func Dial(ctx context.Context, o Options) (*Client, error) {
	c, err := New(o)
	if err != nil {
		return nil, err
	}
	if _, err := c.waitConn(ctx); err != nil {
		c.Close()
		c.mu.Lock()
		last := c.lastErr
		c.mu.Unlock()
		if last != nil {
			return nil, fmt.Errorf("client: first connection: %w (last attempt: %v)", err, last)
		}
		return nil, fmt.Errorf("client: first connection: %w", err)
	}
	return c, nil
}

// Events is the stream of what happens, in order. It is closed by Close
// (and when the session is revoked, after SessionRevokedEvent). See
// Options.EventBuffer for what happens when the reader is slow.
func (c *Client) Events() <-chan Event { return c.events }

// UserID is the authenticated user's id (empty before the first hello).
func (c *Client) UserID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.userID
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Track starts tracking a room from seq (everything up to seq is known to
// the caller; 0: the whole history) and syncs it. A room already tracked
// keeps the higher of its cursor and seq.
func (c *Client) Track(roomID string, seq int64) {
	c.mu.Lock()
	r := c.rooms[roomID]
	if r == nil {
		r = &roomState{}
		c.rooms[roomID] = r
	}
	if seq > r.cursor {
		r.cursor = seq
		for s := range r.pending {
			if s <= seq {
				delete(r.pending, s)
			}
		}
	}
	r.needSync = true
	c.notifyLocked()
	c.mu.Unlock()
	c.wake()
}

// Untrack stops tracking a room (its live messages start tracking it
// again, from that message).
func (c *Client) Untrack(roomID string) {
	c.mu.Lock()
	delete(c.rooms, roomID)
	c.notifyLocked()
	c.mu.Unlock()
}

// Cursors returns, per tracked room, the seq up to which every message
// was delivered on Events: what to keep to start the next client from
// (Options.Rooms).
func (c *Client) Cursors() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.rooms))
	for id, r := range c.rooms {
		out[id] = r.cursor
	}
	return out
}

// Reconnect drops the current connection (if any) and returns once it is
// gone; the client connects again, to the same or the next URL, and syncs,
// as after any drop (WaitSynced then waits for that). Use it when the
// network changed under the process.
func (c *Client) Reconnect() {
	c.mu.Lock()
	cn := c.conn
	c.mu.Unlock()
	if cn != nil {
		cn.close()
		<-cn.done // the reader has cleared it
	}
}

// WaitSynced waits until the client is connected and every tracked room is
// caught up (its last sync answered "no more" and nothing is held back).
func (c *Client) WaitSynced(ctx context.Context) error {
	for {
		c.mu.Lock()
		done := c.conn != nil && !c.conn.isDone()
		for _, r := range c.rooms {
			done = done && !r.needSync && r.syncing.IsZero() && !r.held && len(r.pending) == 0
		}
		ch, fatal := c.changed, c.fatal
		c.mu.Unlock()
		if fatal != nil {
			return fatal
		}
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close disconnects and stops every goroutine of the client; pending
// requests return ErrClosed and Events is closed. It is safe to call more
// than once.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.fatal == nil {
		c.fatal = ErrClosed
	}
	cn := c.conn
	c.notifyLocked()
	c.mu.Unlock()
	c.stop()
	if cn != nil {
		cn.close()
	}
	c.wg.Wait()
	return nil
}

// notifyLocked wakes WaitSynced and request waiters; c.mu is held.
func (c *Client) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *Client) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// backoff is a doubling wait with jitter: each wait is random in the upper
// half of the current step.
type backoff struct {
	step, min, max time.Duration
}

func (b *backoff) next() time.Duration {
	if b.step < b.min {
		b.step = b.min
	}
	d := b.step/2 + rand.N(b.step/2+1)
	b.step = min(2*b.step, b.max)
	return d
}

func (b *backoff) reset() { b.step = 0 }

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the connection loop: connect, serve the connection, back off,
// connect again; until Close or a revoked session.
func (c *Client) run() {
	defer c.wg.Done()
	defer close(c.events)
	defer c.stop() // wakes the waiters when the session was revoked
	bo := backoff{min: c.o.MinBackoff, max: c.o.MaxBackoff}
	for c.ctx.Err() == nil {
		cn, err := c.connect()
		if err != nil {
			if c.ctx.Err() != nil {
				return
			}
			d := bo.next()
			c.mu.Lock()
			c.lastErr = err
			c.mu.Unlock()
			c.log.Warn("im client: connect failed", "err", err, "retry_in", d)
			if sleep(c.ctx, d) != nil {
				return
			}
			continue
		}
		connected := time.Now()
		c.serve(cn)
		c.mu.Lock()
		fatal := c.fatal
		c.mu.Unlock()
		if fatal != nil || c.ctx.Err() != nil {
			return
		}
		if time.Since(connected) > 30*time.Second {
			bo.reset() // a connection that lived a while: start over
		}
		d := bo.next()
		c.log.Info("im client: disconnected, reconnecting", "err", cn.err, "in", d)
		if sleep(c.ctx, d) != nil {
			return
		}
	}
}

// connect dials the next URL.
func (c *Client) connect() (*conn, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.o.RequestTimeout)
	defer cancel()
	tok, err := c.o.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("client: token: %w", err)
	}
	c.mu.Lock()
	url := c.o.URLs[c.nextURL%len(c.o.URLs)]
	c.nextURL++
	c.mu.Unlock()
	cn, err := dial(ctx, url, tok, c.o.RequestTimeout, c.o.Compression)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.nextURL-- // stay on a node that works
	c.conn = cn
	c.userID = cn.hello.UserID
	c.stats.Connects++
	for _, r := range c.rooms { // every connect: sync every room from its cursor
		r.needSync, r.syncing, r.held = true, time.Time{}, false
	}
	close(c.ready)
	c.notifyLocked()
	c.mu.Unlock()
	c.log.Info("im client: connected", "node", cn.hello.Node, "url", url)
	c.emit(&ConnectedEvent{UserID: cn.hello.UserID, Node: cn.hello.Node})
	return cn, nil
}

// serve runs one connection: a reader goroutine, and this loop for syncs,
// heartbeats and held-back rooms; it returns when the connection ends.
func (c *Client) serve(cn *conn) {
	c.wg.Add(1)
	go c.read(cn)
	hb := c.o.Heartbeat
	if hb <= 0 {
		hb = time.Duration(max(cn.hello.HeartbeatS, 1)) * time.Second
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	lastPing := time.Now()
	c.flushSyncs(cn)
	for {
		select {
		case <-cn.done:
			return
		case <-c.ctx.Done():
			cn.close()
			<-cn.done
			return
		case <-c.kick:
			c.flushSyncs(cn)
		case now := <-tick.C:
			c.release()
			c.flushSyncs(cn)
			if now.Sub(lastPing) >= hb {
				lastPing = now
				_ = cn.write([]byte(`{"type":"ping"}`))
			}
			if now.Sub(cn.lastRead()) > 2*hb+5*time.Second {
				c.log.Warn("im client: connection silent, dropping it")
				cn.close()
			}
		}
	}
}

// release lets held-back rooms sync again once Events has room. A room
// whose sync is still being answered stays held until the answer ends: the
// answer's messages dropped while held must not read as holes.
func (c *Client) release() {
	if len(c.events) > cap(c.events)/2 {
		return
	}
	c.mu.Lock()
	for _, r := range c.rooms {
		if r.held && r.syncing.IsZero() {
			r.held, r.needSync, r.pending = false, true, nil
		}
	}
	c.mu.Unlock()
}

// patience is how many RequestTimeouts a request or a sync waits for its
// answer on a connection that keeps reading, before the request is sent
// again on it (same client_msg_id) or, for a sync, the connection is
// replaced.
const patience = 6

// flushSyncs sends one sync frame (at most MaxSyncRooms rooms) for the rooms
// that need one, at most every 200ms (the gateway allows 5 a second), and
// drops a connection that stalls.
//
// A node answers a connection's frames in order, so under overload a sync
// (or a request) waits behind the connection's earlier frames; the answers
// to those keep coming, and the connection keeps its place. It is dropped
// when it owes answers (to requests or syncs written on it) and has read
// nothing for two RequestTimeouts since it began to owe them (one frame's
// store operation alone may take the gateway's operation timeout, 10 s by
// default): it is dead or the node is stuck; the reconnect syncs every
// room afresh and requests are sent again on the new connection. A sync
// not answered within patience RequestTimeouts drops it too: asking again
// on it would leave two answers in flight, and a late one could pass
// messages it never sent as holes.
func (c *Client) flushSyncs(cn *conn) {
	since, owing := cn.owing()
	c.mu.Lock()
	now := time.Now()
	for _, r := range c.rooms {
		if r.syncing.IsZero() {
			continue
		}
		if now.Sub(r.syncing) > patience*c.o.RequestTimeout {
			c.mu.Unlock()
			c.log.Warn("im client: a sync was not answered in time, reconnecting")
			cn.close()
			return
		}
		if !owing || r.syncing.Before(since) {
			since, owing = r.syncing, true
		}
	}
	if owing {
		if lr := cn.lastRead(); lr.After(since) {
			since = lr
		}
		if now.Sub(since) > 2*c.o.RequestTimeout {
			c.mu.Unlock()
			c.log.Warn("im client: answers owed and nothing read in time, reconnecting")
			cn.close()
			return
		}
	}
	if now.Sub(c.lastSync) < 200*time.Millisecond {
		c.mu.Unlock()
		return
	}
	rooms := map[string]int64{}
	for id, r := range c.rooms {
		if r.needSync && r.syncing.IsZero() && !r.held && len(rooms) < protocol.MaxSyncRooms {
			rooms[id] = r.cursor
		}
	}
	if len(rooms) == 0 {
		c.mu.Unlock()
		return
	}
	for id := range rooms {
		r := c.rooms[id]
		r.needSync, r.syncing = false, now
	}
	c.lastSync = now
	c.stats.Syncs++
	c.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"type": protocol.TypeSync, "rooms": rooms})
	if err := cn.write(b); err != nil {
		return // the reconnect syncs them all again
	}
}

// read is the connection's reader: it handles every frame and, when the
// connection ends, clears it.
func (c *Client) read(cn *conn) {
	defer c.wg.Done()
	var err error
	for {
		var b []byte
		b, err = cn.readFrame()
		if err != nil {
			break
		}
		cn.touch()
		o, derr := protocol.DecodeOutbound(b)
		if derr != nil {
			c.log.Warn("im client: undecodable frame", "err", derr)
			continue
		}
		c.handle(cn, &o)
	}
	status := closeStatus(err)
	c.mu.Lock()
	cn.err = err
	if c.conn == cn {
		c.conn = nil
		c.ready = make(chan struct{})
	}
	if status == protocol.CloseSessionRevoked && c.fatal == nil {
		c.fatal = ErrSessionRevoked
	}
	c.notifyLocked()
	c.mu.Unlock()
	cn.close()
	if c.ctx.Err() == nil { // before done: run closes Events only after it
		c.emit(&DisconnectedEvent{Err: err, Status: int(status)})
	}
	close(cn.done)
}

// handle processes one server frame.
func (c *Client) handle(cn *conn, o *protocol.Outbound) {
	switch o.Type {
	case protocol.TypeAck:
		if o.Message != nil {
			c.answer(o.ClientMsgID, result{msg: o.Message})
		}
	case protocol.TypeError:
		e := errorOf(o)
		switch {
		case o.ClientMsgID != "":
			c.answer(o.ClientMsgID, result{err: e})
		case o.RoomID != "":
			c.roomError(o.RoomID, e)
		case e.Code == protocol.CodeRateLimited: // a sync over the rate: ask again
			c.mu.Lock()
			for _, r := range c.rooms {
				if !r.syncing.IsZero() {
					r.syncing, r.needSync = time.Time{}, true
				}
			}
			c.lastSync = time.Now().Add(e.RetryAfter)
			c.mu.Unlock()
		default:
			c.emit(&ErrorEvent{Err: e})
		}
	case protocol.TypeMessage:
		if o.Message != nil {
			c.onMessage(o.Message)
		}
	case protocol.TypeSynced:
		c.onSynced(o.RoomID, o.LastSeq, o.More)
	case protocol.TypeEvent:
		c.onEvent(o)
	case protocol.TypeReconnect:
		c.log.Info("im client: node going away", "reason", o.Reason)
		cn.close()
	}
}

func (c *Client) onEvent(o *protocol.Outbound) {
	ev := decodeEvent(o.Event, o.Data)
	switch e := ev.(type) {
	case *ResyncEvent:
		c.mu.Lock()
		for id, r := range c.rooms {
			if e.RoomID == "" || e.RoomID == id {
				r.needSync = true
			}
		}
		c.mu.Unlock()
		c.wake()
	case *RoomEvent:
		switch e.Name {
		case protocol.EventFriendAdded, protocol.EventGroupJoined:
			if e.RoomID != "" {
				c.mu.Lock()
				_, known := c.rooms[e.RoomID]
				c.mu.Unlock()
				if !known {
					c.Track(e.RoomID, 0)
				}
			}
		case protocol.EventFriendRemoved, protocol.EventGroupLeft:
			if e.RoomID != "" {
				c.Untrack(e.RoomID)
			}
		}
	case *SessionRevokedEvent:
		c.mu.Lock()
		if c.fatal == nil {
			c.fatal = ErrSessionRevoked
		}
		c.notifyLocked()
		c.mu.Unlock()
	}
	c.emit(ev)
}

// roomError handles an error about one room (sync, read, typing).
func (c *Client) roomError(roomID string, e *Error) {
	c.mu.Lock()
	if r := c.rooms[roomID]; r != nil && !r.syncing.IsZero() {
		r.syncing = time.Time{}
		switch e.Code {
		case protocol.CodeForbidden, protocol.CodeNotFound:
			delete(c.rooms, roomID) // not a member any more
		default:
			r.needSync = true // unavailable: the next tick asks again
		}
		c.notifyLocked()
	}
	c.mu.Unlock()
	c.emit(&RoomErrorEvent{RoomID: roomID, Err: e})
}

// onMessage delivers a message (live or from a sync) in seq order, once.
func (c *Client) onMessage(m *Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.rooms[m.RoomID]
	if r == nil { // a room seen for the first time: track it from here
		r = &roomState{cursor: m.Seq - 1}
		c.rooms[m.RoomID] = r
	}
	if r.held || m.Seq <= r.cursor {
		return
	}
	if _, dup := r.pending[m.Seq]; dup {
		return
	}
	if m.Seq != r.cursor+1 {
		if len(r.pending) >= maxPending {
			r.pending = nil
		}
		if r.pending == nil {
			r.pending = map[int64]Message{}
		}
		r.pending[m.Seq] = *m
		if r.syncing.IsZero() {
			r.needSync = true // a gap: the sync fills it or passes a hole
		}
		return
	}
	if !c.deliverLocked(r, m) {
		return
	}
	c.drainLocked(r)
}

// onSynced ends one room's sync answer: everything up to last was sent, so
// what is missing up to there are holes (or hidden messages).
func (c *Client) onSynced(roomID string, last int64, more bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.rooms[roomID]
	if r == nil {
		return
	}
	r.syncing = time.Time{}
	defer c.notifyLocked()
	if r.held {
		return
	}
	if more {
		r.needSync = true
	}
	seqs := make([]int64, 0, len(r.pending))
	for s := range r.pending {
		if s <= last {
			seqs = append(seqs, s)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for _, s := range seqs {
		m := r.pending[s]
		if !c.deliverLocked(r, &m) {
			return
		}
	}
	if last > r.cursor {
		r.cursor = last
	}
	c.drainLocked(r)
	if len(r.pending) > 0 && !more {
		r.needSync = true // messages wait beyond a gap the sync did not cover yet
	}
}

// drainLocked delivers the contiguous run after the cursor.
func (c *Client) drainLocked(r *roomState) {
	for {
		m, ok := r.pending[r.cursor+1]
		if !ok {
			return
		}
		if !c.deliverLocked(r, &m) {
			return
		}
	}
}

// deliverLocked puts a message on Events and moves the cursor to it; when
// Events is full it holds the room back instead (nothing is lost: the room
// is synced again from its cursor once there is room).
func (c *Client) deliverLocked(r *roomState, m *Message) bool {
	select {
	case c.events <- &MessageEvent{Message: *m}:
		delete(r.pending, m.Seq)
		r.cursor = m.Seq
		c.stats.Delivered++
		return true
	default:
		r.held, r.pending, r.needSync = true, nil, false
		c.stats.HeldBack++
		return false
	}
}

// emit puts a non-message event on Events, dropping it when full.
func (c *Client) emit(ev Event) {
	select {
	case c.events <- ev:
	default:
		c.mu.Lock()
		c.stats.Dropped++
		c.mu.Unlock()
	}
}

// answer hands a request's answer to its waiters.
func (c *Client) answer(cmid string, r result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.calls[cmid] {
		select {
		case ch <- r:
		default:
		}
	}
}

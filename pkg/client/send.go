package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// SendOptions are the optional parts of a message; the zero value sends a
// text message with a fresh client_msg_id.
type SendOptions struct {
	// ClientMsgID is the idempotency key (1-64 printable ASCII
	// characters). Empty: a new ULID. Pass your own to make a send
	// idempotent across restarts of your program: the server stores one
	// copy per id and answers a repeat with the same message.
	ClientMsgID string
	// Kind is text (the default), image, file or custom.
	Kind string
	// ReplyTo is the seq of a message of the room this one answers.
	ReplyTo int64
	// Mentions are user ids, or "@all" (a group's owner only).
	Mentions []string
	// FileID is an uploaded file (kind image or file).
	FileID string
	// Data is a custom message's JSON object.
	Data json.RawMessage
}

type sendFrame struct {
	Type        string          `json:"type"`
	RoomID      string          `json:"room_id"`
	Body        *string         `json:"body,omitempty"`
	ClientMsgID string          `json:"client_msg_id"`
	Kind        string          `json:"kind,omitempty"`
	ReplyTo     int64           `json:"reply_to,omitempty"`
	Mentions    []string        `json:"mentions,omitempty"`
	FileID      string          `json:"file_id,omitempty"`
	Data        json.RawMessage `json:"data,omitempty"`
}

type changeFrame struct {
	Type        string  `json:"type"`
	RoomID      string  `json:"room_id"`
	Seq         int64   `json:"seq"`
	Body        *string `json:"body,omitempty"`
	Emoji       string  `json:"emoji,omitempty"`
	ClientMsgID string  `json:"client_msg_id"`
}

// NewClientMsgID returns a fresh client_msg_id (a ULID).
func NewClientMsgID() string { return ulid.Make().String() }

// Send sends a message to a room and returns it as stored (with its seq)
// once the server acknowledged it. It retries, with the same client_msg_id
// and backing off, on `unavailable`, `internal`, `rate_limited`, a timeout
// or a lost connection (waiting for the reconnect) until ctx ends: the
// message is stored at most once. Other refusals (invalid_argument,
// payload_too_large, forbidden, conflict, not_found) return an *Error at
// once. The stored message also comes on Events, like every message of
// the room.
func (c *Client) Send(ctx context.Context, roomID, body string, o SendOptions) (*Message, error) {
	if o.ClientMsgID == "" {
		o.ClientMsgID = NewClientMsgID()
	}
	f := sendFrame{Type: protocol.TypeSend, RoomID: roomID, ClientMsgID: o.ClientMsgID, Kind: o.Kind,
		ReplyTo: o.ReplyTo, Mentions: o.Mentions, FileID: o.FileID, Data: o.Data}
	if body != "" || o.Kind == "" || o.Kind == "text" {
		f.Body = &body
	}
	return c.request(ctx, o.ClientMsgID, f)
}

// Edit changes the body of one of the user's messages; it returns the
// stored edit event. Retried like Send.
func (c *Client) Edit(ctx context.Context, roomID string, seq int64, body string) (*Message, error) {
	id := NewClientMsgID()
	return c.request(ctx, id, changeFrame{Type: protocol.TypeEdit, RoomID: roomID, Seq: seq, Body: &body, ClientMsgID: id})
}

// Recall recalls a message (its sender within 2 minutes, a group's owner
// at any time); it returns the stored recall event. Retried like Send.
func (c *Client) Recall(ctx context.Context, roomID string, seq int64) (*Message, error) {
	id := NewClientMsgID()
	return c.request(ctx, id, changeFrame{Type: protocol.TypeRecall, RoomID: roomID, Seq: seq, ClientMsgID: id})
}

// React adds the user's emoji reaction to a message; it returns the stored
// react event. Retried like Send.
func (c *Client) React(ctx context.Context, roomID string, seq int64, emoji string) (*Message, error) {
	id := NewClientMsgID()
	return c.request(ctx, id, changeFrame{Type: protocol.TypeReact, RoomID: roomID, Seq: seq, Emoji: emoji, ClientMsgID: id})
}

// Unreact removes the user's emoji reaction from a message. Retried like
// Send.
func (c *Client) Unreact(ctx context.Context, roomID string, seq int64, emoji string) (*Message, error) {
	id := NewClientMsgID()
	return c.request(ctx, id, changeFrame{Type: protocol.TypeUnreact, RoomID: roomID, Seq: seq, Emoji: emoji, ClientMsgID: id})
}

// Read marks the room read up to seq. The server answers nothing on
// success; a refusal comes as a RoomErrorEvent. It waits for a connection
// (until ctx ends) and sends the frame once.
func (c *Client) Read(ctx context.Context, roomID string, seq int64) error {
	return c.fire(ctx, map[string]any{"type": protocol.TypeRead, "room_id": roomID, "seq": seq})
}

// Typing tells the room's other members that the user is typing (on) or
// stopped. Like Read, it is sent once and answered only on refusal.
func (c *Client) Typing(ctx context.Context, roomID string, on bool) error {
	return c.fire(ctx, map[string]any{"type": protocol.TypeTyping, "room_id": roomID, "on": on})
}

// fire sends a frame that has no answer.
func (c *Client) fire(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("client: encode: %w", err)
	}
	cn, err := c.waitConn(ctx)
	if err != nil {
		return err
	}
	return cn.write(b)
}

// retryable are the answers after which the same request is sent again.
func retryable(code string) bool {
	return code == protocol.CodeUnavailable || code == protocol.CodeInternal || code == protocol.CodeRateLimited
}

// request sends a frame keyed by a client_msg_id until it is answered.
func (c *Client) request(ctx context.Context, cmid string, v any) (*Message, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("client: encode: %w", err)
	}
	ch := make(chan result, 1)
	c.mu.Lock()
	c.calls[cmid] = append(c.calls[cmid], ch)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		cs := c.calls[cmid]
		for i, x := range cs {
			if x == ch {
				cs = append(cs[:i:i], cs[i+1:]...)
				break
			}
		}
		if len(cs) == 0 {
			delete(c.calls, cmid)
		} else {
			c.calls[cmid] = cs
		}
	}()
	bo := backoff{min: c.o.MinBackoff, max: c.o.MaxBackoff}
	var why error // why the next try is a resend
	held := false // a place in the send window
	release := func(ok, refused bool, pause time.Duration) {
		if held {
			held = false
			c.win.release(ok, refused, pause)
		}
	}
	defer release(false, false, 0)
	for try := 0; ; try++ {
		cn, err := c.waitConn(ctx)
		if err != nil {
			return nil, err
		}
		if !held {
			if err := c.win.acquire(ctx, c.ctx.Done(), c.err); err != nil {
				return nil, err
			}
			held = true
		}
		if try > 0 {
			c.mu.Lock()
			c.stats.Resent++
			c.mu.Unlock()
			if c.o.OnRetry != nil {
				c.o.OnRetry(cmid, why)
			}
		}
		if err := cn.write(b); err != nil { // the connection is gone: wait for the next one
			release(false, false, 0)
			why = ErrConnectionLost
			select {
			case <-cn.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-c.ctx.Done():
				return nil, c.err()
			}
			continue
		}
		r, err := c.await(ctx, cn, ch)
		switch {
		case errors.Is(err, ErrConnectionLost): // resend on the next connection
			release(false, false, 0)
			why = err
			continue
		case errors.Is(err, ErrNoAnswer): // send again on this one, same id
			why = err
			continue
		case err != nil:
			return nil, err
		case r.msg != nil:
			release(true, false, 0)
			return r.msg, nil
		case !retryable(r.err.Code):
			return nil, r.err
		}
		c.log.Info("im client: retrying", "client_msg_id", cmid, "code", r.err.Code)
		why = r.err
		// The refusal pauses every send of the client (the window).
		wait := max(bo.next(), r.err.RetryAfter)
		release(false, true, wait)
		if err := c.pause(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// await waits for the answer to a request written on cn. ErrConnectionLost
// (cn ended) and ErrNoAnswer (none within patience RequestTimeouts on a
// connection that kept reading: flushSyncs drops one that does not) say
// the request goes again; other errors end it (ctx, or the client closing).
func (c *Client) await(ctx context.Context, cn *conn, ch <-chan result) (result, error) {
	cn.owe()
	defer cn.paid()
	t := time.NewTimer(patience * c.o.RequestTimeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r, nil
	case <-cn.done:
		return result{}, ErrConnectionLost
	case <-t.C:
		return result{}, ErrNoAnswer
	case <-ctx.Done():
		return result{}, ctx.Err()
	case <-c.ctx.Done():
		return result{}, c.err()
	}
}

// pause waits d, or until ctx ends or the client stops.
func (c *Client) pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ctx.Done():
		return c.err()
	}
}

// err is why the client stopped.
func (c *Client) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fatal != nil {
		return c.fatal
	}
	return ErrClosed
}

// waitConn returns the current connection, waiting for one.
func (c *Client) waitConn(ctx context.Context) (*conn, error) {
	for {
		c.mu.Lock()
		cn, ready, fatal := c.conn, c.ready, c.fatal
		c.mu.Unlock()
		if fatal != nil {
			return nil, fatal
		}
		if cn != nil && !cn.isDone() {
			return cn, nil
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.ctx.Done():
			return nil, c.err()
		}
	}
}

package protocol

import (
	"bytes"
	"errors"
	"strconv"
)

// Envelope is what travels on the bus: a short header line the gateway can
// read without parsing JSON, then the frame bytes that are written as they
// are to every local recipient (encode once, write to many).
//
//	m <room_id> <seq> [<published_unix_us>]\n{"type":"message",...}
//	e <room_id> <event>\n{"type":"event",...}
//	u <user_id> <room_id> <event>\n{"type":"event",...}
//	h <room_id> <seq>\n
//
// A 'u' envelope is an event for one user on a user shard channel (shared
// by many users: the gateway delivers it only to that user's connections).
//
// An 'h' envelope says that a seq of the room holds no message (its send
// failed and a tombstone closed it): gateways pass over it at once instead
// of waiting for it.
type Envelope struct {
	Kind   byte   // 'm' message, 'e' event, 'u' event for one user, 'h' a seq that holds no message
	UserID string // 'u' only: the user the event is for
	RoomID string // the message's room; for events, the room they concern (may be "-")
	Seq    int64  // messages and 'h' only
	Event  string // events only
	// Published is when the message was published (unix microseconds, 0
	// if unknown): gateways measure delivery latency from it.
	Published int64
	Frame     []byte
}

// Marshal encodes e.
func (e Envelope) Marshal() []byte {
	room := e.RoomID
	if room == "" {
		room = "-"
	}
	b := make([]byte, 0, len(e.Frame)+len(room)+len(e.UserID)+32)
	b = append(b, e.Kind, ' ')
	if e.Kind == 'u' {
		b = append(b, e.UserID...)
		b = append(b, ' ')
	}
	b = append(b, room...)
	b = append(b, ' ')
	if e.Kind == 'm' || e.Kind == 'h' {
		b = strconv.AppendInt(b, e.Seq, 10)
		if e.Published > 0 {
			b = append(b, ' ')
			b = strconv.AppendInt(b, e.Published, 10)
		}
	} else {
		b = append(b, e.Event...)
	}
	b = append(b, '\n')
	return append(b, e.Frame...)
}

var errEnvelope = errors.New("protocol: bad envelope")

// ParseEnvelope decodes a bus payload. Frame aliases b.
func ParseEnvelope(b []byte) (Envelope, error) {
	var e Envelope
	nl := bytes.IndexByte(b, '\n')
	if nl < 4 {
		return e, errEnvelope
	}
	head := b[:nl]
	e.Frame = b[nl+1:]
	if head[0] == 'u' {
		user, rest, ok := bytes.Cut(head[min(2, len(head)):], []byte{' '})
		if len(head) < 2 || head[1] != ' ' || !ok || len(user) == 0 {
			return e, errEnvelope
		}
		e.UserID = string(user)
		head = append([]byte{'u', ' '}, rest...) // then as an 'e' header
	}
	parts := bytes.SplitN(head, []byte{' '}, 3)
	if len(parts) != 3 || len(parts[0]) != 1 {
		return e, errEnvelope
	}
	e.Kind = parts[0][0]
	e.RoomID = string(parts[1])
	if e.RoomID == "-" {
		e.RoomID = ""
	}
	switch e.Kind {
	case 'm', 'h':
		seq, ts, _ := bytes.Cut(parts[2], []byte{' '})
		n, err := strconv.ParseInt(string(seq), 10, 64)
		if err != nil || n <= 0 {
			return e, errEnvelope
		}
		e.Seq = n
		if e.Kind == 'h' && (len(ts) > 0 || len(e.Frame) > 0) {
			return e, errEnvelope
		}
		if len(ts) > 0 {
			if e.Published, err = strconv.ParseInt(string(ts), 10, 64); err != nil || e.Published < 0 {
				return e, errEnvelope
			}
		}
	case 'e', 'u':
		e.Event = string(parts[2])
	default:
		return e, errEnvelope
	}
	return e, nil
}

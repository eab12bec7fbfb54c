package protocol

import "encoding/json"

// Outbound frames. Each Encode function returns the bytes of one text frame;
// the gateway encodes a message once and writes the same bytes to every
// local recipient.

type helloFrame struct {
	Type       string `json:"type"`
	UserID     string `json:"user_id"`
	Node       string `json:"node"`
	HeartbeatS int    `json:"heartbeat_s"`
}

type ackFrame struct {
	Type        string  `json:"type"`
	ClientMsgID string  `json:"client_msg_id"`
	Message     Message `json:"message"`
}

type messageFrame struct {
	Type    string  `json:"type"`
	Message Message `json:"message"`
}

type syncedFrame struct {
	Type    string `json:"type"`
	RoomID  string `json:"room_id"`
	LastSeq int64  `json:"last_seq"`
	More    bool   `json:"more"`
}

type eventFrame struct {
	Type  string `json:"type"`
	Event string `json:"event"`
	Data  any    `json:"data"`
}

type errorFrame struct {
	Type        string `json:"type"`
	Code        string `json:"code"`
	Message     string `json:"message"`
	ClientMsgID string `json:"client_msg_id,omitempty"`
	RoomID      string `json:"room_id,omitempty"`
	// RetryAfterMS, when set, is how long to wait before trying again
	// (rate_limited, and unavailable when the gateway sheds load).
	RetryAfterMS int64 `json:"retry_after_ms,omitempty"`
}

type reconnectFrame struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own frame structs reach here; they always marshal.
		panic("protocol: encode: " + err.Error())
	}
	return b
}

// EncodeHello encodes the hello frame.
func EncodeHello(userID, node string, heartbeatS int) []byte {
	return mustJSON(helloFrame{TypeHello, userID, node, heartbeatS})
}

// EncodeAck encodes an ack for a stored message.
func EncodeAck(m Message) []byte { return mustJSON(ackFrame{TypeAck, m.ClientMsgID, m}) }

// EncodeMessage encodes a message frame.
func EncodeMessage(m Message) []byte { return mustJSON(messageFrame{TypeMessage, m}) }

// EncodeSynced encodes the end of one room's sync page.
func EncodeSynced(roomID string, lastSeq int64, more bool) []byte {
	return mustJSON(syncedFrame{TypeSynced, roomID, lastSeq, more})
}

// EncodeEvent encodes an event frame; data must marshal to JSON.
func EncodeEvent(event string, data any) []byte {
	b, err := json.Marshal(eventFrame{TypeEvent, event, data})
	if err != nil {
		return mustJSON(eventFrame{TypeEvent, event, nil})
	}
	return b
}

// EncodeError encodes an error frame.
func EncodeError(e *Error, clientMsgID string) []byte {
	return mustJSON(errorFrame{TypeError, e.Code, e.Message, clientMsgID, "", e.RetryAfter.Milliseconds()})
}

// EncodeRoomError encodes an error about one room of a sync or read frame;
// room_id tells the client which (an extension of the contract's frame).
func EncodeRoomError(e *Error, roomID string) []byte {
	return mustJSON(errorFrame{TypeError, e.Code, e.Message, "", roomID, e.RetryAfter.Milliseconds()})
}

// EncodePong is the pong frame.
var EncodePong = []byte(`{"type":"pong"}`)

// EncodeReconnect encodes the reconnect frame.
func EncodeReconnect(reason string) []byte { return mustJSON(reconnectFrame{TypeReconnect, reason}) }

// Outbound is a server frame as a client decodes it (tests, the load tool).
// "message" is an object in ack and message frames and a string in error
// frames: DecodeOutbound puts it in Message or ErrMessage.
type Outbound struct {
	Type         string          `json:"type"`
	UserID       string          `json:"user_id,omitempty"`
	Node         string          `json:"node,omitempty"`
	HeartbeatS   int             `json:"heartbeat_s,omitempty"`
	ClientMsgID  string          `json:"client_msg_id,omitempty"`
	RawMessage   json.RawMessage `json:"message,omitempty"`
	RoomID       string          `json:"room_id,omitempty"`
	LastSeq      int64           `json:"last_seq,omitempty"`
	More         bool            `json:"more,omitempty"`
	Event        string          `json:"event,omitempty"`
	Data         json.RawMessage `json:"data,omitempty"`
	Code         string          `json:"code,omitempty"`
	RetryAfterMS int64           `json:"retry_after_ms,omitempty"`
	Reason       string          `json:"reason,omitempty"`
	Message      *Message        `json:"-"`
	ErrMessage   string          `json:"-"`
}

// DecodeOutbound parses a server frame.
func DecodeOutbound(b []byte) (Outbound, error) {
	var o Outbound
	if err := json.Unmarshal(b, &o); err != nil {
		return o, err
	}
	if len(o.RawMessage) > 0 {
		if o.RawMessage[0] == '"' {
			err := json.Unmarshal(o.RawMessage, &o.ErrMessage)
			return o, err
		}
		o.Message = new(Message)
		if err := json.Unmarshal(o.RawMessage, o.Message); err != nil {
			return o, err
		}
	}
	return o, nil
}

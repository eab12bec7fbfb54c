// Package protocol defines the JSON shapes of the public contract: the
// message and user objects shared by REST and WebSocket, the WebSocket
// frames, their strict decoding and their encoding.
package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// Limits of the protocol. The gateway's frame limit is configurable; the
// others are fixed parts of the contract.
const (
	MaxBodyRunes       = 4000 // characters in a message body
	MaxClientMsgIDLen  = 64
	MaxSyncRooms       = 1000
	DefaultMaxFrame    = 64 << 10
	DefaultSyncPage    = 100
	MaxIDLen           = 64
	DefaultHeartbeatS  = 30
	MaxAccessTokenSize = 4096
)

// Frame types.
const (
	TypeSend      = "send"
	TypeSync      = "sync"
	TypeRead      = "read"
	TypePing      = "ping"
	TypeRefresh   = "refresh"
	TypeHello     = "hello"
	TypeAck       = "ack"
	TypeMessage   = "message"
	TypeSynced    = "synced"
	TypeEvent     = "event"
	TypeError     = "error"
	TypePong      = "pong"
	TypeReconnect = "reconnect"
	// Changes to a message (see rich.go).
	TypeEdit    = "edit"
	TypeRecall  = "recall"
	TypeReact   = "react"
	TypeUnreact = "unreact"
	TypeHide    = "hide"
	// TypeTyping tells the room's other connected members that the
	// sender is typing (on) or stopped (off); relayed, never stored.
	TypeTyping = "typing"
)

// Event names carried by event frames.
const (
	EventFriendRequest = "friend_request"
	EventFriendAdded   = "friend_added"
	EventFriendRemoved = "friend_removed"
	EventGroupJoined   = "group_joined"
	EventGroupLeft     = "group_left"
	EventGroupUpdated  = "group_updated"
	// EventSessionRevoked tells a gateway to close the sockets of revoked
	// sessions (data: session_ids or all, and reason); the client gets
	// it just before the close frame CloseSessionRevoked.
	EventSessionRevoked = "session_revoked"
	// EventMessagesHidden tells a user's devices that messages were
	// deleted for them (data: room_id, seqs).
	EventMessagesHidden = "messages_hidden"
	// EventSystemNotice is an operator's notice to a user (the admin
	// API; data: id, text, created_at). Live only: not stored.
	EventSystemNotice = "system_notice"
	// EventRead tells the members of a direct room that one of them read
	// it up to a seq (data: room_id, user_id, seq).
	EventRead = "read"
	// EventReadCounts tells the members of a group how many members read
	// its latest messages (data: room_id, counts [{seq, read}]); at most
	// one a second per room.
	EventReadCounts = "read_counts"
	// EventRoomClosed and EventRoomOpened are internal: published on a
	// user channel when a block closes (or an unblock reopens) a direct
	// room of theirs, they make every gateway drop (or restore) its cached
	// membership. They are never written to clients: the block must not
	// show.
	EventRoomClosed = "room_closed"
	EventRoomOpened = "room_opened"
	// EventPresence tells a user that a friend came online or went
	// offline: data {user_id, online, last_seen}.
	EventPresence = "presence"
	// EventTyping relays a typing frame to a room's other members: data
	// {room_id, user_id, on, expires_ms}.
	EventTyping = "typing"
)

// Message is the contract's message object, with the fields rich messages
// add (all omitted when empty except kind, so a v1 client sees the object it
// knows plus fields it may ignore).
type Message struct {
	ID          string    `json:"id"`
	RoomID      string    `json:"room_id"`
	Seq         int64     `json:"seq"`
	From        string    `json:"from"`
	Body        string    `json:"body"`
	ClientMsgID string    `json:"client_msg_id"`
	CreatedAt   time.Time `json:"created_at"`

	Kind     string   `json:"kind"`
	ReplyTo  int64    `json:"reply_to,omitempty"`
	Reply    *Quote   `json:"reply,omitempty"`
	Mentions []string `json:"mentions,omitempty"`
	// Attachment describes the file of an image or file message.
	Attachment json.RawMessage `json:"attachment,omitempty"`
	// Data is the payload of a custom message, the details of a system one.
	Data json.RawMessage `json:"data,omitempty"`
	// Target is the seq of the message a change event (edit, recall,
	// react, unreact) changes; Emoji the emoji of a react or unreact.
	Target    int64      `json:"target,omitempty"`
	Emoji     string     `json:"emoji,omitempty"`
	EditedAt  *time.Time `json:"edited_at,omitempty"`
	Recalled  bool       `json:"recalled,omitempty"`
	Reactions []Reaction `json:"reactions,omitempty"`
}

// Quote is the short form of the message a reply refers to.
type Quote struct {
	Seq      int64  `json:"seq"`
	From     string `json:"from"`
	Kind     string `json:"kind"`
	Body     string `json:"body"` // at most QuoteRunes characters
	Recalled bool   `json:"recalled,omitempty"`
}

// Reaction is the count of one emoji on a message; Mine is set when the
// reader is one of the reactors (history only).
type Reaction struct {
	Emoji string `json:"emoji"`
	Count int64  `json:"count"`
	Mine  bool   `json:"mine,omitempty"`
}

// FromStore converts a stored message.
func FromStore(m *store.Message) Message {
	out := Message{ID: m.ID, RoomID: m.RoomID, Seq: m.Seq, From: m.From, Body: m.Body,
		ClientMsgID: m.ClientMsgID, CreatedAt: m.CreatedAt.UTC(), Kind: KindOf(m),
		ReplyTo: m.ReplyTo, Mentions: m.Mentions, Target: m.Target, Recalled: m.Recalled}
	switch out.Kind {
	case store.KindImage, store.KindFile:
		out.Attachment = rawObject(m.Extra)
	case store.KindCustom, store.KindSystem:
		out.Data = rawObject(m.Extra)
	case store.KindReact, store.KindUnreact:
		out.Emoji = m.Body
	case store.KindRecall:
		// A moderator's removal (the admin API) says so: {"moderation":
		// true, "reason": ...}; a sender's recall has no data.
		out.Data = rawObject(m.Extra)
	}
	if !m.EditedAt.IsZero() {
		t := m.EditedAt.UTC()
		out.EditedAt = &t
	}
	return out
}

// KindOf is the message's kind, "text" for messages stored without one.
func KindOf(m *store.Message) string {
	if m.Kind == "" {
		return store.KindText
	}
	return m.Kind
}

// QuoteOf is the quote of m shown with the replies to it.
func QuoteOf(m *store.Message) *Quote {
	q := &Quote{Seq: m.Seq, From: m.From, Kind: KindOf(m), Body: m.Body, Recalled: m.Recalled}
	if utf8.RuneCountInString(q.Body) > QuoteRunes {
		q.Body = string([]rune(q.Body)[:QuoteRunes]) + "…"
	}
	return q
}

func rawObject(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// User is the contract's public user object; Email is set only for /v1/me.
type User struct {
	ID        string    `json:"id"`
	Account   string    `json:"account"`
	Nickname  string    `json:"nickname"`
	Avatar    string    `json:"avatar"`
	Sex       int       `json:"sex"`
	CreatedAt time.Time `json:"created_at"`
	Email     string    `json:"email,omitempty"`
	// Deleted marks an account that was deleted: its messages stay, shown
	// under DeletedNickname.
	Deleted bool `json:"deleted,omitempty"`
	// HidePresence is the caller's own presence privacy setting (GET and
	// PATCH /v1/me only; absent elsewhere).
	HidePresence *bool `json:"hide_presence,omitempty"`
}

// Presence is one user's presence as another user may see it: the data of
// a `presence` event and an entry of GET /v1/presence. LastSeen is set
// only when the user is offline, visible and was seen before.
type Presence struct {
	UserID   string     `json:"user_id"`
	Online   bool       `json:"online"`
	LastSeen *time.Time `json:"last_seen,omitempty"`
}

// Typing is the data of a `typing` event: UserID is typing in RoomID (On)
// or stopped; without another event the state ends after ExpiresMS.
type Typing struct {
	RoomID    string `json:"room_id"`
	UserID    string `json:"user_id"`
	On        bool   `json:"on"`
	ExpiresMS int    `json:"expires_ms"`
}

// CloseSessionRevoked is the WebSocket close status sent when the socket's
// session was revoked (logout, signed out from another device, password
// changed or reset, account deleted); the reason names which. Do not
// reconnect with the same tokens: log in again.
const CloseSessionRevoked = 4001

// DeletedNickname is the name a deleted account is shown under.
const DeletedNickname = "Deleted user"

// PublicUser converts a stored user, leaving out the email.
func PublicUser(u *store.User) User {
	if u.Deleted() {
		return User{ID: u.ID, Account: u.Account, Nickname: DeletedNickname, CreatedAt: u.CreatedAt.UTC(), Deleted: true}
	}
	return User{ID: u.ID, Account: u.Account, Nickname: u.Nickname, Avatar: u.Avatar,
		Sex: u.Sex, CreatedAt: u.CreatedAt.UTC()}
}

// Inbound is any client-to-server frame. Which fields are allowed depends on
// Type; Decode checks them.
type Inbound struct {
	Type        string           `json:"type"`
	RoomID      string           `json:"room_id,omitempty"`
	Body        *string          `json:"body,omitempty"`
	ClientMsgID string           `json:"client_msg_id,omitempty"`
	Rooms       map[string]int64 `json:"rooms,omitempty"`
	Seq         *int64           `json:"seq,omitempty"`
	AccessToken string           `json:"access_token,omitempty"`

	// Rich messages (send) and changes (edit, recall, react, unreact,
	// hide); see rich.go.
	Kind     string          `json:"kind,omitempty"`
	ReplyTo  *int64          `json:"reply_to,omitempty"`
	Mentions []string        `json:"mentions,omitempty"`
	FileID   string          `json:"file_id,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	Emoji    string          `json:"emoji,omitempty"`
	Seqs     []int64         `json:"seqs,omitempty"`

	// On is the state of a typing frame (required there).
	On *bool `json:"on,omitempty"`
}

// ErrMalformed wraps JSON that is not one well-formed object: the gateway
// closes the connection (status 1007) rather than answering.
var ErrMalformed = errors.New("protocol: malformed frame")

// Decode parses one client frame strictly. A syntax error returns an error
// wrapping ErrMalformed; a well-formed frame that breaks the contract (unknown
// type or field, a missing or invalid field) returns an *Error with code
// invalid_argument and, for send, the frame's client_msg_id in ClientMsgID of
// the returned Inbound.
func Decode(data []byte) (Inbound, error) {
	var in Inbound
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var ute *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return in, fmt.Errorf("%w: invalid JSON", ErrMalformed)
		case !json.Valid(data): // an early field error hid a later syntax error
			return in, fmt.Errorf("%w: invalid JSON", ErrMalformed)
		case errors.As(err, &ute):
			return in, Errorf(CodeInvalidArgument, "field %q has the wrong type", ute.Field)
		}
		return in, Errorf(CodeInvalidArgument, "%s", cleanJSONErr(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return in, fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	return in, in.validate()
}

func cleanJSONErr(err error) string {
	s := err.Error()
	s = trimPrefix(s, "json: ")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

func trimPrefix(s, p string) string {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

func (in *Inbound) validate() error {
	only := func(allowed ...string) error {
		set := map[string]bool{}
		for _, a := range allowed {
			set[a] = true
		}
		check := []struct {
			name string
			on   bool
		}{
			{"room_id", in.RoomID != ""}, {"body", in.Body != nil},
			{"client_msg_id", in.ClientMsgID != ""}, {"rooms", in.Rooms != nil},
			{"seq", in.Seq != nil}, {"access_token", in.AccessToken != ""},
			{"kind", in.Kind != ""}, {"reply_to", in.ReplyTo != nil}, {"mentions", in.Mentions != nil},
			{"file_id", in.FileID != ""}, {"data", in.Data != nil}, {"emoji", in.Emoji != ""},
			{"seqs", in.Seqs != nil}, {"on", in.On != nil},
		}
		for _, c := range check {
			if c.on && !set[c.name] {
				return Errorf(CodeInvalidArgument, "field %q is not allowed in a %q frame", c.name, in.Type)
			}
		}
		return nil
	}
	switch in.Type {
	case TypeSend:
		if err := only("room_id", "body", "client_msg_id", "kind", "reply_to", "mentions", "file_id", "data"); err != nil {
			return err
		}
		if err := ValidClientMsgID(in.ClientMsgID); err != nil {
			return err
		}
		if err := ValidID("room_id", in.RoomID); err != nil {
			return err
		}
		return in.validateRich()
	case TypeEdit, TypeRecall, TypeReact, TypeUnreact, TypeHide:
		return in.validateChange(only)
	case TypeSync:
		if err := only("rooms"); err != nil {
			return err
		}
		if len(in.Rooms) > MaxSyncRooms {
			return Errorf(CodeInvalidArgument, "at most %d rooms per sync", MaxSyncRooms)
		}
		for id, seq := range in.Rooms {
			if err := ValidID("room_id", id); err != nil {
				return err
			}
			if seq < 0 {
				return Errorf(CodeInvalidArgument, "seq must not be negative")
			}
		}
		return nil
	case TypeRead:
		if err := only("room_id", "seq"); err != nil {
			return err
		}
		if err := ValidID("room_id", in.RoomID); err != nil {
			return err
		}
		if in.Seq == nil || *in.Seq < 0 {
			return Errorf(CodeInvalidArgument, "seq is required and must not be negative")
		}
		return nil
	case TypeTyping:
		if err := only("room_id", "on"); err != nil {
			return err
		}
		if err := ValidID("room_id", in.RoomID); err != nil {
			return err
		}
		if in.On == nil {
			return Errorf(CodeInvalidArgument, "on is required (true: typing, false: stopped)")
		}
		return nil
	case TypePing:
		return only()
	case TypeRefresh:
		if err := only("access_token"); err != nil {
			return err
		}
		if in.AccessToken == "" || len(in.AccessToken) > MaxAccessTokenSize {
			return Errorf(CodeInvalidArgument, "access_token is required")
		}
		return nil
	case "":
		return Errorf(CodeInvalidArgument, "type is required")
	default:
		if len(in.Type) > 32 || !utf8.ValidString(in.Type) {
			return Errorf(CodeInvalidArgument, "unknown frame type")
		}
		return Errorf(CodeInvalidArgument, "unknown frame type %q", in.Type)
	}
}

// ValidBody checks a message body: non-empty, valid UTF-8, at most
// MaxBodyRunes characters.
func ValidBody(b string) error {
	if b == "" {
		return Errorf(CodeInvalidArgument, "body must not be empty")
	}
	if !utf8.ValidString(b) {
		return Errorf(CodeInvalidArgument, "body must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(b); n > MaxBodyRunes {
		return &Error{Code: CodePayloadTooLarge, Message: fmt.Sprintf("body is %d characters; the limit is %d", n, MaxBodyRunes)}
	}
	return nil
}

// ValidClientMsgID checks a client_msg_id: 1-64 printable ASCII characters.
func ValidClientMsgID(id string) error {
	if id == "" || len(id) > MaxClientMsgIDLen {
		return Errorf(CodeInvalidArgument, "client_msg_id must be 1-%d characters", MaxClientMsgIDLen)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return Errorf(CodeInvalidArgument, "client_msg_id must be printable ASCII")
		}
	}
	return nil
}

// ValidID checks the form of an id (ULIDs and the like).
func ValidID(field, id string) error {
	if id == "" || len(id) > MaxIDLen {
		return Errorf(CodeInvalidArgument, "%s is required", field)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-' || c == '_') {
			return Errorf(CodeInvalidArgument, "%s is not a valid id", field)
		}
	}
	return nil
}

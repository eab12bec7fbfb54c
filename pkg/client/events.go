package client

import (
	"encoding/json"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// Message is the contract's message object (docs/protocol.md §2): a
// message, or a change event (Kind edit, recall, react, unreact, with
// Target).
type Message = protocol.Message

// Error is an error answer of the server: a contract code
// (protocol.CodeForbidden, ...) and a message; RetryAfter is set on
// rate_limited and on unavailable when the gateway sheds load.
type Error = protocol.Error

// Event is what Events delivers: one of the *...Event types of this file.
// Switch on the type; ignore types you do not know (new ones may come).
type Event interface{ isEvent() }

// MessageEvent is a message of a tracked room (the client's own included:
// compare Message.From with UserID), delivered once, in seq order per
// room, whether it came live or from a sync.
type MessageEvent struct {
	Message Message
}

// ConnectedEvent: the client is connected (again) to a gateway; the rooms
// it tracks are being synced.
type ConnectedEvent struct {
	UserID, Node string
}

// DisconnectedEvent: the connection ended; the client reconnects (unless
// it was closed or the session revoked) and syncs.
type DisconnectedEvent struct {
	Err error
	// Status is the WebSocket close status the server sent, 0 if none
	// (1001 going away, 1008 policy: token expired or slow consumer,
	// 4001 session revoked).
	Status int
}

// PresenceEvent: a friend came online or went offline.
type PresenceEvent struct{ protocol.Presence }

// TypingEvent: a member of a room is typing (On) or stopped; without
// another event the state ends after ExpiresMS.
type TypingEvent struct{ protocol.Typing }

// ReadEvent: in a direct room, UserID has read the room up to Seq.
type ReadEvent struct {
	RoomID string `json:"room_id"`
	UserID string `json:"user_id"`
	Seq    int64  `json:"seq"`
}

// ReadCountsEvent: in a group, how many members read each latest message.
type ReadCountsEvent struct {
	RoomID string `json:"room_id"`
	Counts []struct {
		Seq  int64 `json:"seq"`
		Read int64 `json:"read"`
	} `json:"counts"`
}

// HiddenEvent: the user deleted these messages for themself (on some
// device): remove them locally.
type HiddenEvent struct {
	RoomID string  `json:"room_id"`
	Seqs   []int64 `json:"seqs"`
}

// RoomEvent is a change of the user's rooms or friends: friend_request,
// friend_added, friend_removed, group_joined, group_left, group_updated,
// group_admin, join_request. RoomID is set when the event names a room.
// The client starts tracking a room on friend_added and group_joined (from
// seq 0, as docs/protocol.md §6 says) and stops on friend_removed and
// group_left.
type RoomEvent struct {
	Name   string
	RoomID string
	Data   json.RawMessage
}

// ResyncEvent: the gateway asked for a sync (its bus was interrupted, or
// it could not fill a gap in RoomID); the client does it by itself.
type ResyncEvent struct {
	RoomID string `json:"room_id"`
	Reason string `json:"reason"`
}

// SessionRevokedEvent: the session ended (logout, signed out elsewhere,
// password changed, account deleted). The client stops: it does not
// reconnect with these tokens; log in again and make a new client.
type SessionRevokedEvent struct {
	Reason string
}

// RoomErrorEvent is an error the server answered about one room outside a
// request: a sync the user may not do any more (forbidden: the client
// stops tracking the room), a refused read or typing frame.
type RoomErrorEvent struct {
	RoomID string
	Err    *Error
}

// ErrorEvent is an error frame that answers no request of this client
// (e.g. unauthenticated "token expired", before the server closes).
type ErrorEvent struct {
	Err *Error
}

// UnknownEvent is an event frame of a name this version does not know.
type UnknownEvent struct {
	Name string
	Data json.RawMessage
}

func (*MessageEvent) isEvent()        {}
func (*ConnectedEvent) isEvent()      {}
func (*DisconnectedEvent) isEvent()   {}
func (*PresenceEvent) isEvent()       {}
func (*TypingEvent) isEvent()         {}
func (*ReadEvent) isEvent()           {}
func (*ReadCountsEvent) isEvent()     {}
func (*HiddenEvent) isEvent()         {}
func (*RoomEvent) isEvent()           {}
func (*ResyncEvent) isEvent()         {}
func (*SessionRevokedEvent) isEvent() {}
func (*RoomErrorEvent) isEvent()      {}
func (*ErrorEvent) isEvent()          {}
func (*UnknownEvent) isEvent()        {}

// decodeEvent turns an event frame into a typed event.
func decodeEvent(name string, data json.RawMessage) Event {
	var ev Event
	switch name {
	case protocol.EventPresence:
		ev = &PresenceEvent{}
	case protocol.EventTyping:
		ev = &TypingEvent{}
	case protocol.EventRead:
		ev = &ReadEvent{}
	case protocol.EventReadCounts:
		ev = &ReadCountsEvent{}
	case protocol.EventMessagesHidden:
		ev = &HiddenEvent{}
	case "resync":
		ev = &ResyncEvent{}
	case protocol.EventSessionRevoked:
		var d struct{ Reason string }
		_ = json.Unmarshal(data, &d)
		return &SessionRevokedEvent{Reason: d.Reason}
	case protocol.EventFriendRequest, protocol.EventFriendAdded, protocol.EventFriendRemoved,
		protocol.EventGroupJoined, protocol.EventGroupLeft, protocol.EventGroupUpdated,
		"group_admin", "join_request":
		var d struct {
			RoomID string `json:"room_id"`
			Group  struct {
				ID string `json:"id"`
			} `json:"group"`
		}
		_ = json.Unmarshal(data, &d)
		if d.RoomID == "" {
			d.RoomID = d.Group.ID // group_joined, group_updated: the group's id is its room's
		}
		return &RoomEvent{Name: name, RoomID: d.RoomID, Data: data}
	default:
		return &UnknownEvent{Name: name, Data: data}
	}
	if err := json.Unmarshal(data, ev); err != nil {
		return &UnknownEvent{Name: name, Data: data}
	}
	return ev
}

// errorOf converts an error frame.
func errorOf(o *protocol.Outbound) *Error {
	return &Error{Code: o.Code, Message: o.ErrMessage, RetryAfter: time.Duration(o.RetryAfterMS) * time.Millisecond}
}

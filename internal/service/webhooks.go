package service

import (
	"context"
	"encoding/json"
	"fmt"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/pkg/outbox"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/webhook"
)

// MaxAfterSendRecipients bounds the members an after_send event looks at:
// the first ones by user id of a larger group are checked for presence
// and listed, and the event says offline_truncated (the host app pages
// the rest through its own records).
const MaxAfterSendRecipients = 1000

// beforeSendData is what the before_send endpoint is shown.
type beforeSendData struct {
	RoomID      string          `json:"room_id"`
	From        string          `json:"from"`
	ClientMsgID string          `json:"client_msg_id"`
	Kind        string          `json:"kind,omitempty"`
	Body        string          `json:"body"`
	ReplyTo     int64           `json:"reply_to,omitempty"`
	Mentions    []string        `json:"mentions,omitempty"`
	FileID      string          `json:"file_id,omitempty"`
	Data        json.RawMessage `json:"data,omitempty"`
}

// beforeSend asks the host app about in (a member's message, validated);
// a rejection answers forbidden with the app's reason and stores nothing,
// a replacement changes in.Body (checked again like a sent body).
func (s *Service) beforeSend(ctx context.Context, in *SendInput) error {
	if !s.hooks.Wants(webhook.EventBeforeSend) {
		return nil
	}
	v, err := s.hooks.BeforeSend(ctx, in.UserID+":"+in.ClientMsgID, beforeSendData{RoomID: in.RoomID, From: in.UserID,
		ClientMsgID: in.ClientMsgID, Kind: in.Kind, Body: in.Body, ReplyTo: in.ReplyTo, Mentions: in.Mentions,
		FileID: in.FileID, Data: in.Data})
	if err != nil {
		return &protocol.Error{Code: protocol.CodeUnavailable, Message: "the message check is unavailable, try again", Cause: err}
	}
	switch v.Action {
	case webhook.ActionReject:
		msg := "message rejected"
		if v.Reason != "" {
			msg += ": " + v.Reason
		}
		return protocol.Errorf(protocol.CodeForbidden, "%s", msg)
	case webhook.ActionReplace:
		body := *v.Body
		if err := (protocol.Rich{Kind: in.Kind, Body: &body, FileID: in.FileID, Data: in.Data,
			ReplyTo: optSeq(in.ReplyTo), Mentions: in.Mentions}).Validate(); err != nil {
			s.log.Warn("before_send replaced the body with one that is not valid; refused", zap.Error(err))
			return &protocol.Error{Code: protocol.CodeUnavailable, Message: "the message check is unavailable, try again",
				Cause: fmt.Errorf("%w: replacement body: %v", webhook.ErrBeforeSend, err)}
		}
		in.Body = body
	}
	return nil
}

// Offline is a recipient who was connected nowhere when a message was
// stored, with the push tokens of their live sessions (always an array,
// empty when they registered none).
type Offline struct {
	UserID     string         `json:"user_id"`
	PushTokens []PushTokenRef `json:"push_tokens"`
}

// AfterSend is the after_send event's data.
type AfterSend struct {
	Message protocol.Message `json:"message"`
	Offline []Offline        `json:"offline"`
	// OfflineTruncated: the room has more than MaxAfterSendRecipients
	// other members; only the first ones (by user id) were looked at.
	OfflineTruncated bool `json:"offline_truncated,omitempty"`
}

// afterSend writes m's after_send event to the outbox (id: the message
// id). It is called before the send is acknowledged; an error fails the
// send (unavailable), and the client's retry (same client_msg_id) comes
// back here through the duplicate path.
func (s *Service) afterSend(ctx context.Context, m *store.Message) error {
	if m.IsEvent() || m.Kind == store.KindSystem || m.Hole || !s.hooks.Wants(webhook.EventAfterSend) {
		return nil
	}
	ms, err := s.st.MembersPage(ctx, m.RoomID, "", MaxAfterSendRecipients+1)
	if err != nil {
		return storeErr("after_send: members", err)
	}
	ev := AfterSend{Message: protocol.FromStore(m), Offline: []Offline{}}
	uids := make([]string, 0, len(ms))
	for _, mem := range ms {
		if mem.UserID != m.From {
			uids = append(uids, mem.UserID)
		}
	}
	if len(ms) > MaxAfterSendRecipients {
		ev.OfflineTruncated = true
		if len(uids) > MaxAfterSendRecipients {
			uids = uids[:MaxAfterSendRecipients]
		}
	}
	online := make([]bool, len(uids))
	if s.pres != nil && len(uids) > 0 {
		if on, err := s.pres.Online(ctx, uids); err == nil && len(on) == len(uids) {
			online = on
		} else {
			// Listing an online user as offline costs one needless push;
			// the reverse would lose one: take them all as offline.
			s.log.Warn("after_send: presence unavailable; every recipient listed as offline", zap.Error(err))
		}
	}
	var off []string
	for i, u := range uids {
		if !online[i] {
			off = append(off, u)
		}
	}
	tokens, err := s.offlinePushTokens(ctx, off)
	if err != nil {
		return err
	}
	for _, u := range off {
		pt := tokens[u]
		if pt == nil {
			pt = []PushTokenRef{}
		}
		ev.Offline = append(ev.Offline, Offline{UserID: u, PushTokens: pt})
	}
	if err := s.hooks.Emit(ctx, webhook.EventAfterSend, m.ID, ev); err != nil {
		return protocol.Unavailable(fmt.Errorf("after_send: %w", err))
	}
	return nil
}

// emit writes an asynchronous event (account, friends, groups) to the
// outbox. The change it reports is done: a failure is logged, not
// returned.
func (s *Service) emit(ctx context.Context, event, id string, data any) {
	if !s.hooks.Wants(event) {
		return
	}
	if err := s.hooks.Emit(context.WithoutCancel(ctx), event, id, data); err != nil {
		s.log.Warn("webhook event not queued", zap.String("event", event), zap.String("id", id), zap.Error(err))
	}
}

// userEvent is a user as the account events show it: the public profile
// and the email (the host app's own records).
func userEvent(u *store.User) map[string]any {
	return map[string]any{"user": protocol.PublicUser(u), "email": u.Email}
}

// membersChanged emits group.members_changed: added and removed users, by
// the actor.
func (s *Service) membersChanged(ctx context.Context, roomID, by string, added, removed []string) {
	if len(added) == 0 && len(removed) == 0 {
		return
	}
	if added == nil {
		added = []string{}
	}
	if removed == nil {
		removed = []string{}
	}
	s.emit(ctx, webhook.EventGroupMembers, "group.members_changed:"+s.newID(),
		map[string]any{"group_id": roomID, "added": added, "removed": removed, "by": by})
}

// WebhookOutbox is the webhooks' outbox (nil: no webhooks), for the
// admin routes.
func (s *Service) WebhookOutbox() outbox.Outbox { return s.hooks.Outbox() }

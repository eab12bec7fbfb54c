package service

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// ChangeInput is a change to a message: an edit (Body), a recall, or a
// reaction added or removed (Emoji). ClientMsgID makes it idempotent like a
// send: the change is itself a message of the room (a change event), with
// its own seq, so sync replays it in order.
type ChangeInput struct {
	UserID, RoomID, ClientMsgID string
	Seq                         int64 // the message changed
	Body                        string
	Emoji                       string
	MemberChecked               bool
}

// A change is applied to the message first and then logged as its event.
// A change whose event could not be stored is answered with an error and
// the client retries it with the same client_msg_id: applying an edit or a
// recall again changes nothing, and the event is stored once. A reaction
// applied twice would be refused, so one whose event could not be stored
// is left applied and marked (leftoverKey, in the KV): the retry finds its
// reaction in place, recognises it as its own and stores the event. It is
// never taken back: a store that timed out may still carry out a write
// later, and a late "take back" would undo the retry's reaction after it
// was acknowledged. Likewise when writing the reaction itself answered an
// error (it may have landed), and when the event's insert did land though
// it answered an error: the retry finds the event and applies the reaction
// again, idempotently, before answering it.

// Edit replaces the body of one of the caller's messages.
func (s *Service) Edit(ctx context.Context, in ChangeInput) (*store.Message, bool, error) {
	if err := protocol.ValidBody(in.Body); err != nil {
		return nil, false, err
	}
	return s.change(ctx, in, store.KindEdit, changeOps{apply: func(ctx context.Context, target *store.Message) error {
		if target.From != in.UserID {
			return protocol.Errorf(protocol.CodeForbidden, "only its sender may edit a message")
		}
		if target.Kind != "" && target.Kind != store.KindText && target.Kind != store.KindImage && target.Kind != store.KindFile {
			return protocol.Errorf(protocol.CodeInvalidArgument, "a %s message cannot be edited", target.Kind)
		}
		err := s.st.EditMessage(ctx, in.RoomID, in.Seq, in.Body, s.nowUTC())
		if errors.Is(err, store.ErrRecalled) {
			return protocol.Errorf(protocol.CodeConflict, "the message was recalled")
		}
		return storeErr("edit", err)
	}})
}

// Recall takes back a message: its sender within the recall window, a
// group's owner at any time. Its body is deleted from storage and access to
// its files is removed.
func (s *Service) Recall(ctx context.Context, in ChangeInput) (*store.Message, bool, error) {
	return s.change(ctx, in, store.KindRecall, changeOps{apply: func(ctx context.Context, target *store.Message) error {
		if target.From != in.UserID || s.now().Sub(target.CreatedAt) > s.lim.RecallWindow {
			room, err := s.st.RoomByID(ctx, in.RoomID)
			if err != nil {
				return storeErr("recall", err)
			}
			switch {
			case room.Type == store.RoomGroup && room.Owner == in.UserID:
			case target.From == in.UserID:
				return protocol.Errorf(protocol.CodeForbidden, "the recall window (%s) has passed", s.lim.RecallWindow)
			default:
				return protocol.Errorf(protocol.CodeForbidden, "only its sender or the group's owner may recall a message")
			}
		}
		if err := s.st.RecallMessage(ctx, in.RoomID, in.Seq); err != nil {
			return storeErr("recall", err)
		}
		fs, err := s.st.FilesOfMessage(ctx, in.RoomID, in.Seq)
		if err != nil {
			return storeErr("recall", err)
		}
		for _, f := range fs {
			if err := s.st.MarkFileDeleted(ctx, f.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return storeErr("recall", err)
			}
		}
		return nil
	}})
}

// React adds (add) or removes one emoji of the caller on a message.
func (s *Service) React(ctx context.Context, in ChangeInput, add bool) (*store.Message, bool, error) {
	if err := protocol.ValidEmoji(in.Emoji); err != nil {
		return nil, false, err
	}
	kind := store.KindReact
	if !add {
		kind = store.KindUnreact
	}
	in.Body = in.Emoji
	r := &store.Reaction{RoomID: in.RoomID, Seq: in.Seq, UserID: in.UserID, Emoji: in.Emoji}
	put := func(ctx context.Context) error {
		r.CreatedAt = s.nowUTC()
		return s.st.AddReaction(ctx, r)
	}
	del := func(ctx context.Context) error {
		return s.st.RemoveReaction(ctx, in.RoomID, in.Seq, in.UserID, in.Emoji)
	}
	// Unlike an edit or a recall, a reaction applied twice is refused: one
	// whose event could not be stored stays applied and marked (see above).
	ch := changeOps{redo: func(ctx context.Context) error { return ignore(put(ctx), store.ErrDuplicate) }}
	if !add {
		ch = changeOps{redo: func(ctx context.Context) error { return ignore(del(ctx), store.ErrNotFound) }}
	}
	ch.apply = func(ctx context.Context, target *store.Message) error {
		if target.Recalled {
			return protocol.Errorf(protocol.CodeConflict, "the message was recalled")
		}
		if add {
			err := put(ctx)
			if err != nil && !errors.Is(err, store.ErrDuplicate) {
				s.markLeftover(ctx, in) // the insert may have landed all the same
			}
			if errors.Is(err, store.ErrDuplicate) && s.leftover(ctx, in) {
				err = nil // this client_msg_id's own reaction, left in place by a failed attempt
			}
			if errors.Is(err, store.ErrDuplicate) {
				return protocol.Errorf(protocol.CodeConflict, "you reacted with this emoji already")
			}
			return storeErr("react", err)
		}
		err := del(ctx)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.markLeftover(ctx, in)
		}
		if errors.Is(err, store.ErrNotFound) && s.leftover(ctx, in) {
			err = nil
		}
		if errors.Is(err, store.ErrNotFound) {
			return protocol.Errorf(protocol.CodeNotFound, "you have not reacted with this emoji")
		}
		return storeErr("react", err)
	}
	return s.change(ctx, in, kind, ch)
}

// changeOps are the steps of one change: apply it to its target message;
// for reactions also redo it idempotently (a retry found its event
// stored). A change with a redo is marked when its event is not stored.
type changeOps struct {
	apply func(context.Context, *store.Message) error
	redo  func(context.Context) error
}

func ignore(err, target error) error {
	if errors.Is(err, target) {
		return nil
	}
	return err
}

// leftoverTTL is how long a change left applied without its event is
// recognised by a retry with its client_msg_id.
const leftoverTTL = time.Hour

func leftoverKey(in ChangeInput) string {
	return "chg:{" + in.RoomID + "}:" + in.UserID + ":" + in.ClientMsgID
}

// markLeftover records that an attempt with this client_msg_id may have
// left its change applied without its event: a reaction whose event was
// not stored, or whose own write answered an error after it may have
// landed.
func (s *Service) markLeftover(ctx context.Context, in ChangeInput) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.lim.StoreTimeout)
	defer cancel()
	if err := s.kv.Set(ctx, leftoverKey(in), "1", leftoverTTL); err != nil {
		s.log.Warn("could not mark a change left applied", zap.Error(err))
	}
}

// leftover reports whether a failed attempt with this client_msg_id left
// its change applied (see change); a KV failure reads as no.
func (s *Service) leftover(ctx context.Context, in ChangeInput) bool {
	v, err := s.kv.Get(ctx, leftoverKey(in))
	return err == nil && v != ""
}

// change checks the caller and the target, applies the change and stores
// its event. A retry of a change already stored returns the first event
// (dup) without applying anything again.
func (s *Service) change(ctx context.Context, in ChangeInput, kind string, ch changeOps) (*store.Message, bool, error) {
	if err := protocol.ValidClientMsgID(in.ClientMsgID); err != nil {
		return nil, false, err
	}
	if in.Seq < 1 {
		return nil, false, invalid("seq must be the seq of a message")
	}
	if !in.MemberChecked {
		if err := s.CheckMember(ctx, in.UserID, in.RoomID); err != nil {
			return nil, false, err
		}
	}
	if kind != store.KindRecall {
		// A muted member may still take back their messages, not edit
		// or react.
		if err := s.checkMuted(ctx, in.UserID, in.RoomID); err != nil {
			return nil, false, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.lim.StoreTimeout)
	defer cancel()
	first, err := s.byClientID(ctx, SendInput{UserID: in.UserID, RoomID: in.RoomID, ClientMsgID: in.ClientMsgID})
	if err != nil || first != nil {
		if first != nil && (first.Kind != kind || first.Target != in.Seq) {
			return nil, false, protocol.Errorf(protocol.CodeConflict, "client_msg_id was already used for another message")
		}
		if first != nil && ch.redo != nil {
			if err := ch.redo(ctx); err != nil {
				return nil, false, storeErr(kind, err)
			}
		}
		return first, first != nil, err
	}
	target, err := s.st.MessageAt(ctx, in.RoomID, in.Seq)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (target.Hole || target.IsEvent())) {
		return nil, false, protocol.Errorf(protocol.CodeNotFound, "no such message")
	}
	if err != nil {
		return nil, false, storeErr(kind, err)
	}
	if err := ch.apply(ctx, target); err != nil {
		return nil, false, err
	}
	ev := &store.Message{RoomID: in.RoomID, From: in.UserID, Body: in.Body, ClientMsgID: in.ClientMsgID,
		Kind: kind, Target: in.Seq}
	m, dup, err := s.commit(ctx, in.ClientMsgID, ev, nil)
	if err != nil && ch.redo != nil {
		s.markLeftover(ctx, in)
	}
	return m, dup, err
}

// Hide deletes messages for the caller only ("delete for me"): they leave
// the caller's history and sync on every device, which are told with a
// messages_hidden event.
func (s *Service) Hide(ctx context.Context, uid, roomID string, seqs []int64) error {
	if err := protocol.ValidSeqs(seqs); err != nil {
		return err
	}
	if err := s.CheckMember(ctx, uid, roomID); err != nil {
		return err
	}
	if err := s.st.HideMessages(ctx, uid, roomID, seqs); err != nil {
		return storeErr("hide", err)
	}
	s.event(ctx, protocol.EventMessagesHidden, roomID, map[string]any{"room_id": roomID, "seqs": seqs}, uid)
	return nil
}

// Reactors lists who reacted to a message with one emoji, a page at a time
// (after: the last user id of the previous page); more tells whether a
// next page has any.
func (s *Service) Reactors(ctx context.Context, uid, roomID string, seq int64, emoji, after string, limit int) (rs []store.Reaction, more bool, err error) {
	if err := protocol.ValidEmoji(emoji); err != nil {
		return nil, false, err
	}
	if err := s.CheckMember(ctx, uid, roomID); err != nil {
		return nil, false, err
	}
	if limit <= 0 || limit > MaxPage {
		limit = MaxPage
	}
	rs, err = s.st.Reactors(ctx, roomID, seq, emoji, after, limit+1)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, protocol.Errorf(protocol.CodeInvalidArgument, "after is not a reactor of this emoji (any more): start over")
	}
	if len(rs) > limit {
		rs, more = rs[:limit], true
	}
	return rs, more, storeErr("reactors", err)
}

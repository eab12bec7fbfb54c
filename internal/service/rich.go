package service

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// richSend is what a send of a rich message learned before it was stored
// and does once it is.
type richSend struct {
	quote    *store.Message // the message replied to
	file     *store.File    // the attachment
	mentions []string       // users to flag; nil with all
	all      bool           // @all
}

func optSeq(seq int64) *int64 {
	if seq == 0 {
		return nil
	}
	return &seq
}

// Attachment is the metadata of an uploaded file: the answer to an upload,
// and what image and file messages carry (Message.Extra, the frame's
// attachment object).
type Attachment struct {
	FileID      string `json:"file_id"`
	Name        string `json:"name"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type"`
	Width       int    `json:"width,omitempty"`
	Height      int    `json:"height,omitempty"`
	Thumbnail   bool   `json:"thumbnail,omitempty"`
}

// AttachmentOf describes f.
func AttachmentOf(f *store.File) Attachment {
	return Attachment{FileID: f.ID, Name: f.Name, Size: f.Size, ContentType: f.ContentType,
		Width: f.Width, Height: f.Height, Thumbnail: f.ThumbKey != ""}
}

// prepareRich checks what a rich send refers to (the reply's message, the
// file, who may mention everyone) and fills m. It returns nil for a plain
// text message.
func (s *Service) prepareRich(ctx context.Context, in SendInput, m *store.Message) (*richSend, error) {
	if in.ReplyTo == 0 && len(in.Mentions) == 0 && in.FileID == "" && in.Data == nil {
		return nil, nil
	}
	r := &richSend{}
	if in.ReplyTo > 0 {
		q, err := s.st.MessageAt(ctx, in.RoomID, in.ReplyTo)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (q.Hole || q.IsEvent())) {
			return nil, protocol.Errorf(protocol.CodeInvalidArgument, "reply_to is not a message of this room")
		}
		if err != nil {
			return nil, storeErr("send", err)
		}
		r.quote = q
	}
	if in.Data != nil {
		m.Extra = string(in.Data)
	}
	if in.FileID != "" {
		f, err := s.st.FileByID(ctx, in.FileID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (f.RoomID != in.RoomID || f.UploaderID != in.UserID || f.Deleted)) {
			return nil, protocol.Errorf(protocol.CodeInvalidArgument, "file_id is not a file you uploaded to this room")
		}
		if err != nil {
			return nil, storeErr("send", err)
		}
		if f.MessageSeq != 0 {
			return nil, protocol.Errorf(protocol.CodeConflict, "this file was sent already; upload it again")
		}
		if in.Kind == store.KindImage && f.Width == 0 {
			return nil, protocol.Errorf(protocol.CodeInvalidArgument, "an image message needs an image file")
		}
		b, _ := json.Marshal(AttachmentOf(f))
		m.Extra, r.file = string(b), f
	}
	if len(in.Mentions) > 0 {
		ms := slices.Clone(in.Mentions)
		slices.Sort(ms)
		ms = slices.Compact(ms)
		if slices.Contains(ms, store.MentionAll) {
			room, err := s.st.RoomByID(ctx, in.RoomID)
			if err != nil {
				return nil, storeErr("send", err)
			}
			if room.Type != store.RoomGroup || room.Owner != in.UserID {
				return nil, protocol.Errorf(protocol.CodeForbidden, "only the group's owner may mention @all")
			}
			r.all = true
		}
		for _, id := range ms {
			if id != store.MentionAll && id != in.UserID {
				r.mentions = append(r.mentions, id)
			}
		}
		m.Mentions = ms
	}
	return r, nil
}

// stored does what a rich message needs once stored: its file is attached
// to it, its mentions flagged. A failure here is logged: the message is
// stored and is acknowledged (a file attached twice, a mention flag lost
// are shown as such, nothing is lost).
func (s *Service) stored(ctx context.Context, m *store.Message, r *richSend) {
	if r.file != nil {
		if err := s.st.AttachFile(ctx, r.file.ID, m.Seq); err != nil {
			s.log.Warn("attach file", zap.String("file", r.file.ID), zap.Int64("seq", m.Seq), zap.Error(err))
		}
	}
	var ids []string // nil: everyone
	if !r.all {
		if len(r.mentions) == 0 {
			return
		}
		ids = r.mentions
	}
	if err := s.st.MarkMentioned(ctx, m.RoomID, ids, m.Seq); err != nil {
		s.log.Warn("mark mentioned", zap.String("room", m.RoomID), zap.Int64("seq", m.Seq), zap.Error(err))
	}
	if r.all {
		// @all raised the sender's mark too: they have read their own
		// message.
		if err := s.st.SetReadSeq(ctx, m.RoomID, m.From, m.Seq); err != nil {
			s.log.Warn("read mark after @all", zap.String("room", m.RoomID), zap.Error(err))
		}
	}
}

// Decorate prepares a page for uid: the messages uid deleted for
// themself are dropped, replies get their quote, and with reactions the
// counts of each message's reactions (Mine for uid).
func (s *Service) Decorate(ctx context.Context, uid, roomID string, p *Page, reactions bool) error {
	if len(p.Messages) == 0 {
		return nil
	}
	first, last := p.Messages[0].Seq, p.Messages[len(p.Messages)-1].Seq
	hidden, err := s.st.HiddenSeqs(ctx, uid, roomID, first, last)
	if err != nil {
		return storeErr("history", err)
	}
	if len(hidden) > 0 {
		p.Messages = slices.DeleteFunc(p.Messages, func(m store.Message) bool {
			_, ok := slices.BinarySearch(hidden, m.Seq)
			return ok
		})
	}
	var replies, seqs []int64
	for i := range p.Messages {
		m := &p.Messages[i]
		if m.ReplyTo > 0 {
			replies = append(replies, m.ReplyTo)
		}
		if !m.IsEvent() {
			seqs = append(seqs, m.Seq)
		}
	}
	if len(replies) > 0 {
		slices.Sort(replies)
		qs, err := s.st.MessagesAt(ctx, roomID, slices.Compact(replies))
		if err != nil {
			return storeErr("history", err)
		}
		p.Quotes = make(map[int64]*store.Message, len(qs))
		for i := range qs {
			p.Quotes[qs[i].Seq] = &qs[i]
		}
	}
	if reactions && len(seqs) > 0 {
		if p.Reactions, err = s.st.ReactionCounts(ctx, roomID, seqs, uid); err != nil {
			return storeErr("history", err)
		}
	}
	return nil
}

// Wire is the page's message i as clients see it, with its quote and its
// reactions when Decorate found them.
func (p *Page) Wire(i int) protocol.Message {
	m := &p.Messages[i]
	out := protocol.FromStore(m)
	if q := p.Quotes[m.ReplyTo]; q != nil && m.ReplyTo > 0 {
		out.Reply = protocol.QuoteOf(q)
	}
	for _, c := range p.Reactions[m.Seq] {
		out.Reactions = append(out.Reactions, protocol.Reaction{Emoji: c.Emoji, Count: c.Count, Mine: c.Mine})
	}
	return out
}

// systemMessage writes a message of kind system to a room, from actor (who
// did what it tells), with details (a JSON object: event, by, users) and
// a short text for clients that do not know the kind. It is best effort:
// the change it tells about is done, so a failure is logged only.
func (s *Service) systemMessage(ctx context.Context, roomID, actor, event, text string, users []string) {
	extra, _ := json.Marshal(map[string]any{"event": event, "by": actor, "users": users})
	s.systemMessageExtra(ctx, roomID, actor, event, text, string(extra))
}

// systemMessageExtra writes a system message whose details are extra (a
// JSON object).
func (s *Service) systemMessageExtra(ctx context.Context, roomID, actor, event, text, extra string) {
	// The client_msg_id is stored too: an empty one takes part in the
	// unique (room, sender, client_msg_id) rule like any other, so a second
	// system message of the same actor would collide with the first.
	m := &store.Message{RoomID: roomID, From: actor, Body: text, Kind: store.KindSystem, Extra: extra,
		ClientMsgID: "sys-" + s.newID()}
	if _, _, err := s.commit(ctx, m.ClientMsgID, m, nil); err != nil {
		s.log.Warn("system message", zap.String("room", roomID), zap.String("event", event), zap.Error(err))
	}
}

package protocol

import (
	"bytes"
	"encoding/json"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// Limits of rich messages.
const (
	QuoteRunes   = 100  // characters of a quoted body
	MaxMentions  = 50   // user ids in one message
	MaxDataBytes = 4096 // a custom message's data object
	MaxEmojiLen  = 32   // bytes of one emoji (sequences included)
	MaxHideSeqs  = 100  // seqs in one hide
)

// Rich is the part of a send (frame or REST body) beyond the v1 fields.
type Rich struct {
	Kind     string
	Body     *string
	FileID   string
	Data     json.RawMessage
	ReplyTo  *int64
	Mentions []string
}

func (in *Inbound) validateRich() error {
	return Rich{Kind: in.Kind, Body: in.Body, FileID: in.FileID, Data: in.Data,
		ReplyTo: in.ReplyTo, Mentions: in.Mentions}.Validate()
}

// Validate checks a send's kind and the fields that go with it: text needs
// a body; image and file a file_id (the body is an optional caption);
// custom a data object (the body is an optional text for clients that do
// not know it). System messages are the server's.
func (r Rich) Validate() error {
	switch r.Kind {
	case "", store.KindText:
		if r.FileID != "" || r.Data != nil {
			return Errorf(CodeInvalidArgument, "a text message has no file_id or data")
		}
		if r.Body == nil {
			return Errorf(CodeInvalidArgument, "body is required")
		}
		if err := ValidBody(*r.Body); err != nil {
			return err
		}
	case store.KindImage, store.KindFile:
		if r.Data != nil {
			return Errorf(CodeInvalidArgument, "an %s message has no data", r.Kind)
		}
		if err := ValidID("file_id", r.FileID); err != nil {
			return err
		}
		if err := validCaption(r.Body); err != nil {
			return err
		}
	case store.KindCustom:
		if r.FileID != "" {
			return Errorf(CodeInvalidArgument, "a custom message has no file_id")
		}
		if err := ValidData(r.Data); err != nil {
			return err
		}
		if err := validCaption(r.Body); err != nil {
			return err
		}
	case store.KindSystem:
		return Errorf(CodeInvalidArgument, "system messages are written by the server")
	default:
		return Errorf(CodeInvalidArgument, "unknown kind; one of text, image, file, custom")
	}
	if r.ReplyTo != nil && *r.ReplyTo < 0 {
		return Errorf(CodeInvalidArgument, "reply_to must be the seq of a message (0: none)")
	}
	return ValidMentions(r.Mentions)
}

// validCaption accepts no body, an empty one, or a valid one.
func validCaption(b *string) error {
	if b == nil || *b == "" {
		return nil
	}
	return ValidBody(*b)
}

// ValidData checks a custom message's data: a JSON object of at most
// MaxDataBytes.
func ValidData(d json.RawMessage) error {
	if len(d) > MaxDataBytes {
		return &Error{Code: CodePayloadTooLarge, Message: "data is larger than 4096 bytes"}
	}
	t := bytes.TrimSpace(d)
	if len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return Errorf(CodeInvalidArgument, "data must be a JSON object")
	}
	return nil
}

// ValidMentions checks mentions: at most MaxMentions user ids, or "@all".
func ValidMentions(ms []string) error {
	if len(ms) > MaxMentions {
		return Errorf(CodeInvalidArgument, "at most %d mentions", MaxMentions)
	}
	for _, m := range ms {
		if m == store.MentionAll {
			continue
		}
		if err := ValidID("mentions", m); err != nil {
			return err
		}
	}
	return nil
}

// ValidEmoji accepts one emoji: a single grapheme cluster (skin tones,
// ZWJ sequences and flags included) that starts with a pictographic
// symbol, or a keycap sequence (1️⃣).
func ValidEmoji(e string) error {
	bad := Errorf(CodeInvalidArgument, "emoji must be a single emoji")
	if e == "" || len(e) > MaxEmojiLen || !utf8.ValidString(e) || uniseg.GraphemeClusterCount(e) != 1 {
		return bad
	}
	r, _ := utf8.DecodeRuneInString(e)
	switch {
	case unicode.Is(unicode.So, r):
		return nil
	case (r >= '0' && r <= '9' || r == '#' || r == '*') && len(e) > 1 && containsRune(e, 0x20E3):
		return nil // keycap
	}
	return bad
}

func containsRune(s string, r rune) bool {
	for _, c := range s {
		if c == r {
			return true
		}
	}
	return false
}

func (in *Inbound) validateChange(only func(...string) error) error {
	var err error
	switch in.Type {
	case TypeEdit:
		err = only("room_id", "seq", "body", "client_msg_id")
	case TypeRecall:
		err = only("room_id", "seq", "client_msg_id")
	case TypeReact, TypeUnreact:
		err = only("room_id", "seq", "emoji", "client_msg_id")
	case TypeHide:
		err = only("room_id", "seqs")
	}
	if err != nil {
		return err
	}
	if err := ValidID("room_id", in.RoomID); err != nil {
		return err
	}
	if in.Type == TypeHide {
		return ValidSeqs(in.Seqs)
	}
	if err := ValidClientMsgID(in.ClientMsgID); err != nil {
		return err
	}
	if in.Seq == nil || *in.Seq < 1 {
		return Errorf(CodeInvalidArgument, "seq is required: the seq of the message to change")
	}
	switch in.Type {
	case TypeEdit:
		if in.Body == nil {
			return Errorf(CodeInvalidArgument, "body is required")
		}
		return ValidBody(*in.Body)
	case TypeReact, TypeUnreact:
		return ValidEmoji(in.Emoji)
	}
	return nil
}

// ValidSeqs checks the seqs of a hide: 1 to MaxHideSeqs seqs, each ≥ 1.
func ValidSeqs(seqs []int64) error {
	if len(seqs) == 0 || len(seqs) > MaxHideSeqs {
		return Errorf(CodeInvalidArgument, "seqs must hold 1 to %d seqs", MaxHideSeqs)
	}
	for _, s := range seqs {
		if s < 1 {
			return Errorf(CodeInvalidArgument, "seqs must be seqs of messages")
		}
	}
	return nil
}

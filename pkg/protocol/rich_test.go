package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// errCode is the contract code of err, "" for nil.
func errCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if !errors.As(err, &e) {
		return fmt.Sprintf("not an *Error: %v", err)
	}
	return e.Code
}

func TestValidEmoji(t *testing.T) {
	for _, e := range []string{
		"👍",             // one pictograph
		"❤️",            // with a variation selector
		"👍🏽",            // with a skin tone
		"👨‍👩‍👧",         // a ZWJ sequence
		"🇫🇷",            // a flag (two regional indicators)
		"1️⃣",           // a keycap
		"#️⃣", "🎉", "☕", // keycap #, and single symbols
	} {
		if err := ValidEmoji(e); err != nil {
			t.Errorf("%q (% x) refused: %v", e, e, err)
		}
	}
	for _, e := range []string{
		"", "a", "ab", "1", "#", "👍👍", "👍 ", " 👍", "\u200d", "\ufe0f", "\u20e3",
		strings.Repeat("👍", 10),                 // 40 bytes, and ten emoji
		"👨‍👩‍👧‍👦" + strings.Repeat("\ufe0f", 4), // one cluster, but over MaxEmojiLen bytes
		"\xff", "👍\xff",
	} {
		if err := ValidEmoji(e); errCode(err) != CodeInvalidArgument {
			t.Errorf("%q (%d bytes) accepted or wrong code: %v", e, len(e), err)
		}
	}
	if n := len(strings.Repeat("👍", 10)); n != 40 {
		t.Fatalf("the 40-byte case has %d bytes", n)
	}
}

func TestRichValidate(t *testing.T) {
	str := func(s string) *string { return &s }
	seq := func(n int64) *int64 { return &n }
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("u%d", i)
		}
		return out
	}
	long := str(strings.Repeat("é", MaxBodyRunes+1))
	obj := json.RawMessage(`{"lat":52.5,"lng":13.4}`)
	big := json.RawMessage(`{"pad":"` + strings.Repeat("x", MaxDataBytes) + `"}`)
	cases := []struct {
		name string
		r    Rich
		code string // "" for valid
	}{
		{"text", Rich{Body: str("hi")}, ""},
		{"text by name", Rich{Kind: store.KindText, Body: str("hi")}, ""},
		{"text without body", Rich{}, CodeInvalidArgument},
		{"text with empty body", Rich{Body: str("")}, CodeInvalidArgument},
		{"text too long", Rich{Body: long}, CodePayloadTooLarge},
		{"text invalid UTF-8", Rich{Body: str("\xff")}, CodeInvalidArgument},
		{"text with file_id", Rich{Body: str("hi"), FileID: "f1"}, CodeInvalidArgument},
		{"text with data", Rich{Body: str("hi"), Data: obj}, CodeInvalidArgument},

		{"image", Rich{Kind: store.KindImage, FileID: "f1"}, ""},
		{"image with caption", Rich{Kind: store.KindImage, FileID: "f1", Body: str("the beach")}, ""},
		{"image with empty caption", Rich{Kind: store.KindImage, FileID: "f1", Body: str("")}, ""},
		{"image caption too long", Rich{Kind: store.KindImage, FileID: "f1", Body: long}, CodePayloadTooLarge},
		{"image without file_id", Rich{Kind: store.KindImage, Body: str("x")}, CodeInvalidArgument},
		{"image bad file_id", Rich{Kind: store.KindImage, FileID: "../f"}, CodeInvalidArgument},
		{"image with data", Rich{Kind: store.KindImage, FileID: "f1", Data: obj}, CodeInvalidArgument},
		{"file", Rich{Kind: store.KindFile, FileID: "f1"}, ""},
		{"file without file_id", Rich{Kind: store.KindFile}, CodeInvalidArgument},

		{"custom", Rich{Kind: store.KindCustom, Data: obj}, ""},
		{"custom with text", Rich{Kind: store.KindCustom, Data: obj, Body: str("a place")}, ""},
		{"custom with spaces around", Rich{Kind: store.KindCustom, Data: json.RawMessage(" {} ")}, ""},
		{"custom without data", Rich{Kind: store.KindCustom}, CodeInvalidArgument},
		{"custom array", Rich{Kind: store.KindCustom, Data: json.RawMessage(`[1]`)}, CodeInvalidArgument},
		{"custom string", Rich{Kind: store.KindCustom, Data: json.RawMessage(`"x"`)}, CodeInvalidArgument},
		{"custom null", Rich{Kind: store.KindCustom, Data: json.RawMessage(`null`)}, CodeInvalidArgument},
		{"custom broken", Rich{Kind: store.KindCustom, Data: json.RawMessage(`{"a":`)}, CodeInvalidArgument},
		{"custom too large", Rich{Kind: store.KindCustom, Data: big}, CodePayloadTooLarge},
		{"custom with file_id", Rich{Kind: store.KindCustom, Data: obj, FileID: "f1"}, CodeInvalidArgument},

		{"system", Rich{Kind: store.KindSystem, Body: str("x")}, CodeInvalidArgument},
		{"a change kind", Rich{Kind: store.KindEdit, Body: str("x")}, CodeInvalidArgument},
		{"unknown kind", Rich{Kind: "sticker", Body: str("x")}, CodeInvalidArgument},

		{"reply", Rich{Body: str("hi"), ReplyTo: seq(5)}, ""},
		{"reply to -1", Rich{Body: str("hi"), ReplyTo: seq(-1)}, CodeInvalidArgument},
		{"reply to 0 is none", Rich{Body: str("hi"), ReplyTo: seq(0)}, ""},

		{"mentions", Rich{Body: str("hi"), Mentions: []string{"u1", store.MentionAll}}, ""},
		{"mentions at the limit", Rich{Body: str("hi"), Mentions: ids(MaxMentions)}, ""},
		{"too many mentions", Rich{Body: str("hi"), Mentions: ids(MaxMentions + 1)}, CodeInvalidArgument},
		{"mention not an id", Rich{Body: str("hi"), Mentions: []string{"@bob"}}, CodeInvalidArgument},
		{"empty mention", Rich{Body: str("hi"), Mentions: []string{""}}, CodeInvalidArgument},
	}
	for _, c := range cases {
		if got := errCode(c.r.Validate()); got != c.code {
			t.Errorf("%s: code %q, want %q", c.name, got, c.code)
		}
	}
}

func TestValidSeqs(t *testing.T) {
	many := make([]int64, MaxHideSeqs+1)
	for i := range many {
		many[i] = int64(i + 1)
	}
	for _, ok := range [][]int64{{1}, {3, 1, 2}, many[:MaxHideSeqs]} {
		if err := ValidSeqs(ok); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	for _, bad := range [][]int64{nil, {}, {0}, {1, -2}, many} {
		if errCode(ValidSeqs(bad)) != CodeInvalidArgument {
			t.Errorf("%d seqs %.5v accepted", len(bad), bad)
		}
	}
}

// The change frames and the rich send decode with their own fields only.
func TestDecodeRichFrames(t *testing.T) {
	const room = `"room_id":"01ARZ3NDEKTSV4RRFFQ69G5FAV"`
	ok := []string{
		`{"type":"send",` + room + `,"body":"hi","client_msg_id":"c","kind":"text","reply_to":3,"mentions":["u1","@all"]}`,
		`{"type":"send",` + room + `,"client_msg_id":"c","kind":"image","file_id":"F1"}`,
		`{"type":"send",` + room + `,"client_msg_id":"c","kind":"file","file_id":"F1","body":"the report"}`,
		`{"type":"send",` + room + `,"client_msg_id":"c","kind":"custom","data":{"lat":52.5}}`,
		`{"type":"edit",` + room + `,"seq":3,"body":"fixed","client_msg_id":"c"}`,
		`{"type":"recall",` + room + `,"seq":3,"client_msg_id":"c"}`,
		`{"type":"react",` + room + `,"seq":3,"emoji":"👍","client_msg_id":"c"}`,
		`{"type":"unreact",` + room + `,"seq":3,"emoji":"👍🏽","client_msg_id":"c"}`,
		`{"type":"hide",` + room + `,"seqs":[3,4]}`,
	}
	for _, s := range ok {
		in, err := Decode([]byte(s))
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if in.Type != TypeSend && in.Type != TypeHide && (in.Seq == nil || *in.Seq != 3) {
			t.Errorf("%s: seq %v", s, in.Seq)
		}
	}
	in, _ := Decode([]byte(`{"type":"react",` + room + `,"seq":3,"emoji":"🇫🇷","client_msg_id":"c"}`))
	if in.Emoji != "🇫🇷" || in.ClientMsgID != "c" {
		t.Errorf("react decoded as %+v", in)
	}
	in, _ = Decode([]byte(`{"type":"hide",` + room + `,"seqs":[3,4]}`))
	if len(in.Seqs) != 2 || in.Seqs[1] != 4 {
		t.Errorf("hide decoded as %+v", in)
	}

	seqs := strings.TrimSuffix(strings.Repeat("1,", MaxHideSeqs+1), ",")
	bad := map[string]string{
		// send
		`{"type":"send",` + room + `,"body":"hi","client_msg_id":"c","reply_to":-1}`:                                                CodeInvalidArgument,
		`{"type":"send",` + room + `,"body":"hi","client_msg_id":"c","kind":"system"}`:                                              CodeInvalidArgument,
		`{"type":"send",` + room + `,"client_msg_id":"c","kind":"image"}`:                                                           CodeInvalidArgument,
		`{"type":"send",` + room + `,"client_msg_id":"c","kind":"custom","data":[1]}`:                                               CodeInvalidArgument,
		`{"type":"send",` + room + `,"body":"hi","client_msg_id":"c","seqs":[1]}`:                                                   CodeInvalidArgument,
		`{"type":"send",` + room + `,"body":"hi","client_msg_id":"c","emoji":"👍"}`:                                                  CodeInvalidArgument,
		`{"type":"send",` + room + `,"body":"hi","client_msg_id":"c","seq":1}`:                                                      CodeInvalidArgument,
		`{"type":"send",` + room + `,"body":"hi","client_msg_id":"c","mentions":"u1"}`:                                              CodeInvalidArgument,
		`{"type":"send",` + room + `,"body":"hi","client_msg_id":"c","reply_to":"3"}`:                                               CodeInvalidArgument,
		`{"type":"send",` + room + `,"client_msg_id":"c","kind":"custom","data":{"p":"` + strings.Repeat("x", MaxDataBytes) + `"}}`: CodePayloadTooLarge,
		// edit
		`{"type":"edit",` + room + `,"seq":3,"client_msg_id":"c"}`:                                                      CodeInvalidArgument,
		`{"type":"edit",` + room + `,"seq":3,"body":"","client_msg_id":"c"}`:                                            CodeInvalidArgument,
		`{"type":"edit",` + room + `,"seq":3,"body":"` + strings.Repeat("é", MaxBodyRunes+1) + `","client_msg_id":"c"}`: CodePayloadTooLarge,
		`{"type":"edit",` + room + `,"body":"x","client_msg_id":"c"}`:                                                   CodeInvalidArgument,
		`{"type":"edit",` + room + `,"seq":0,"body":"x","client_msg_id":"c"}`:                                           CodeInvalidArgument,
		`{"type":"edit",` + room + `,"seq":3,"body":"x"}`:                                                               CodeInvalidArgument,
		`{"type":"edit","seq":3,"body":"x","client_msg_id":"c"}`:                                                        CodeInvalidArgument,
		`{"type":"edit",` + room + `,"seq":3,"body":"x","client_msg_id":"c","emoji":"👍"}`:                               CodeInvalidArgument,
		`{"type":"edit",` + room + `,"seq":3,"body":"x","client_msg_id":"c","kind":"text"}`:                             CodeInvalidArgument,
		`{"type":"edit",` + room + `,"seq":3,"body":"x","client_msg_id":"c","mentions":["u1"]}`:                         CodeInvalidArgument,
		// recall
		`{"type":"recall",` + room + `,"seq":3}`:                                CodeInvalidArgument,
		`{"type":"recall",` + room + `,"client_msg_id":"c"}`:                    CodeInvalidArgument,
		`{"type":"recall",` + room + `,"seq":-3,"client_msg_id":"c"}`:           CodeInvalidArgument,
		`{"type":"recall",` + room + `,"seq":3,"client_msg_id":"c","body":"x"}`: CodeInvalidArgument,
		// react, unreact
		`{"type":"react",` + room + `,"seq":3,"client_msg_id":"c"}`:                        CodeInvalidArgument,
		`{"type":"react",` + room + `,"seq":3,"emoji":"ab","client_msg_id":"c"}`:           CodeInvalidArgument,
		`{"type":"react",` + room + `,"seq":3,"emoji":"👍👍","client_msg_id":"c"}`:           CodeInvalidArgument,
		`{"type":"react",` + room + `,"seq":3,"emoji":"👍","client_msg_id":"c","body":"x"}`: CodeInvalidArgument,
		`{"type":"react",` + room + `,"emoji":"👍","client_msg_id":"c"}`:                    CodeInvalidArgument,
		`{"type":"unreact",` + room + `,"seq":3,"emoji":"","client_msg_id":"c"}`:           CodeInvalidArgument,
		`{"type":"unreact",` + room + `,"seq":3,"emoji":"👍"}`:                              CodeInvalidArgument,
		// hide
		`{"type":"hide",` + room + `}`:                                CodeInvalidArgument,
		`{"type":"hide",` + room + `,"seqs":[]}`:                      CodeInvalidArgument,
		`{"type":"hide",` + room + `,"seqs":[0]}`:                     CodeInvalidArgument,
		`{"type":"hide",` + room + `,"seqs":[` + seqs + `]}`:          CodeInvalidArgument,
		`{"type":"hide","seqs":[1]}`:                                  CodeInvalidArgument,
		`{"type":"hide",` + room + `,"seqs":[1],"client_msg_id":"c"}`: CodeInvalidArgument,
		`{"type":"hide",` + room + `,"seqs":[1],"seq":1}`:             CodeInvalidArgument,
		// the new fields stay out of the other frames
		`{"type":"read",` + room + `,"seq":1,"seqs":[1]}`: CodeInvalidArgument,
		`{"type":"ping","emoji":"👍"}`:                     CodeInvalidArgument,
		`{"type":"sync","rooms":{},"kind":"text"}`:        CodeInvalidArgument,
	}
	for s, code := range bad {
		if _, err := Decode([]byte(s)); errCode(err) != code {
			t.Errorf("%.100s: got %v, want %s", s, err, code)
		}
	}
	// A refused change keeps its client_msg_id, for the error frame.
	in, err := Decode([]byte(`{"type":"react",` + room + `,"seq":3,"emoji":"ab","client_msg_id":"keep"}`))
	if err == nil || in.ClientMsgID != "keep" {
		t.Errorf("client_msg_id of a refused change: %+v %v", in, err)
	}
}

func TestFromStoreRich(t *testing.T) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	base := store.Message{ID: "m", RoomID: "r", Seq: 9, From: "u", ClientMsgID: "c", CreatedAt: at}
	with := func(f func(m *store.Message)) *store.Message {
		m := base
		f(&m)
		return &m
	}

	if got := FromStore(with(func(m *store.Message) { m.Body = "hi" })); got.Kind != store.KindText || got.Attachment != nil || got.EditedAt != nil {
		t.Errorf("a message without a kind: %+v", got)
	}
	img := FromStore(with(func(m *store.Message) {
		m.Kind, m.Extra, m.Body, m.EditedAt = store.KindImage, `{"file_id":"F"}`, "caption", at.Add(time.Minute)
	}))
	if string(img.Attachment) != `{"file_id":"F"}` || img.Data != nil || img.EditedAt == nil || !img.EditedAt.Equal(at.Add(time.Minute)) {
		t.Errorf("image: %+v", img)
	}
	custom := FromStore(with(func(m *store.Message) { m.Kind, m.Extra = store.KindCustom, `{"a":1}` }))
	if string(custom.Data) != `{"a":1}` || custom.Attachment != nil {
		t.Errorf("custom: %+v", custom)
	}
	react := FromStore(with(func(m *store.Message) { m.Kind, m.Body, m.Target = store.KindReact, "👍", 4 }))
	if react.Kind != store.KindReact || react.Emoji != "👍" || react.Target != 4 {
		t.Errorf("react event: %+v", react)
	}
	edit := FromStore(with(func(m *store.Message) { m.Kind, m.Body, m.Target = store.KindEdit, "new text", 4 }))
	if edit.Emoji != "" || edit.Body != "new text" || edit.Target != 4 {
		t.Errorf("edit event: %+v", edit)
	}

	// A v1 client sees its fields and, besides, kind (always) and nothing
	// else for a plain text message.
	b, err := json.Marshal(FromStore(with(func(m *store.Message) { m.Body = "hi" })))
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]json.RawMessage
	_ = json.Unmarshal(b, &keys)
	if len(keys) != 8 || string(keys["kind"]) != `"text"` {
		t.Errorf("a plain text message encodes as %s", b)
	}

	long := strings.Repeat("é", QuoteRunes+20)
	q := QuoteOf(with(func(m *store.Message) { m.Body = long }))
	if utf8.RuneCountInString(q.Body) != QuoteRunes+1 || !strings.HasSuffix(q.Body, "…") || q.Kind != store.KindText || q.Seq != 9 {
		t.Errorf("quote of a long body: %d runes %+v", utf8.RuneCountInString(q.Body), q)
	}
	if q := QuoteOf(with(func(m *store.Message) { m.Body = "short" })); q.Body != "short" {
		t.Errorf("quote of a short body: %+v", q)
	}
}

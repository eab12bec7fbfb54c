package protocol

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	ok := []string{
		`{"type":"send","room_id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","body":"hi","client_msg_id":"c-1"}`,
		`{"type":"sync","rooms":{"r1":0,"r2":17}}`,
		`{"type":"sync","rooms":{}}`,
		`{"type":"read","room_id":"r1","seq":3}`,
		`{"type":"ping"}`,
		`{"type":"refresh","access_token":"a.b.c"}`,
	}
	for _, s := range ok {
		if _, err := Decode([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := map[string]string{
		`{"type":"send","room_id":"r","body":"x","client_msg_id":"c","x":1}`:                                     CodeInvalidArgument,
		`{"type":"send","room_id":"r","client_msg_id":"c"}`:                                                      CodeInvalidArgument,
		`{"type":"send","room_id":"r","body":"","client_msg_id":"c"}`:                                            CodeInvalidArgument,
		`{"type":"send","room_id":"r/../x","body":"x","client_msg_id":"c"}`:                                      CodeInvalidArgument,
		`{"type":"send","room_id":"r","body":"x","client_msg_id":""}`:                                            CodeInvalidArgument,
		`{"type":"send","room_id":"r","body":"x","client_msg_id":"a b"}`:                                         CodeInvalidArgument,
		`{"type":"send","room_id":"r","body":"` + strings.Repeat("é", MaxBodyRunes+1) + `","client_msg_id":"c"}`: CodePayloadTooLarge,
		`{"type":"read","room_id":"r"}`:                                                                          CodeInvalidArgument,
		`{"type":"read","room_id":"r","seq":-1}`:                                                                 CodeInvalidArgument,
		`{"type":"ping","room_id":"r"}`:                                                                          CodeInvalidArgument,
		`{"type":"sync","rooms":{"r":-1}}`:                                                                       CodeInvalidArgument,
		`{"type":"refresh"}`:                                                                                     CodeInvalidArgument,
		`{"type":"nope"}`:                                                                                        CodeInvalidArgument,
		`{}`:                                                                                                     CodeInvalidArgument,
		`{"type":5}`:                                                                                             CodeInvalidArgument,
		`[1]`:                                                                                                    CodeInvalidArgument,
		`{"type":"send","room_id":"r","body":"x","client_msg_id":"c","room_id":5}`:                               CodeInvalidArgument,
	}
	for s, code := range bad {
		_, err := Decode([]byte(s))
		var e *Error
		if !errors.As(err, &e) || e.Code != code {
			t.Errorf("%.80s: got %v, want %s", s, err, code)
		}
	}
	for _, s := range []string{`{"type":`, `nope`, `{"type":"ping"} {}`, "", "\xff"} {
		if _, err := Decode([]byte(s)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: got %v, want ErrMalformed", s, err)
		}
	}
	in, err := Decode([]byte(`{"type":"send","room_id":"r","body":"x","client_msg_id":"keep","bad":1}`))
	if err == nil || in.ClientMsgID != "keep" {
		t.Errorf("client_msg_id not kept on error: %+v %v", in, err)
	}
}

func TestSyncRoomLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"type":"sync","rooms":{`)
	for i := 0; i <= MaxSyncRooms; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"r` + strings.Repeat("x", 3) + itoa(i) + `":0`)
	}
	b.WriteString(`}}`)
	if _, err := Decode([]byte(b.String())); err == nil {
		t.Fatal("sync with too many rooms accepted")
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var d []byte
	for ; i > 0; i /= 10 {
		d = append([]byte{byte('0' + i%10)}, d...)
	}
	return string(d)
}

func TestEncodeDecodeOutbound(t *testing.T) {
	m := Message{ID: "id", RoomID: "r", Seq: 7, From: "u", Body: "héllo \"q\"", ClientMsgID: "c", CreatedAt: time.Unix(1, 0).UTC()}
	for _, f := range [][]byte{EncodeAck(m), EncodeMessage(m)} {
		o, err := DecodeOutbound(f)
		if err != nil || o.Message == nil || !reflect.DeepEqual(*o.Message, m) {
			t.Fatalf("%s: %+v %v", f, o, err)
		}
	}
	o, err := DecodeOutbound(EncodeError(Errorf(CodeForbidden, "no"), "c9"))
	if err != nil || o.Type != TypeError || o.Code != CodeForbidden || o.ErrMessage != "no" || o.ClientMsgID != "c9" {
		t.Fatalf("error frame: %+v %v", o, err)
	}
	o, _ = DecodeOutbound(EncodeSynced("r", 9, true))
	if o.RoomID != "r" || o.LastSeq != 9 || !o.More {
		t.Fatalf("synced: %+v", o)
	}
	o, _ = DecodeOutbound(EncodeHello("u", "n", 30))
	if o.UserID != "u" || o.Node != "n" || o.HeartbeatS != 30 {
		t.Fatalf("hello: %+v", o)
	}
}

func TestEnvelope(t *testing.T) {
	for _, e := range []Envelope{
		{Kind: 'm', RoomID: "room1", Seq: 42, Frame: []byte(`{"type":"message"}`)},
		{Kind: 'm', RoomID: "room1", Seq: 43, Published: 1795600000123456, Frame: []byte(`{}`)},
		{Kind: 'e', RoomID: "room1", Event: EventGroupJoined, Frame: []byte(`{"a":"b\nc"}`)},
		{Kind: 'e', Event: EventFriendRequest, Frame: []byte(`{}`)},
		{Kind: 'h', RoomID: "room1", Seq: 44},
		{Kind: 'u', UserID: "user1", RoomID: "room1", Event: EventGroupJoined, Frame: []byte(`{"a":"b"}`)},
		{Kind: 'u', UserID: "user2", Event: EventSessionRevoked, Frame: []byte(`{}`)},
	} {
		got, err := ParseEnvelope(e.Marshal())
		if err != nil || got.Kind != e.Kind || got.UserID != e.UserID || got.RoomID != e.RoomID || got.Seq != e.Seq || got.Event != e.Event ||
			got.Published != e.Published || !bytes.Equal(got.Frame, e.Frame) {
			t.Fatalf("%+v -> %+v %v", e, got, err)
		}
	}
	for _, s := range []string{"", "m", "m r\n", "m r x\n{}", "m r 0\n{}", "x r 1\n{}", "mm r 1\n{}", "m r 1 x\n{}", "m r 1 -5\n{}", "h r 0\n", "h r 1\n{}", "h r 1 5\n",
		"u\n{}", "u \n{}", "u user1\n{}", "u  r ev\n{}", "u user1 r\n{}", "ux user1 r ev\n{}"} {
		if _, err := ParseEnvelope([]byte(s)); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"send","room_id":"r","body":"hi","client_msg_id":"c"}`,
		`{"type":"sync","rooms":{"a":1}}`, `{"type":"read","room_id":"r","seq":1}`,
		`{"type":"ping"}`, `{"type":"refresh","access_token":"x"}`, `{`, `[]`, `null`, `"x"`,
		`{"type":"send","room_id":"r","client_msg_id":"c","kind":"custom","data":{"a":1},"reply_to":2,"mentions":["u"]}`,
		`{"type":"edit","room_id":"r","seq":1,"body":"x","client_msg_id":"c"}`,
		`{"type":"react","room_id":"r","seq":1,"emoji":"👍","client_msg_id":"c"}`,
		`{"type":"hide","room_id":"r","seqs":[1,2]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := Decode(b)
		if err == nil {
			// A frame that decodes is valid: its required fields are set.
			switch in.Type {
			case TypeSend:
				text := in.Kind == "" || in.Kind == "text"
				if in.RoomID == "" || in.ClientMsgID == "" || text && in.Body == nil ||
					!text && in.FileID == "" && in.Data == nil {
					t.Fatalf("send accepted without fields: %q", b)
				}
			case TypeRead:
				if in.Seq == nil {
					t.Fatalf("read accepted without seq: %q", b)
				}
			case TypeEdit, TypeRecall, TypeReact, TypeUnreact:
				if in.Seq == nil || *in.Seq < 1 || in.RoomID == "" || in.ClientMsgID == "" {
					t.Fatalf("%s accepted without its fields: %q", in.Type, b)
				}
				if (in.Type == TypeEdit) != (in.Body != nil) || (in.Type == TypeReact || in.Type == TypeUnreact) != (in.Emoji != "") {
					t.Fatalf("%s accepted with the wrong fields: %q", in.Type, b)
				}
			case TypeHide:
				if in.RoomID == "" || len(in.Seqs) == 0 || len(in.Seqs) > MaxHideSeqs {
					t.Fatalf("hide accepted without its seqs: %q", b)
				}
			case TypeSync, TypePing, TypeRefresh:
			default:
				t.Fatalf("unknown type accepted: %q", b)
			}
			return
		}
		var e *Error
		if !errors.Is(err, ErrMalformed) && !errors.As(err, &e) {
			t.Fatalf("unexpected error kind %T: %v", err, err)
		}
	})
}

func FuzzParseEnvelope(f *testing.F) {
	f.Add([]byte("m r 1\n{}"))
	f.Add([]byte("e - friend_added\n{}"))
	f.Add([]byte("h r 7\n"))
	f.Add([]byte("u user1 - session_revoked\n{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEnvelope(b)
		if err != nil {
			return
		}
		if (e.Kind == 'm' || e.Kind == 'h') && e.Seq <= 0 {
			t.Fatalf("message envelope with seq %d", e.Seq)
		}
		if (e.Kind == 'u') != (e.UserID != "") {
			t.Fatalf("envelope kind %q with user %q", e.Kind, e.UserID)
		}
	})
}

func TestErrorFrameCarriesRetryAfter(t *testing.T) {
	e := Unavailable(errors.New("busy"))
	e.RetryAfter = 1500 * time.Millisecond
	for _, f := range [][]byte{EncodeError(e, "c1"), EncodeRoomError(e, "r1")} {
		o, err := DecodeOutbound(f)
		if err != nil || o.Code != CodeUnavailable || o.RetryAfterMS != 1500 {
			t.Fatalf("%s: %+v %v", f, o, err)
		}
	}
	if f := EncodeError(Errorf(CodeForbidden, "no"), ""); bytes.Contains(f, []byte("retry_after")) {
		t.Fatalf("an error without a retry hint: %s", f)
	}
}

func TestDecodeTyping(t *testing.T) {
	for _, s := range []string{`{"type":"typing","room_id":"r1","on":true}`, `{"type":"typing","room_id":"r1","on":false}`} {
		in, err := Decode([]byte(s))
		if err != nil || in.Type != TypeTyping || in.RoomID != "r1" || in.On == nil {
			t.Errorf("%s: %+v %v", s, in, err)
		}
	}
	if in, _ := Decode([]byte(`{"type":"typing","room_id":"r1","on":false}`)); *in.On {
		t.Error("on:false decoded as true")
	}
	for s, want := range map[string]string{
		`{"type":"typing","room_id":"r1"}`:                                       "on is required",
		`{"type":"typing","on":true}`:                                            "room_id",
		`{"type":"typing","room_id":"r/1","on":true}`:                            "room_id",
		`{"type":"typing","room_id":"r1","on":"yes"}`:                            "wrong type",
		`{"type":"typing","room_id":"r1","on":true,"body":"x"}`:                  `"body" is not allowed`,
		`{"type":"send","room_id":"r","body":"x","client_msg_id":"c","on":true}`: `"on" is not allowed`,
	} {
		_, err := Decode([]byte(s))
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeInvalidArgument || !strings.Contains(e.Message, want) {
			t.Errorf("%s: got %v, want invalid_argument mentioning %q", s, err, want)
		}
	}
}

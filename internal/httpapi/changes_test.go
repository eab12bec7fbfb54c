package httpapi_test

import (
	"testing"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// An emoji in the path is the same reaction however it is percent-encoded
// (upper- or lower-case hex), and a literal one works too.
func TestReactionEmojiEncodings(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	a, b := e.Register("ea"), e.Register("eb")
	room := e.Befriend(a, b)
	if r := e.Do("POST", "/v1/rooms/"+room+"/messages", a.Token, map[string]string{"body": "hi", "client_msg_id": "m"}); r.Status != 201 {
		t.Fatalf("send: %d %s", r.Status, r.Body)
	}
	base := "/v1/rooms/" + room + "/messages/1/reactions/"
	if r := e.Do("PUT", base+"%f0%9f%91%8d?client_msg_id=r1", b.Token, nil); r.Status != 201 {
		t.Fatalf("react, lower-case escapes: %d %s", r.Status, r.Body)
	}
	if r := e.Do("PUT", base+"%F0%9F%91%8D?client_msg_id=r2", b.Token, nil); r.Status != 409 {
		t.Fatalf("the same reaction, upper-case escapes: %d %s", r.Status, r.Body)
	}
	r := e.Do("DELETE", base+"👍?client_msg_id=r3", b.Token, nil)
	if r.Status != 201 {
		t.Fatalf("unreact, literal: %d %s", r.Status, r.Body)
	}
	var m protocol.Message
	r.JSON(t, &m)
	if m.Kind != "unreact" || m.Emoji != "👍" || m.Target != 1 {
		t.Fatalf("unreact event: %+v", m)
	}
	if r := e.Do("GET", base+"%f0%9f%91%8d", a.Token, nil); r.Status != 200 {
		t.Fatalf("reactors, lower-case escapes: %d %s", r.Status, r.Body)
	}
	if r := e.Do("GET", base+"a", a.Token, nil); r.Status != 400 || r.ErrCode() != protocol.CodeInvalidArgument {
		t.Fatalf("reactors of a letter: %d %s", r.Status, r.Body)
	}
}

package securitytest

import (
	"bytes"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/httpapi"
)

// The four callers of the authorization tables.
const (
	anonymous = iota // no token
	stranger         // a registered user with no tie to the resource
	member           // a participant: the other side of the direct room, a group member
	owner            // the group's owner, the addressee of the friend request, a party to the friendship
)

var roleNames = [...]string{"anonymous", "stranger", "member", "owner"}

// world is the cast of the authorization tables: owner and member are
// friends (room direct) and, with third, in group (owned by owner);
// stranger knows nobody.
type world struct {
	t                              *testing.T
	e                              *apitest.Env
	owner, member, stranger, third *apitest.User
	direct, group                  string
	// target is the seq of the message the current WebSocket row
	// changes (set by the row's prep).
	target int64
	// lastPush is the push token ownerPushToken registered last.
	lastPush string
}

// ownerPushToken registers a fresh fcm push token for the owner's session
// and returns it (also in lastPush).
func (w *world) ownerPushToken() string {
	w.t.Helper()
	tok := "authz-owner-" + randomHex(8)
	if r := w.e.Do("POST", "/v1/me/push-tokens", w.owner.Token, map[string]string{"platform": "fcm", "token": tok}); r.Status != 201 {
		w.t.Fatalf("register the owner's push token: %d %s", r.Status, r.Body)
	}
	w.lastPush = tok
	return tok
}

func newWorld(t *testing.T, e *apitest.Env) *world {
	w := &world{t: t, e: e}
	w.owner, w.member, w.stranger, w.third = e.Register("own"), e.Register("mem"), e.Register("str"), e.Register("thd")
	w.direct = e.Befriend(w.owner, w.member)
	e.Befriend(w.owner, w.third)
	w.group = w.newGroup()
	for _, room := range []string{w.direct, w.group} {
		if r := e.Do("POST", "/v1/rooms/"+room+"/messages", w.owner.Token, map[string]string{"body": "hello", "client_msg_id": "seed-" + randomHex(4)}); r.Status != 201 {
			t.Fatalf("seed message: %d %s", r.Status, r.Body)
		}
	}
	return w
}

// user is the user playing role (nil for anonymous).
func (w *world) user(role int) *apitest.User {
	switch role {
	case stranger:
		return w.stranger
	case member:
		return w.member
	case owner:
		return w.owner
	}
	return nil
}

func (w *world) token(role int) string {
	if u := w.user(role); u != nil {
		return u.Token
	}
	return ""
}

// newGroup makes a group of owner with member and third.
func (w *world) newGroup() string {
	w.t.Helper()
	var g struct{ Group struct{ ID string } }
	r := w.e.Do("POST", "/v1/groups", w.owner.Token, map[string]any{"name": "crew", "members": []string{w.member.Account, w.third.Account}})
	if r.Status != 201 {
		w.t.Fatalf("create group: %d %s", r.Status, r.Body)
	}
	r.JSON(w.t, &g)
	return g.Group.ID
}

// newRequest makes a pending friend request from a new user to owner.
func (w *world) newRequest() string {
	w.t.Helper()
	x := w.e.Register("req")
	r := w.e.Do("POST", "/v1/friend-requests", x.Token, map[string]string{"account": w.owner.Account})
	if r.Status != 201 {
		w.t.Fatalf("friend request: %d %s", r.Status, r.Body)
	}
	var req struct{ Request struct{ ID string } }
	r.JSON(w.t, &req)
	return req.Request.ID
}

// newFriend makes a new friend of owner and returns their account.
func (w *world) newFriend() string {
	w.t.Helper()
	f := w.e.Register("frd")
	w.e.Befriend(w.owner, f)
	return f.Account
}

// thumbsUp is 👍 as a path segment.
const thumbsUp = "%F0%9F%91%8D"

// newMessage sends a text message of u to room and returns its seq.
func (w *world) newMessage(room string, u *apitest.User) int64 {
	w.t.Helper()
	return w.send(room, u, map[string]any{"body": "to change"})
}

// send stores a message of u (fields, with a fresh client_msg_id) in room
// and returns its seq.
func (w *world) send(room string, u *apitest.User, fields map[string]any) int64 {
	w.t.Helper()
	fields["client_msg_id"] = "fx-" + randomHex(6)
	r := w.e.Do("POST", "/v1/rooms/"+room+"/messages", u.Token, fields)
	if r.Status != 201 {
		w.t.Fatalf("send %v: %d %s", fields, r.Status, r.Body)
	}
	var m struct{ Seq int64 }
	r.JSON(w.t, &m)
	return m.Seq
}

// react adds u's 👍 to the message at seq of room.
func (w *world) react(room string, seq int64, u *apitest.User) {
	w.t.Helper()
	path := "/v1/rooms/" + room + "/messages/" + strconv.FormatInt(seq, 10) + "/reactions/" + thumbsUp +
		"?client_msg_id=fx-" + randomHex(6)
	if r := w.e.Do("PUT", path, u.Token, nil); r.Status != 201 {
		w.t.Fatalf("react: %d %s", r.Status, r.Body)
	}
}

// newFile uploads data as name to room for u, sends it there as a
// message of kind (image or file), and returns the file's id.
func (w *world) newFile(room string, u *apitest.User, kind, name string, data []byte) string {
	w.t.Helper()
	r := uploadFile(w.e, u.Token, room, name, data)
	if r.Status != 201 {
		w.t.Fatalf("upload %s: %d %s", name, r.Status, r.Body)
	}
	var f struct {
		FileID string `json:"file_id"`
	}
	r.JSON(w.t, &f)
	w.send(room, u, map[string]any{"kind": kind, "file_id": f.FileID})
	return f.FileID
}

// uploadFile posts data as the part "file" (named name) of a multipart
// form to room's uploads.
func uploadFile(e *apitest.Env, token, room, name string, data []byte) apitest.Resp {
	e.T.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", name)
	if err == nil {
		_, err = fw.Write(data)
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		e.T.Fatal(err)
	}
	req, err := http.NewRequest("POST", e.URL+"/v1/rooms/"+room+"/files", &body)
	if err != nil {
		e.T.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatalf("upload: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return apitest.Resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// tinyPNG is a small PNG image.
func tinyPNG() []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 40, 30))); err != nil {
		panic(err) // encoding to memory does not fail
	}
	return b.Bytes()
}

// params are the placeholders every row may use.
func (w *world) params() map[string]string {
	return map[string]string{
		"{direct}": w.direct, "{group}": w.group,
		"{owner}": w.owner.Account, "{member}": w.member.Account,
		"{third}": w.third.Account, "{stranger}": w.stranger.Account,
	}
}

func expand(s string, params map[string]string) string {
	for k, v := range params {
		s = strings.ReplaceAll(s, k, v)
	}
	return s
}

// apiRoutes lists the API's routes as "METHOD /pattern", the way
// internal/httpapi/routes_test.go walks them.
func apiRoutes(t testing.TB, s *httpapi.Server) []string {
	var out []string
	err := chi.Walk(s.Router(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.TrimSuffix(route, "/")
		if route == "" {
			route = "/"
		}
		out = append(out, method+" "+route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// mustDo makes a request as u and fails unless it answers status.
func (w *world) mustDo(method, path string, u *apitest.User, body any, status int) apitest.Resp {
	w.t.Helper()
	r := w.e.Do(method, path, u.Token, body)
	if r.Status != status {
		w.t.Fatalf("%s %s: %d %s, want %d", method, path, r.Status, r.Body, status)
	}
	return r
}

// newInvite makes an invite link of group g (by the owner) and returns
// its id and token.
func (w *world) newInvite(g string) (id, token string) {
	w.t.Helper()
	var v struct{ Invite struct{ ID, Token string } }
	w.mustDo("POST", "/v1/groups/"+g+"/invites", w.owner, map[string]int{"max_uses": 5}, 201).JSON(w.t, &v)
	return v.Invite.ID, v.Invite.Token
}

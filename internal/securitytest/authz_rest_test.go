package securitytest

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// restCase is one row of the REST authorization table.
type restCase struct {
	route string // "METHOD /pattern" as the router names it
	name  string // the variant, when a route has several rows
	path  string // the request path, with {placeholders}
	body  func(w *world, role int) any
	// upload, when set, is sent instead of body as the part "file" of a
	// multipart form.
	upload []byte
	// prep makes fresh resources for rows whose success changes them
	// (extra placeholders: {request}, {friend}, {fresh}).
	prep func(w *world) map[string]string
	want [4]int // status for anonymous, stranger, member, owner
	// check looks at a 2xx answer further (who sees what).
	check func(t *testing.T, w *world, p map[string]string, role int, r apitest.Resp)
}

func fixed(v any) func(*world, int) any { return func(*world, int) any { return v } }

func jsonMap(t *testing.T, r apitest.Resp) map[string]any {
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// restTable is every REST route against the four callers. The public
// routes answer the same whoever asks; every other route needs a token,
// and resources are only visible or changeable by those they belong to.
func restTable() []restCase {
	all := func(s int) [4]int { return [4]int{s, s, s, s} }
	authed := func(stranger, member, owner int) [4]int { return [4]int{401, stranger, member, owner} }
	adminOnly := [4]int{401, 403, 403, 403}
	msg := func(w *world, role int) any {
		return map[string]string{"body": "from " + roleNames[role], "client_msg_id": "authz-" + randomHex(6)}
	}
	fresh := func(w *world) map[string]string { return map[string]string{"{fresh}": w.newGroup()} }
	request := func(w *world) map[string]string { return map[string]string{"{request}": w.newRequest()} }
	notContains := func(key string, roles ...int) func(*testing.T, *world, map[string]string, int, apitest.Resp) {
		return func(t *testing.T, w *world, p map[string]string, role int, r apitest.Resp) {
			id := p[key]
			has := strings.Contains(string(r.Body), id)
			should := true
			for _, x := range roles {
				if x == role {
					should = false
				}
			}
			if has != should {
				t.Errorf("%s sees %s %s: %v, want %v (%s)", roleNames[role], key, id, has, should, trunc(r.Body))
			}
		}
	}
	// A fresh message of from in room (its seq is {seq}), with the
	// reactions (👍) of the users reactors, and a fresh {cmid}.
	message := func(room func(*world) string, from func(*world) *apitest.User, reactors ...int) func(*world) map[string]string {
		return func(w *world) map[string]string {
			seq := w.newMessage(room(w), from(w))
			for _, r := range reactors {
				w.react(room(w), seq, w.user(r))
			}
			return map[string]string{"{seq}": strconv.FormatInt(seq, 10), "{cmid}": "authz-" + randomHex(6)}
		}
	}
	direct := func(w *world) string { return w.direct }
	group := func(w *world) string { return w.group }
	byOwner := func(w *world) *apitest.User { return w.owner }
	byThird := func(w *world) *apitest.User { return w.third }
	edit := func(w *world, role int) any {
		return map[string]string{"body": "edited by " + roleNames[role], "client_msg_id": "authz-" + randomHex(6)}
	}
	change := func(w *world, role int) any { return map[string]string{"client_msg_id": "authz-" + randomHex(6)} }
	note := []byte("a note for the room\n")
	isEvent := func(kind string) func(*testing.T, *world, map[string]string, int, apitest.Resp) {
		return func(t *testing.T, w *world, p map[string]string, role int, r apitest.Resp) {
			var m protocol.Message
			r.JSON(t, &m)
			if m.Kind != kind || strconv.FormatInt(m.Target, 10) != p["{seq}"] || m.From != w.user(role).ID {
				t.Errorf("%s's %s answered %s", roleNames[role], kind, trunc(r.Body))
			}
		}
	}
	download := func(want []byte, ctype string) func(*testing.T, *world, map[string]string, int, apitest.Resp) {
		return func(t *testing.T, w *world, p map[string]string, role int, r apitest.Resp) {
			if (want != nil && !bytes.Equal(r.Body, want)) || !strings.HasPrefix(r.Header.Get("Content-Type"), ctype) ||
				r.Header.Get("Content-Security-Policy") == "" {
				t.Errorf("%s downloads %d bytes, %v", roleNames[role], len(r.Body), r.Header)
			}
		}
	}
	return []restCase{
		{route: "GET /healthz", path: "/healthz", want: all(200)},
		{route: "GET /readyz", path: "/readyz", want: all(200)},
		{route: "GET /metrics", path: "/metrics", want: all(200)},
		{route: "GET /.well-known/jwks.json", path: "/.well-known/jwks.json", want: all(200),
			check: func(t *testing.T, w *world, _ map[string]string, role int, r apitest.Resp) {
				if strings.Contains(string(r.Body), `"d"`) {
					t.Errorf("JWKS publishes a private key part: %s", r.Body)
				}
			}},
		{route: "POST /v1/auth/email-code", path: "/v1/auth/email-code", want: all(202),
			body: func(*world, int) any { return map[string]string{"email": apitest.Unique("ec") + "@example.com"} }},
		{route: "POST /v1/auth/register", name: "code missing", path: "/v1/auth/register", want: all(400), body: fixed(map[string]string{})},
		{route: "POST /v1/auth/login", name: "wrong password", path: "/v1/auth/login", want: all(401),
			body: func(w *world, _ int) any {
				return map[string]string{"login": w.owner.Account, "password": "not the password"}
			}},
		{route: "POST /v1/auth/refresh", name: "unknown token", path: "/v1/auth/refresh", want: all(401),
			body: func(*world, int) any { return map[string]string{"refresh_token": "rt_" + randomHex(32)} }},
		{route: "POST /v1/auth/logout", name: "unknown token", path: "/v1/auth/logout", want: all(204),
			body: func(*world, int) any { return map[string]string{"refresh_token": "rt_" + randomHex(32)} }},

		{route: "GET /v1/me", path: "/v1/me", want: authed(200, 200, 200),
			check: func(t *testing.T, w *world, _ map[string]string, role int, r apitest.Resp) {
				if m := jsonMap(t, r); m["id"] != w.user(role).ID || m["email"] != w.user(role).Email {
					t.Errorf("%s got someone else's profile: %s", roleNames[role], r.Body)
				}
			}},
		{route: "PATCH /v1/me", path: "/v1/me", want: authed(200, 200, 200), body: fixed(map[string]string{"nickname": "Renamed"}),
			check: func(t *testing.T, w *world, _ map[string]string, role int, r apitest.Resp) {
				if m := jsonMap(t, r); m["id"] != w.user(role).ID {
					t.Errorf("%s changed someone else's profile: %s", roleNames[role], r.Body)
				}
			}},
		{route: "GET /v1/users/{account}", path: "/v1/users/{owner}", want: authed(200, 200, 200),
			check: func(t *testing.T, w *world, _ map[string]string, role int, r apitest.Resp) {
				if m := jsonMap(t, r); m["email"] != nil || m["account"] != w.owner.Account {
					t.Errorf("public user shows the email or the wrong user: %s", r.Body)
				}
			}},
		{route: "GET /v1/friends", path: "/v1/friends", want: authed(200, 200, 200), check: notContains("{direct}", stranger)},
		{route: "GET /v1/friends/{account}", path: "/v1/friends/{owner}", want: authed(200, 200, 200),
			check: func(t *testing.T, w *world, _ map[string]string, role int, r apitest.Resp) {
				m := jsonMap(t, r)
				if want := role == member; m["is_friend"] != want || (m["room_id"] != nil) != want {
					t.Errorf("%s: %s", roleNames[role], r.Body)
				}
			}},
		{route: "DELETE /v1/friends/{account}", name: "owner's friend", path: "/v1/friends/{friend}", want: authed(404, 404, 204),
			prep: func(w *world) map[string]string { return map[string]string{"{friend}": w.newFriend()} }},
		{route: "POST /v1/friend-requests", name: "to owner", path: "/v1/friend-requests", want: authed(201, 409, 400),
			body: func(w *world, _ int) any { return map[string]string{"account": w.owner.Account} }},
		{route: "GET /v1/friend-requests", path: "/v1/friend-requests", want: authed(200, 200, 200), prep: request,
			check: notContains("{request}", stranger, member)},
		{route: "POST /v1/friend-requests/{id}/accept", path: "/v1/friend-requests/{request}/accept", want: authed(403, 403, 200), prep: request},
		{route: "POST /v1/friend-requests/{id}/decline", path: "/v1/friend-requests/{request}/decline", want: authed(403, 403, 204), prep: request},
		// Blocks: each user's own; blocking a fresh friend of the owner
		// (unblocking: a block the owner made of one).
		{route: "GET /v1/blocks", path: "/v1/blocks", want: authed(200, 200, 200), prep: func(w *world) map[string]string {
			f := w.newFriend()
			w.e.Do("PUT", "/v1/blocks/"+f, w.owner.Token, nil)
			return map[string]string{"{friend}": f}
		}, check: notContains("{friend}", stranger, member)},
		{route: "PUT /v1/blocks/{account}", path: "/v1/blocks/{friend}", want: authed(200, 200, 200),
			prep: func(w *world) map[string]string { return map[string]string{"{friend}": w.newFriend()} }},
		{route: "DELETE /v1/blocks/{account}", path: "/v1/blocks/{friend}", want: authed(404, 404, 204),
			prep: func(w *world) map[string]string {
				f := w.newFriend()
				w.e.Do("PUT", "/v1/blocks/"+f, w.owner.Token, nil)
				return map[string]string{"{friend}": f}
			}},

		{route: "POST /v1/groups", name: "with member", path: "/v1/groups", want: authed(403, 201, 201),
			body: func(w *world, _ int) any {
				return map[string]any{"name": "mine", "members": []string{w.member.Account}}
			}},
		{route: "GET /v1/groups", path: "/v1/groups", want: authed(200, 200, 200), check: notContains("{group}", stranger)},
		{route: "GET /v1/groups/{id}", path: "/v1/groups/{group}", want: authed(403, 200, 200)},
		{route: "DELETE /v1/groups/{id}", name: "disband", path: "/v1/groups/{fresh}", want: authed(403, 403, 204), prep: fresh},
		{route: "POST /v1/groups/{id}/members", name: "add a friend", path: "/v1/groups/{group}/members", want: authed(403, 200, 200),
			body: func(w *world, _ int) any { return map[string]any{"accounts": []string{w.owner.Account}} }},
		{route: "POST /v1/groups/{id}/members", name: "add a stranger", path: "/v1/groups/{group}/members", want: authed(403, 403, 403),
			body: func(w *world, _ int) any { return map[string]any{"accounts": []string{w.stranger.Account}} }},
		{route: "DELETE /v1/groups/{id}/members/{account}", name: "remove another member", path: "/v1/groups/{fresh}/members/{third}",
			want: authed(403, 403, 204), prep: fresh},
		{route: "DELETE /v1/groups/{id}/members/{account}", name: "leave", path: "/v1/groups/{fresh}/members/{member}",
			want: authed(403, 204, 404), prep: fresh},

		// Group administration: the owner (and admins; member is a plain
		// member) may; strangers and plain members may not.
		{route: "GET /v1/groups/{id}/members", path: "/v1/groups/{group}/members?limit=2", want: authed(403, 200, 200),
			check: notContains("{stranger}", owner, member)},
		{route: "POST /v1/groups/{id}/transfer", path: "/v1/groups/{fresh}/transfer", want: authed(403, 403, 204), prep: fresh,
			body: func(w *world, _ int) any { return map[string]string{"account": w.third.Account} }},
		{route: "PUT /v1/groups/{id}/admins/{account}", path: "/v1/groups/{fresh}/admins/{third}", want: authed(403, 403, 204), prep: fresh},
		{route: "DELETE /v1/groups/{id}/admins/{account}", path: "/v1/groups/{fresh}/admins/{third}", want: authed(403, 403, 204), prep: fresh},
		{route: "PUT /v1/groups/{id}/mutes/{account}", path: "/v1/groups/{fresh}/mutes/{third}", want: authed(403, 403, 200), prep: fresh,
			body: fixed(map[string]int{"duration_seconds": 60})},
		{route: "PUT /v1/groups/{id}/mutes/{account}", name: "the owner", path: "/v1/groups/{fresh}/mutes/{owner}", want: authed(403, 403, 409),
			prep: fresh, body: fixed(map[string]int{"duration_seconds": 60})},
		{route: "DELETE /v1/groups/{id}/mutes/{account}", path: "/v1/groups/{fresh}/mutes/{third}", want: authed(403, 403, 204), prep: fresh},
		{route: "PUT /v1/groups/{id}/mute-all", path: "/v1/groups/{fresh}/mute-all", want: authed(403, 403, 204), prep: fresh},
		{route: "DELETE /v1/groups/{id}/mute-all", path: "/v1/groups/{fresh}/mute-all", want: authed(403, 403, 204), prep: fresh},
		{route: "PUT /v1/groups/{id}/announcement", path: "/v1/groups/{fresh}/announcement", want: authed(403, 403, 200), prep: fresh,
			body: fixed(map[string]string{"text": "read the rules"})},
		{route: "DELETE /v1/groups/{id}/announcement", path: "/v1/groups/{fresh}/announcement", want: authed(403, 403, 204), prep: fresh},
		{route: "GET /v1/groups/{id}/pins", path: "/v1/groups/{group}/pins", want: authed(403, 200, 200)},
		{route: "PUT /v1/groups/{id}/pins/{seq}", path: "/v1/groups/{fresh}/pins/{seq}", want: authed(403, 403, 204),
			prep: func(w *world) map[string]string {
				g := w.newGroup()
				return map[string]string{"{fresh}": g, "{seq}": strconv.FormatInt(w.newMessage(g, w.third), 10)}
			}},
		{route: "DELETE /v1/groups/{id}/pins/{seq}", path: "/v1/groups/{fresh}/pins/{seq}", want: authed(403, 403, 204),
			prep: func(w *world) map[string]string {
				g := w.newGroup()
				seq := strconv.FormatInt(w.newMessage(g, w.third), 10)
				w.mustDo("PUT", "/v1/groups/"+g+"/pins/"+seq, w.owner, nil, 204)
				return map[string]string{"{fresh}": g, "{seq}": seq}
			}},
		{route: "POST /v1/groups/{id}/join-requests", path: "/v1/groups/{fresh}/join-requests", want: authed(201, 409, 409), prep: fresh,
			body: fixed(map[string]string{"message": "let me in"})},
		{route: "GET /v1/groups/{id}/join-requests", path: "/v1/groups/{group}/join-requests", want: authed(403, 403, 200)},
		{route: "POST /v1/groups/{id}/join-requests/{account}/approve", path: "/v1/groups/{fresh}/join-requests/{stranger}/approve",
			want: authed(403, 403, 204), prep: func(w *world) map[string]string {
				g := w.newGroup()
				w.mustDo("POST", "/v1/groups/"+g+"/join-requests", w.stranger, map[string]string{}, 201)
				return map[string]string{"{fresh}": g}
			}},
		{route: "DELETE /v1/groups/{id}/join-requests/{account}", name: "withdraw, then decline", path: "/v1/groups/{fresh}/join-requests/{stranger}",
			want: authed(204, 403, 404), prep: func(w *world) map[string]string {
				g := w.newGroup()
				w.mustDo("POST", "/v1/groups/"+g+"/join-requests", w.stranger, map[string]string{}, 201)
				return map[string]string{"{fresh}": g}
			}},
		{route: "POST /v1/groups/{id}/invites", path: "/v1/groups/{fresh}/invites", want: authed(403, 403, 201), prep: fresh,
			body: fixed(map[string]int{"expires_in_seconds": 600, "max_uses": 3})},
		{route: "GET /v1/groups/{id}/invites", path: "/v1/groups/{group}/invites", want: authed(403, 403, 200)},
		{route: "DELETE /v1/groups/{id}/invites/{invite}", path: "/v1/groups/{fresh}/invites/{invite}", want: authed(403, 403, 204),
			prep: func(w *world) map[string]string {
				g := w.newGroup()
				id, _ := w.newInvite(g)
				return map[string]string{"{fresh}": g, "{invite}": id}
			}},
		{route: "POST /v1/invites/{token}/join", path: "/v1/invites/{token}/join", want: authed(200, 200, 200),
			prep: func(w *world) map[string]string {
				g := w.newGroup()
				_, token := w.newInvite(g)
				return map[string]string{"{fresh}": g, "{token}": token}
			}},
		{route: "POST /v1/invites/{token}/join", name: "unknown token", path: "/v1/invites/nope/join", want: authed(404, 404, 404)},

		{route: "GET /v1/conversations", path: "/v1/conversations", want: authed(200, 200, 200), check: notContains("{direct}", stranger)},
		{route: "GET /v1/rooms/{id}/messages", name: "direct", path: "/v1/rooms/{direct}/messages", want: authed(403, 200, 200)},
		{route: "GET /v1/rooms/{id}/messages", name: "group", path: "/v1/rooms/{group}/messages?after=0", want: authed(403, 200, 200)},
		{route: "POST /v1/rooms/{id}/messages", name: "direct", path: "/v1/rooms/{direct}/messages", want: authed(403, 201, 201), body: msg},
		{route: "POST /v1/rooms/{id}/messages", name: "group", path: "/v1/rooms/{group}/messages", want: authed(403, 201, 201), body: msg},
		{route: "POST /v1/rooms/{id}/read", name: "direct", path: "/v1/rooms/{direct}/read", want: authed(403, 204, 204), body: fixed(map[string]int{"seq": 1})},
		{route: "POST /v1/rooms/{id}/read", name: "group", path: "/v1/rooms/{group}/read", want: authed(403, 204, 204), body: fixed(map[string]int{"seq": 1})},

		// Changes to messages: members only, and only the sender edits;
		// the sender or the group's owner recalls.
		{route: "PATCH /v1/rooms/{id}/messages/{seq}", name: "direct", path: "/v1/rooms/{direct}/messages/{seq}",
			want: authed(403, 403, 201), prep: message(direct, byOwner), body: edit, check: isEvent("edit")},
		{route: "PATCH /v1/rooms/{id}/messages/{seq}", name: "group", path: "/v1/rooms/{group}/messages/{seq}",
			want: authed(403, 403, 201), prep: message(group, byOwner), body: edit, check: isEvent("edit")},
		{route: "POST /v1/rooms/{id}/messages/{seq}/recall", name: "own message", path: "/v1/rooms/{direct}/messages/{seq}/recall",
			want: authed(403, 403, 201), prep: message(direct, byOwner), body: change, check: isEvent("recall")},
		{route: "POST /v1/rooms/{id}/messages/{seq}/recall", name: "group owner, another's message", path: "/v1/rooms/{group}/messages/{seq}/recall",
			want: authed(403, 403, 201), prep: message(group, byThird), body: change, check: isEvent("recall")},
		{route: "PUT /v1/rooms/{id}/messages/{seq}/reactions/{emoji}", name: "direct",
			path: "/v1/rooms/{direct}/messages/{seq}/reactions/" + thumbsUp + "?client_msg_id={cmid}",
			want: authed(403, 201, 201), prep: message(direct, byOwner), check: isEvent("react")},
		{route: "PUT /v1/rooms/{id}/messages/{seq}/reactions/{emoji}", name: "group",
			path: "/v1/rooms/{group}/messages/{seq}/reactions/" + thumbsUp + "?client_msg_id={cmid}",
			want: authed(403, 201, 201), prep: message(group, byThird), check: isEvent("react")},
		{route: "DELETE /v1/rooms/{id}/messages/{seq}/reactions/{emoji}", name: "own reaction",
			path: "/v1/rooms/{group}/messages/{seq}/reactions/" + thumbsUp + "?client_msg_id={cmid}",
			want: authed(403, 201, 201), prep: message(group, byOwner, member, owner), check: isEvent("unreact")},
		{route: "GET /v1/rooms/{id}/messages/{seq}/reactions/{emoji}", path: "/v1/rooms/{direct}/messages/{seq}/reactions/" + thumbsUp,
			want: authed(403, 200, 200), prep: message(direct, byOwner, owner),
			check: func(t *testing.T, w *world, _ map[string]string, role int, r apitest.Resp) {
				if !strings.Contains(string(r.Body), w.owner.ID) || strings.Contains(string(r.Body), w.member.ID) {
					t.Errorf("reactors: %s", trunc(r.Body))
				}
			}},
		// Read receipts: members only; the owner's message, read by the
		// member in the group's case.
		{route: "GET /v1/rooms/{id}/messages/{seq}/readers", name: "direct", path: "/v1/rooms/{direct}/messages/{seq}/readers",
			want: authed(403, 200, 200), prep: message(direct, byOwner)},
		{route: "GET /v1/rooms/{id}/messages/{seq}/readers", name: "group", path: "/v1/rooms/{group}/messages/{seq}/readers",
			want: authed(403, 200, 200), prep: func(w *world) map[string]string {
				p := message(group, byOwner)(w)
				seq, _ := strconv.ParseInt(p["{seq}"], 10, 64)
				if r := w.e.Do("POST", "/v1/rooms/"+w.group+"/read", w.member.Token, map[string]any{"seq": seq}); r.Status != 204 {
					w.t.Fatalf("read: %d %s", r.Status, r.Body)
				}
				return p
			},
			check: func(t *testing.T, w *world, _ map[string]string, role int, r apitest.Resp) {
				m := jsonMap(t, r)
				if m["read"] != float64(1) || !strings.Contains(string(r.Body), w.member.ID) || strings.Contains(string(r.Body), w.owner.ID) {
					t.Errorf("%s reads readers %s", roleNames[role], trunc(r.Body))
				}
			}},
		{route: "POST /v1/rooms/{id}/hide", name: "direct", path: "/v1/rooms/{direct}/hide", want: authed(403, 204, 204),
			body: fixed(map[string][]int{"seqs": {1}})},
		{route: "POST /v1/rooms/{id}/hide", name: "group", path: "/v1/rooms/{group}/hide", want: authed(403, 204, 204),
			body: fixed(map[string][]int{"seqs": {1}})},

		// Files: uploads by members; downloads by members of the file's
		// room only, everyone else told there is no such file.
		{route: "POST /v1/rooms/{id}/files", name: "direct", path: "/v1/rooms/{direct}/files", want: authed(403, 201, 201), upload: note,
			check: func(t *testing.T, w *world, _ map[string]string, role int, r apitest.Resp) {
				if m := jsonMap(t, r); m["file_id"] == nil || m["size"] != float64(len(note)) || m["content_type"] != "text/plain; charset=utf-8" {
					t.Errorf("upload answered %s", r.Body)
				}
			}},
		{route: "POST /v1/rooms/{id}/files", name: "group", path: "/v1/rooms/{group}/files", want: authed(403, 201, 201), upload: tinyPNG()},
		{route: "GET /v1/files/{id}", name: "direct", path: "/v1/files/{file}", want: authed(404, 200, 200),
			prep: func(w *world) map[string]string {
				return map[string]string{"{file}": w.newFile(w.direct, w.owner, "file", "note.txt", note)}
			},
			check: download(note, "text/plain")},
		{route: "GET /v1/files/{id}", name: "group, another member's", path: "/v1/files/{file}", want: authed(404, 200, 200),
			prep: func(w *world) map[string]string {
				return map[string]string{"{file}": w.newFile(w.group, w.third, "image", "pic.png", tinyPNG())}
			},
			check: download(nil, "image/png")},
		{route: "GET /v1/files/{id}/thumbnail", path: "/v1/files/{file}/thumbnail", want: authed(404, 200, 200),
			prep: func(w *world) map[string]string {
				return map[string]string{"{file}": w.newFile(w.group, w.owner, "image", "pic.png", tinyPNG())}
			},
			check: download(nil, "image/")},

		// Webhook dead letters: admin keys only; no user token opens them.
		{route: "GET /v1/admin/webhooks/dead-letters", path: "/v1/admin/webhooks/dead-letters", want: adminOnly},
		{route: "POST /v1/admin/webhooks/dead-letters/{id}/replay", path: "/v1/admin/webhooks/dead-letters/x%2Fapp/replay", want: adminOnly},

		// The account's own lifecycle: every caller acts on itself only.
		{route: "POST /v1/auth/password-reset", path: "/v1/auth/password-reset", want: all(202),
			body: func(w *world, _ int) any { return map[string]string{"email": w.owner.Email} }},
		{route: "POST /v1/auth/password-reset/confirm", name: "wrong code", path: "/v1/auth/password-reset/confirm", want: all(400),
			body: func(w *world, _ int) any {
				return map[string]string{"email": w.owner.Email, "code": "000000", "new_password": "a takeover attempt"}
			}},
		{route: "GET /v1/users", path: "/v1/users?ids={ownerid}", want: authed(200, 200, 200),
			prep: func(w *world) map[string]string { return map[string]string{"{ownerid}": w.owner.ID} },
			check: func(t *testing.T, w *world, _ map[string]string, role int, r apitest.Resp) {
				if strings.Contains(string(r.Body), "email") || !strings.Contains(string(r.Body), w.owner.ID) {
					t.Errorf("users by id: %s", r.Body)
				}
			}},
		// Presence: friends (and oneself) see it; anyone else reads offline
		// with no last_seen, exactly like a hidden user.
		{route: "GET /v1/presence", name: "friends", path: "/v1/presence?users={ownerid}", want: authed(200, 200, 200),
			prep: func(w *world) map[string]string {
				if err := w.e.Backends.Store.SetLastSeen(w.t.Context(), w.owner.ID, time.Now()); err != nil {
					w.t.Fatal(err)
				}
				return map[string]string{"{ownerid}": w.owner.ID}
			},
			check: func(t *testing.T, w *world, _ map[string]string, role int, r apitest.Resp) {
				if has := strings.Contains(string(r.Body), "last_seen"); has != (role != stranger) || !strings.Contains(string(r.Body), w.owner.ID) {
					t.Errorf("%s: presence of the owner %s, last_seen shown %v", roleNames[role], trunc(r.Body), has)
				}
			}},
		// With room_id: the room's members' presence, for members only.
		{route: "GET /v1/presence", name: "group members", path: "/v1/presence?users={thirdid}&room_id={group}", want: authed(403, 200, 200),
			prep: func(w *world) map[string]string {
				if err := w.e.Backends.Store.SetLastSeen(w.t.Context(), w.third.ID, time.Now()); err != nil {
					w.t.Fatal(err)
				}
				return map[string]string{"{thirdid}": w.third.ID}
			},
			check: func(t *testing.T, w *world, _ map[string]string, role int, r apitest.Resp) {
				if !strings.Contains(string(r.Body), "last_seen") {
					t.Errorf("%s: a co-member's presence without last_seen: %s", roleNames[role], trunc(r.Body))
				}
			}},
		{route: "GET /v1/presence", name: "too many ids", path: "/v1/presence?users=" + strings.Repeat("01HV6Q2B9W3S5T7V9X1Z3B5D7F,", 500) + "01HV6Q2B9W3S5T7V9X1Z3B5D7F", want: authed(400, 400, 400)},
		{route: "GET /v1/me/sessions", path: "/v1/me/sessions", want: authed(200, 200, 200),
			prep: func(w *world) map[string]string {
				return map[string]string{"{ownersession}": w.e.Login(w.owner, "", "owner's other device").ID}
			},
			check: func(t *testing.T, w *world, p map[string]string, role int, r apitest.Resp) {
				if has := strings.Contains(string(r.Body), p["{ownersession}"]); has != (role == owner) {
					t.Errorf("%s sees the owner's session: %v (%s)", roleNames[role], has, trunc(r.Body))
				}
			}},
		{route: "DELETE /v1/me/sessions/{id}", name: "the owner's", path: "/v1/me/sessions/{ownersession}", want: authed(404, 404, 204),
			prep: func(w *world) map[string]string {
				return map[string]string{"{ownersession}": w.e.Login(w.owner, "", "to end").ID}
			}},
		{route: "POST /v1/me/push-tokens", path: "/v1/me/push-tokens", want: authed(201, 201, 201),
			body: func(_ *world, role int) any {
				return map[string]string{"platform": "fcm", "token": "authz-" + roleNames[role] + "-" + randomHex(8)}
			}},
		{route: "GET /v1/me/push-tokens", path: "/v1/me/push-tokens", want: authed(200, 200, 200),
			prep: func(w *world) map[string]string {
				return map[string]string{"{ownerpush}": w.ownerPushToken()}
			},
			check: func(t *testing.T, w *world, p map[string]string, role int, r apitest.Resp) {
				if has := strings.Contains(string(r.Body), p["{ownerpush}"]); has != (role == owner) {
					t.Errorf("%s sees the owner's push token: %v (%s)", roleNames[role], has, trunc(r.Body))
				}
			}},
		{route: "DELETE /v1/me/push-tokens", name: "the owner's", path: "/v1/me/push-tokens", want: authed(404, 404, 204),
			prep: func(w *world) map[string]string {
				return map[string]string{"{ownerpush}": w.ownerPushToken()}
			},
			body: func(w *world, _ int) any {
				return map[string]string{"platform": "fcm", "token": w.lastPush}
			}},
		{route: "POST /v1/me/email-code", path: "/v1/me/email-code", want: authed(202, 202, 202),
			body: func(*world, int) any { return map[string]string{"email": apitest.Unique("new") + "@example.com"} }},
		{route: "POST /v1/me/email", name: "wrong code", path: "/v1/me/email", want: authed(400, 400, 400),
			body: func(*world, int) any {
				return map[string]string{"email": apitest.Unique("new") + "@example.com", "code": "000000"}
			}},
		{route: "POST /v1/me/password", name: "wrong current", path: "/v1/me/password", want: authed(403, 403, 403),
			body: fixed(map[string]string{"current_password": "not the password", "new_password": "a takeover attempt"})},
		{route: "DELETE /v1/me", name: "wrong password", path: "/v1/me", want: authed(403, 403, 403),
			body: fixed(map[string]string{"password": "not the password"})},
		// The admin API: an admin key only; every user's token is refused
		// (internal/httpapi/admin_test.go tests the admin key's answers).
		{route: "POST /v1/admin/users", path: "/v1/admin/users", want: adminOnly},
		{route: "GET /v1/admin/users", path: "/v1/admin/users", want: adminOnly},
		{route: "GET /v1/admin/users/{id}", path: "/v1/admin/users/{owner}", want: adminOnly},
		{route: "POST /v1/admin/users/{id}/tokens", path: "/v1/admin/users/{owner}/tokens", want: adminOnly},
		{route: "PUT /v1/admin/users/{id}/ban", path: "/v1/admin/users/{owner}/ban", want: adminOnly},
		{route: "DELETE /v1/admin/users/{id}/ban", path: "/v1/admin/users/{owner}/ban", want: adminOnly},
		{route: "POST /v1/admin/users/{id}/logout", path: "/v1/admin/users/{owner}/logout", want: adminOnly},
		{route: "POST /v1/admin/users/{id}/notices", path: "/v1/admin/users/{owner}/notices", want: adminOnly},
		{route: "POST /v1/admin/broadcasts", path: "/v1/admin/broadcasts", want: adminOnly},
		{route: "GET /v1/admin/groups", path: "/v1/admin/groups", want: adminOnly},
		{route: "GET /v1/admin/rooms", path: "/v1/admin/rooms", want: adminOnly},
		{route: "POST /v1/admin/rooms/{id}/messages", path: "/v1/admin/rooms/{group}/messages", want: adminOnly},
		{route: "DELETE /v1/admin/rooms/{id}/messages/{seq}", path: "/v1/admin/rooms/{group}/messages/1", want: adminOnly},
		{route: "GET /v1/admin/stats", path: "/v1/admin/stats", want: adminOnly},
		// Last: it ends the callers' sessions.
		{route: "POST /v1/auth/logout-all", path: "/v1/auth/logout-all", want: authed(204, 204, 204)},
	}
}

// TestRESTAuthorizationTable runs every REST route (taken from the
// router: a route without a row fails) as anonymous, stranger, member and
// owner, in that order, so that the refused attempts come before the one
// that may change the resource, and the owner's success shows the
// refusals changed nothing. Every refusal has the contract's error body,
// and every answer carries the security headers (nosniff, no framing, no
// referrer).
func TestRESTAuthorizationTable(t *testing.T) {
	e := apitest.New(t, apitest.Options{AdminKeys: []string{apitest.AdminKey}})
	w := newWorld(t, e)
	table := restTable()

	covered := map[string]bool{}
	for _, c := range table {
		covered[c.route] = true
	}
	routes := apiRoutes(t, e.API)
	known := map[string]bool{}
	for _, r := range routes {
		known[r] = true
		if !covered[r] {
			t.Errorf("route %s has no row in the authorization table (restTable in %s)", r, "authz_rest_test.go")
		}
	}
	for r := range covered {
		if !known[r] {
			t.Errorf("row for %s, which the router does not have", r)
		}
	}

	for _, c := range table {
		name := c.route
		if c.name != "" {
			name += " (" + c.name + ")"
		}
		t.Run(name, func(t *testing.T) {
			p := w.params()
			if c.prep != nil {
				for k, v := range c.prep(w) {
					p[k] = v
				}
			}
			method, _, _ := strings.Cut(c.route, " ")
			path := expand(c.path, p)
			for role := anonymous; role <= owner; role++ {
				var body any
				if c.body != nil {
					body = c.body(w, role)
				}
				var r apitest.Resp
				if c.upload != nil {
					r = uploadFile(e, w.token(role), strings.Split(path, "/")[3], "upload.bin", c.upload)
				} else {
					r = e.Do(method, path, w.token(role), body)
				}
				what := fmt.Sprintf("%s %s as %s", method, path, roleNames[role])
				if r.Status != c.want[role] {
					t.Errorf("%s: %d %s, want %d", what, r.Status, trunc(r.Body), c.want[role])
					continue
				}
				if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("X-Frame-Options") != "DENY" ||
					r.Header.Get("Referrer-Policy") != "no-referrer" {
					t.Errorf("%s: security headers missing: %v", what, r.Header)
				}
				switch {
				case r.Status >= 300:
					if err := errorShape(r.Status, r.Body); err != nil {
						t.Errorf("%s: %v", what, err)
					}
					if r.Status == 401 && r.ErrCode() != protocol.CodeUnauthenticated ||
						r.Status == 403 && r.ErrCode() != protocol.CodeForbidden {
						t.Errorf("%s: code %q", what, r.ErrCode())
					}
				case c.check != nil:
					c.check(t, w, p, role, r)
				}
			}
		})
	}

	// Nothing the stranger tried reached a room (the owner logs in again:
	// the last row ended its sessions).
	tok := e.Login(w.owner, "", "check").Token
	for _, room := range []string{w.direct, w.group} {
		var h struct{ Messages []protocol.Message }
		r := e.Do("GET", "/v1/rooms/"+room+"/messages?limit=100", tok, nil)
		r.JSON(t, &h)
		if len(h.Messages) == 0 {
			t.Fatalf("room %s: no history (%d %s)", room, r.Status, r.Body)
		}
		for _, m := range h.Messages {
			if m.From == w.stranger.ID {
				t.Errorf("room %s holds a message from the stranger: %+v", room, m)
			}
		}
	}
}

// TestFormerMembersLoseAccess: after an unfriend, neither side reads or
// writes the direct room; after a disband, nobody reads or writes the
// group; a removed member loses the group — over REST and WebSocket.
func TestFormerMembersLoseAccess(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{})
	w := newWorld(t, cl.Env)
	fresh := w.newGroup()
	files := map[string]string{ // a file of each room, by room
		w.direct: w.newFile(w.direct, w.member, "file", "a.txt", []byte("direct\n")),
		w.group:  w.newFile(w.group, w.third, "file", "b.txt", []byte("group\n")),
		fresh:    w.newFile(fresh, w.owner, "image", "c.png", tinyPNG()),
	}
	if r := cl.Do("DELETE", "/v1/friends/"+w.member.Account, w.owner.Token, nil); r.Status != 204 {
		t.Fatalf("unfriend: %d %s", r.Status, r.Body)
	}
	if r := cl.Do("DELETE", "/v1/groups/"+w.group, w.owner.Token, nil); r.Status != 204 {
		t.Fatalf("disband: %d %s", r.Status, r.Body)
	}
	if r := cl.Do("DELETE", "/v1/groups/"+fresh+"/members/"+w.third.Account, w.owner.Token, nil); r.Status != 204 {
		t.Fatalf("remove: %d %s", r.Status, r.Body)
	}
	cases := []struct {
		who  *apitest.User
		room string
	}{
		{w.owner, w.direct}, {w.member, w.direct}, {w.owner, w.group}, {w.member, w.group}, {w.third, fresh},
	}
	for _, c := range cases {
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/v1/rooms/" + c.room + "/messages", nil},
			{"POST", "/v1/rooms/" + c.room + "/messages", map[string]string{"body": "still here?", "client_msg_id": "late-" + randomHex(4)}},
			{"POST", "/v1/rooms/" + c.room + "/read", map[string]int{"seq": 1}},
			{"PATCH", "/v1/rooms/" + c.room + "/messages/1", map[string]string{"body": "rewritten", "client_msg_id": "late-" + randomHex(4)}},
			{"POST", "/v1/rooms/" + c.room + "/messages/1/recall", map[string]string{"client_msg_id": "late-" + randomHex(4)}},
			{"PUT", "/v1/rooms/" + c.room + "/messages/1/reactions/" + thumbsUp + "?client_msg_id=late-" + randomHex(4), nil},
			{"GET", "/v1/rooms/" + c.room + "/messages/1/reactions/" + thumbsUp, nil},
			{"POST", "/v1/rooms/" + c.room + "/hide", map[string][]int{"seqs": {1}}},
		} {
			expectError(t, c.who.Account+" "+req.method+" "+req.path, cl.Do(req.method, req.path, c.who.Token, req.body), 403, protocol.CodeForbidden)
		}
		expectError(t, c.who.Account+" upload to "+c.room, uploadFile(cl.Env, c.who.Token, c.room, "x.txt", []byte("x")), 403, protocol.CodeForbidden)
		for _, p := range []string{"/v1/files/" + files[c.room], "/v1/files/" + files[c.room] + "/thumbnail"} {
			expectError(t, c.who.Account+" GET "+p, cl.Do("GET", p, c.who.Token, nil), 404, protocol.CodeNotFound)
		}
		ws := apitest.DialWS(t, cl.Nodes[0].URL, c.who.Token)
		_ = ws.SendMsg(c.room, "still here?", "late-ws")
		if o, err := ws.Ack("late-ws", wait); err != nil || o.Type != protocol.TypeError || o.Code != protocol.CodeForbidden {
			t.Errorf("%s send to a lost room: %+v %v", c.who.Account, o, err)
		}
		_ = ws.Send(map[string]any{"type": "sync", "rooms": map[string]int64{c.room: 0}})
		if o, err := ws.WaitFor(wait, func(o protocol.Outbound) bool {
			return (o.Type == protocol.TypeError || o.Type == protocol.TypeSynced) && o.RoomID == c.room
		}); err != nil || o.Type != protocol.TypeError || o.Code != protocol.CodeForbidden {
			t.Errorf("%s sync of a lost room: %+v %v", c.who.Account, o, err)
		}
		ws.Conn.Close()
	}
	// The group is gone for its former members too.
	for _, u := range []*apitest.User{w.owner, w.member} {
		r := cl.Do("GET", "/v1/groups/"+w.group, u.Token, nil)
		if r.Status != 404 && r.Status != 403 {
			t.Errorf("disbanded group for %s: %d %s", u.Account, r.Status, r.Body)
		}
		var gs struct{ Groups []struct{ ID string } }
		cl.Do("GET", "/v1/groups", u.Token, nil).JSON(t, &gs)
		for _, g := range gs.Groups {
			if g.ID == w.group {
				t.Errorf("disbanded group still listed for %s", u.Account)
			}
		}
	}
}

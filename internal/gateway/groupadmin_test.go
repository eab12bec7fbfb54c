package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// isAdminEvent matches the group_admin event of action in room.
func isAdminEvent(room, action string) func(protocol.Outbound) bool {
	return func(o protocol.Outbound) bool {
		if o.Type != protocol.TypeEvent || o.Event != "group_admin" {
			return false
		}
		var d struct {
			RoomID string `json:"room_id"`
			Action string `json:"action"`
		}
		return json.Unmarshal(o.Data, &d) == nil && d.RoomID == room && d.Action == action
	}
}

func mustStatus(t *testing.T, r apitest.Resp, status int, what string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: %d %s", what, r.Status, r.Body)
	}
}

// sendResult sends a text and returns the ack or error frame.
func sendResult(t *testing.T, c *apitest.WS, room, cmid string) protocol.Outbound {
	t.Helper()
	return frameAck(t, c, map[string]any{"type": "send", "room_id": room, "body": "hello " + cmid, "client_msg_id": cmid})
}

func wantRefused(t *testing.T, o protocol.Outbound, what, msg string) {
	t.Helper()
	if o.Type != protocol.TypeError || o.Code != protocol.CodeForbidden || !strings.Contains(o.ErrMessage, msg) {
		t.Fatalf("%s: got %s %s %q, want forbidden %q", what, o.Type, o.Code, o.ErrMessage, msg)
	}
}

func wantAcked(t *testing.T, o protocol.Outbound, what string) {
	t.Helper()
	if o.Type != protocol.TypeAck {
		t.Fatalf("%s: got %s %s %q, want an ack", what, o.Type, o.Code, o.ErrMessage)
	}
}

// A muted member is refused on both gateway nodes, with the send's
// membership already cached by each node (the hot path reads no store);
// unmuting restores them; mute-all silences everyone but the owner and
// the admins, on both nodes. Each change is a system message and a
// group_admin event.
func TestMuteEnforcedOnBothNodes(t *testing.T) {
	cl := apitest.NewCluster(t, 2, apitest.Options{})
	owner, admin, m1, m2 := cl.Register("ma"), cl.Register("mb"), cl.Register("mc"), cl.Register("md")
	for _, u := range []*apitest.User{admin, m1, m2} {
		cl.Befriend(owner, u)
	}
	room := newGroupRoom(t, cl, owner, "mute", []string{admin.Account, m1.Account, m2.Account})
	mustStatus(t, cl.Do("PUT", "/v1/groups/"+room+"/admins/"+admin.Account, owner.Token, nil), 204, "appoint")
	m1a := apitest.DialWS(t, cl.Nodes[0].URL, m1.Token)
	m1b := apitest.DialWS(t, cl.Nodes[1].URL, m1.Token)
	m2b := apitest.DialWS(t, cl.Nodes[1].URL, m2.Token)
	adminA := apitest.DialWS(t, cl.Nodes[0].URL, admin.Token)
	ownerB := apitest.DialWS(t, cl.Nodes[1].URL, owner.Token)
	cl.Settle()
	// Both nodes learn (and cache) m1's membership.
	wantAcked(t, sendResult(t, m1a, room, "a0"), "m1 on node 0 before the mute")
	wantAcked(t, sendResult(t, m1b, room, "b0"), "m1 on node 1 before the mute")

	// Members cannot mute; admins cannot mute the owner.
	mustStatus(t, cl.Do("PUT", "/v1/groups/"+room+"/mutes/"+m1.Account, m2.Token, map[string]any{"duration_seconds": 60}), 403, "member mutes")
	mustStatus(t, cl.Do("PUT", "/v1/groups/"+room+"/mutes/"+owner.Account, admin.Token, map[string]any{"duration_seconds": 60}), 403, "mute the owner")
	mustStatus(t, cl.Do("PUT", "/v1/groups/"+room+"/mutes/"+m1.Account, admin.Token, map[string]any{"duration_seconds": 5}), 400, "too short")

	mustStatus(t, cl.Do("PUT", "/v1/groups/"+room+"/mutes/"+m1.Account, admin.Token, map[string]any{"duration_seconds": 3600}), 200, "mute")
	if _, err := m2b.WaitFor(wait, isAdminEvent(room, "member_muted")); err != nil {
		t.Fatalf("group_admin event on node 1: %v", err)
	}
	wantRefused(t, sendResult(t, m1a, room, "a1"), "muted m1 on node 0", "you are muted in this group until")
	wantRefused(t, sendResult(t, m1b, room, "b1"), "muted m1 on node 1", "you are muted in this group until")
	// REST sends are refused alike.
	r := cl.Do("POST", "/v1/rooms/"+room+"/messages", m1.Token, map[string]any{"body": "rest", "client_msg_id": "r1"})
	if r.Status != 403 || r.ErrCode() != protocol.CodeForbidden {
		t.Fatalf("muted REST send: %d %s", r.Status, r.Body)
	}
	wantAcked(t, sendResult(t, m2b, room, "c1"), "m2 is not muted")

	mustStatus(t, cl.Do("DELETE", "/v1/groups/"+room+"/mutes/"+m1.Account, owner.Token, nil), 204, "unmute")
	wantAcked(t, sendResult(t, m1a, room, "a2"), "unmuted m1 on node 0")
	wantAcked(t, sendResult(t, m1b, room, "b2"), "unmuted m1 on node 1")

	mustStatus(t, cl.Do("PUT", "/v1/groups/"+room+"/mute-all", m2.Token, nil), 403, "member mutes all")
	mustStatus(t, cl.Do("PUT", "/v1/groups/"+room+"/mute-all", admin.Token, nil), 204, "mute all")
	if _, err := m1a.WaitFor(wait, isAdminEvent(room, "mute_all_on")); err != nil {
		t.Fatalf("mute_all_on event on node 0: %v", err)
	}
	wantRefused(t, sendResult(t, m1a, room, "a3"), "mute-all on node 0", "only the owner and admins")
	wantRefused(t, sendResult(t, m2b, room, "c3"), "mute-all on node 1", "only the owner and admins")
	wantAcked(t, sendResult(t, adminA, room, "d3"), "admin under mute-all (node 0)")
	wantAcked(t, sendResult(t, ownerB, room, "e3"), "owner under mute-all (node 1)")
	mustStatus(t, cl.Do("DELETE", "/v1/groups/"+room+"/mute-all", owner.Token, nil), 204, "unmute all")
	wantAcked(t, sendResult(t, m2b, room, "c4"), "m2 after mute-all")

	// History tells what happened, as system messages.
	var texts []string
	h := richHistory(t, cl, m2.Token, room)
	for seq := int64(1); seq <= int64(len(h))+5; seq++ {
		if m, ok := h[seq]; ok && m.Kind == "system" {
			texts = append(texts, m.Body)
		}
	}
	joined := strings.Join(texts, "\n")
	for _, want := range []string{"made Nick " + admin.Account + " an admin", "muted Nick " + m1.Account + " for 1h",
		"unmuted Nick " + m1.Account, "muted everyone but the owner and admins", "let everyone speak again"} {
		if !strings.Contains(joined, want) {
			t.Errorf("history lacks %q:\n%s", want, joined)
		}
	}
}

// Join requests reach the admins as events; approval and invite links let
// users in, who then get the room's messages live.
func TestJoinRequestAndInviteLinkLive(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{})
	owner, admin, out1, out2 := cl.Register("ja"), cl.Register("jb"), cl.Register("jc"), cl.Register("jd")
	cl.Befriend(owner, admin)
	room := newGroupRoom(t, cl, owner, "join", []string{admin.Account})
	mustStatus(t, cl.Do("PUT", "/v1/groups/"+room+"/admins/"+admin.Account, owner.Token, nil), 204, "appoint")
	var g struct{ Group struct{ Number string } }
	cl.Do("GET", "/v1/groups/"+room, owner.Token, nil).JSON(t, &g)
	adminWS := apitest.DialWS(t, cl.Nodes[0].URL, admin.Token)
	out1WS := apitest.DialWS(t, cl.Nodes[0].URL, out1.Token)
	out2WS := apitest.DialWS(t, cl.Nodes[0].URL, out2.Token)
	cl.Settle()

	mustStatus(t, cl.Do("POST", "/v1/groups/"+g.Group.Number+"/join-requests", out1.Token, map[string]any{"message": "hi"}), 201, "request")
	if _, err := adminWS.WaitFor(wait, func(o protocol.Outbound) bool { return o.Event == "join_request" }); err != nil {
		t.Fatalf("join_request event: %v", err)
	}
	mustStatus(t, cl.Do("GET", "/v1/groups/"+room+"/join-requests", out2.Token, nil), 403, "outsider lists requests")
	mustStatus(t, cl.Do("POST", "/v1/groups/"+room+"/join-requests/"+out1.Account+"/approve", admin.Token, nil), 204, "approve")
	if _, err := out1WS.WaitFor(wait, func(o protocol.Outbound) bool { return o.Event == protocol.EventGroupJoined }); err != nil {
		t.Fatalf("group_joined after approval: %v", err)
	}

	r := cl.Do("POST", "/v1/groups/"+room+"/invites", admin.Token, map[string]any{"expires_in_seconds": 600, "max_uses": 1})
	mustStatus(t, r, 201, "invite")
	var inv struct{ Invite struct{ Token string } }
	r.JSON(t, &inv)
	mustStatus(t, cl.Do("POST", "/v1/invites/"+inv.Invite.Token+"/join", out2.Token, nil), 200, "join by link")
	if _, err := out2WS.WaitFor(wait, func(o protocol.Outbound) bool { return o.Event == protocol.EventGroupJoined }); err != nil {
		t.Fatalf("group_joined after the link: %v", err)
	}
	mustStatus(t, cl.Do("POST", "/v1/invites/"+inv.Invite.Token+"/join", owner.Token, nil), 200, "a member joins again")
	mustStatus(t, cl.Do("DELETE", "/v1/groups/"+room+"/members/"+out2.Account, out2.Token, nil), 204, "leave")
	mustStatus(t, cl.Do("POST", "/v1/invites/nope/join", out2.Token, nil), 404, "unknown link")

	// The newcomers get the room's messages live.
	cl.Settle()
	m := mustFrameAck(t, adminWS, map[string]any{"type": "send", "room_id": room, "body": "welcome", "client_msg_id": "w1"})
	if _, err := out1WS.WaitFor(wait, func(o protocol.Outbound) bool {
		return o.Type == protocol.TypeMessage && o.Message != nil && o.Message.Seq == m.Seq
	}); err != nil {
		t.Fatalf("approved member gets messages: %v", err)
	}
	var members struct {
		Members []struct {
			ID   string `json:"id"`
			Role string `json:"role"`
		}
	}
	cl.Do("GET", "/v1/groups/"+room+"/members?limit=2", out1.Token, nil).JSON(t, &members)
	if len(members.Members) != 2 {
		t.Fatalf("members page: %+v", members)
	}
}

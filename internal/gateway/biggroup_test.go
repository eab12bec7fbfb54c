package gateway_test

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// bigGroup is the size of the group of TestTenThousandMemberGroup: the
// default IM_MAX_GROUP_MEMBERS.
const bigGroup = 10000

// A group of 10,000 members works end to end, on PostgreSQL with two
// gateway nodes: the members are written straight into the store (the
// setup), then everything goes through the API and the gateways: a send
// reaches the connected members on both nodes, history reads, the group
// lists its first 500 members and pages through all 10,000, a mute is
// enforced and told to the members, and the group refuses member 10,001.
func TestTenThousandMemberGroup(t *testing.T) {
	cl := apitest.NewCluster(t, 2, apitest.Options{Store: "postgres"})
	ctx := t.Context()
	st := cl.Backends.Store
	owner := cl.Register("big")
	room := newGroupRoom(t, cl, owner, "ten thousand", nil)

	start := time.Now()
	prefix := apitest.Unique("bg")
	ids := make([]string, bigGroup-1)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%05d", prefix, i)
	}
	const workers = 16
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(ids); i += workers {
				u := &store.User{ID: ids[i], Account: fmt.Sprintf("%s%05d", prefix, i), Email: ids[i] + "@example.com", Nickname: "M" + ids[i]}
				if err := st.CreateUser(ctx, u); err != nil {
					errs <- err
					return
				}
				if err := st.AddMember(ctx, &store.Member{RoomID: room, UserID: ids[i], RoomType: store.RoomGroup}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("seed: %v", err)
	}
	t.Logf("seeded %d users and memberships in %v", len(ids), time.Since(start).Round(time.Millisecond))

	// 100 members online, half on each node, and the owner.
	const online = 100
	conns, tokens := make([]*apitest.WS, online), make([]string, online)
	for i := range conns {
		tok, _, err := cl.Core.Issuer.Issue(ids[i*(len(ids)/online)])
		if err != nil {
			t.Fatal(err)
		}
		conns[i], tokens[i] = apitest.DialWS(t, cl.Nodes[i%2].URL, tok), tok
	}
	ownerWS := apitest.DialWS(t, cl.Nodes[0].URL, owner.Token)
	cl.Settle()

	phase := time.Now()
	m := mustFrameAck(t, ownerWS, map[string]any{"type": "send", "room_id": room, "body": "hello ten thousand", "client_msg_id": "big1"})
	for i, c := range conns {
		if _, err := c.WaitFor(wait, func(o protocol.Outbound) bool {
			return o.Type == protocol.TypeMessage && o.Message != nil && o.Message.Seq == m.Seq
		}); err != nil {
			t.Fatalf("online member %d (node %d): %v", i, i%2, err)
		}
	}
	t.Logf("a send reached the %d online members on 2 nodes in %v", online, time.Since(phase).Round(time.Millisecond))
	reply := mustFrameAck(t, conns[1], map[string]any{"type": "send", "room_id": room, "body": "hi all", "client_msg_id": "big2"})
	if _, err := conns[0].WaitFor(wait, func(o protocol.Outbound) bool {
		return o.Type == protocol.TypeMessage && o.Message != nil && o.Message.Seq == reply.Seq
	}); err != nil {
		t.Fatalf("a member's send: %v", err)
	}
	if ids, _, _ := history(t, cl, owner.Token, room); len(ids) < 2 {
		t.Fatalf("history: %v", ids)
	}

	phase = time.Now()
	var g struct {
		Group struct {
			MemberCount      int64 `json:"member_count"`
			MembersTruncated bool  `json:"members_truncated"`
			Members          []protocol.User
		}
	}
	cl.Do("GET", "/v1/groups/"+room, owner.Token, nil).JSON(t, &g)
	if g.Group.MemberCount != bigGroup || !g.Group.MembersTruncated || len(g.Group.Members) != 500 {
		t.Fatalf("group: count %d, truncated %v, %d listed", g.Group.MemberCount, g.Group.MembersTruncated, len(g.Group.Members))
	}
	t.Logf("GET the group in %v", time.Since(phase).Round(time.Millisecond))

	phase = time.Now()
	var listed []string
	owners, after := 0, ""
	for page := 0; page <= bigGroup/200+1; page++ {
		var p struct {
			Members []struct {
				ID   string `json:"id"`
				Role string `json:"role"`
			}
			Next string
		}
		r := cl.Do("GET", "/v1/groups/"+room+"/members?limit=200&after="+after, tokens[2], nil)
		if r.Status != 200 {
			t.Fatalf("members page %d: %d %s", page, r.Status, r.Body)
		}
		r.JSON(t, &p)
		for _, mm := range p.Members {
			listed = append(listed, mm.ID)
			if mm.Role == "owner" {
				owners++
			}
		}
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	if len(listed) != bigGroup || owners != 1 || !sort.StringsAreSorted(listed) {
		t.Fatalf("paged %d members (%d owners), sorted %v", len(listed), owners, sort.StringsAreSorted(listed))
	}
	t.Logf("paged through %d members in %v", len(listed), time.Since(phase).Round(time.Millisecond))

	// A mute in the big group: refused at once, told to everyone online.
	muted := fmt.Sprintf("%s%05d", prefix, 0)
	mustStatus(t, cl.Do("PUT", "/v1/groups/"+room+"/mutes/"+muted, owner.Token, map[string]any{"duration_seconds": 600}), 200, "mute")
	for i, c := range conns[1:] {
		if _, err := c.WaitFor(wait, isAdminEvent(room, "member_muted")); err != nil {
			t.Fatalf("online member %d: no group_admin event: %v", i+1, err)
		}
	}
	wantRefused(t, sendResult(t, conns[0], room, "big3"), "muted member of the big group", "muted")

	// Member 10,001 is refused, through a link as through a request.
	tok := cl.Register("late")
	r := cl.Do("POST", "/v1/groups/"+room+"/invites", owner.Token, map[string]any{"max_uses": 5})
	mustStatus(t, r, 201, "invite")
	var inv struct{ Invite struct{ Token string } }
	r.JSON(t, &inv)
	r = cl.Do("POST", "/v1/invites/"+inv.Invite.Token+"/join", tok.Token, nil)
	if r.Status != 409 || r.ErrCode() != protocol.CodeConflict {
		t.Fatalf("member 10,001 by link: %d %s", r.Status, r.Body)
	}
}

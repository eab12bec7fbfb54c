package httpapi_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/gateway"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

func adminCluster(t *testing.T) *apitest.Cluster {
	return apitest.NewCluster(t, 2, apitest.Options{AdminKeys: []string{adminKey}})
}

// closedWithin waits for each socket to get a session_revoked event with
// reason and then the close 4001, all within limit of start.
func closedWithin(t *testing.T, socks []*apitest.WS, reason string, start time.Time, limit time.Duration) {
	t.Helper()
	for i, c := range socks {
		ev, err := c.WaitFor(time.Until(start.Add(limit)), func(o protocol.Outbound) bool {
			return o.Type == protocol.TypeEvent && o.Event == protocol.EventSessionRevoked
		})
		if err != nil {
			t.Fatalf("socket %d: no session_revoked within %s: %v", i, limit, err)
		}
		var d struct {
			All    bool
			Reason string
		}
		_ = json.Unmarshal(ev.Data, &d)
		if !d.All || d.Reason != reason {
			t.Errorf("socket %d: session_revoked %s, want all and reason %q", i, ev.Data, reason)
		}
		if code := c.CloseCode(time.Until(start.Add(limit))); code != protocol.CloseSessionRevoked {
			t.Fatalf("socket %d: close %d within %s, want %d", i, code, limit, protocol.CloseSessionRevoked)
		}
	}
	if took := time.Since(start); took > limit {
		t.Fatalf("sockets closed after %s, want within %s", took, limit)
	}
}

// TestAdminBanClosesSocketsOnEveryNode: a ban closes the user's sockets on
// both gateway nodes (every session) within two seconds, and the old
// tokens no longer open one; after the unban a new login connects.
func TestAdminBanClosesSocketsOnEveryNode(t *testing.T) {
	cl := adminCluster(t)
	u := cl.Register("bws")
	second := cl.Login(u, "", "laptop")
	socks := []*apitest.WS{
		apitest.DialWS(t, cl.Nodes[0].URL, u.Token),
		apitest.DialWS(t, cl.Nodes[1].URL, u.Token),
		apitest.DialWS(t, cl.Nodes[1].URL, second.Token),
	}
	bystander := cl.Register("bys")
	bws := apitest.DialWS(t, cl.Nodes[0].URL, bystander.Token)
	cl.Settle()

	start := time.Now()
	wantStatus(t, "ban", cl.Do("PUT", "/v1/admin/users/"+u.ID+"/ban", adminKey, map[string]string{"reason": "spam"}), 200, "")
	closedWithin(t, socks, "banned", start, 2*time.Second)

	for _, tok := range []string{u.Token, second.Token} {
		if c, err := apitest.TryDialWS(cl.Nodes[0].URL, tok, nil); err == nil {
			_ = c.Conn.Close()
			t.Fatal("a banned user's old token opened a socket")
		}
	}
	// Someone else's socket stays.
	if err := bws.Send(map[string]string{"type": "ping"}); err != nil {
		t.Fatal(err)
	}
	if _, err := bws.WaitFor(5*time.Second, func(o protocol.Outbound) bool { return o.Type == protocol.TypePong }); err != nil {
		t.Fatalf("bystander's socket: %v", err)
	}

	wantStatus(t, "unban", cl.Do("DELETE", "/v1/admin/users/"+u.ID+"/ban", adminKey, nil), 204, "")
	s := cl.Login(u, "", "back")
	apitest.DialWS(t, cl.Nodes[1].URL, s.Token)
}

// TestAdminLogoutClosesSocketsOnEveryNode: a forced logout closes every
// socket of the user on both nodes; the user may log in again.
func TestAdminLogoutClosesSocketsOnEveryNode(t *testing.T) {
	cl := adminCluster(t)
	u := cl.Register("lws")
	minted := cl.Do("POST", "/v1/admin/users/"+u.ID+"/tokens", adminKey, nil)
	wantStatus(t, "mint", minted, 201, "")
	var m struct {
		AccessToken string `json:"access_token"`
	}
	minted.JSON(t, &m)
	socks := []*apitest.WS{
		apitest.DialWS(t, cl.Nodes[0].URL, u.Token),
		apitest.DialWS(t, cl.Nodes[1].URL, m.AccessToken),
	}
	cl.Settle()
	start := time.Now()
	wantStatus(t, "logout", cl.Do("POST", "/v1/admin/users/"+u.ID+"/logout", adminKey, nil), 204, "")
	closedWithin(t, socks, "signed_out_by_admin", start, 2*time.Second)
	s := cl.Login(u, "", "again")
	apitest.DialWS(t, cl.Nodes[0].URL, s.Token)
}

// TestAdminLiveDelivery: a user notice, a broadcast, a room's system
// message and a moderation removal reach connected members live.
func TestAdminLiveDelivery(t *testing.T) {
	cl := adminCluster(t)
	a, b := cl.Register("lva"), cl.Register("lvb")
	room := cl.Befriend(a, b)
	wa := apitest.DialWS(t, cl.Nodes[0].URL, a.Token)
	wb := apitest.DialWS(t, cl.Nodes[1].URL, b.Token)
	cl.Settle()

	wantStatus(t, "notice", cl.Do("POST", "/v1/admin/users/"+a.ID+"/notices", adminKey, map[string]string{"text": "only you"}), 202, "")
	ev, err := wa.WaitFor(5*time.Second, func(o protocol.Outbound) bool {
		return o.Type == protocol.TypeEvent && o.Event == protocol.EventSystemNotice
	})
	if err != nil {
		t.Fatalf("notice: %v", err)
	}
	var n struct{ ID, Text string }
	_ = json.Unmarshal(ev.Data, &n)
	if n.Text != "only you" || n.ID == "" {
		t.Fatalf("notice data %s", ev.Data)
	}

	wantStatus(t, "broadcast", cl.Do("POST", "/v1/admin/broadcasts", adminKey, map[string]string{"text": "to all"}), 202, "")
	for _, c := range []*apitest.WS{wa, wb} {
		if _, err := c.WaitFor(10*time.Second, func(o protocol.Outbound) bool {
			if o.Type != protocol.TypeEvent || o.Event != protocol.EventSystemNotice {
				return false
			}
			var n struct{ Text string }
			_ = json.Unmarshal(o.Data, &n)
			return n.Text == "to all"
		}); err != nil {
			t.Fatalf("broadcast: %v", err)
		}
	}

	wantStatus(t, "room message", cl.Do("POST", "/v1/admin/rooms/"+room+"/messages", adminKey, map[string]string{"text": "system says"}), 201, "")
	msg := sendREST(t, cl.Env, a.Token, room, "to be removed")
	wantStatus(t, "delete", cl.Do("DELETE", "/v1/admin/rooms/"+room+"/messages/"+itoa(msg.Seq), adminKey, nil), 200, "")
	for _, c := range []*apitest.WS{wa, wb} {
		if _, err := c.WaitFor(5*time.Second, func(o protocol.Outbound) bool {
			return o.Type == protocol.TypeMessage && o.Message != nil && o.Message.Kind == "system" && o.Message.Body == "system says"
		}); err != nil {
			t.Fatalf("system message: %v", err)
		}
		if _, err := c.WaitFor(5*time.Second, func(o protocol.Outbound) bool {
			return o.Type == protocol.TypeMessage && o.Message != nil && o.Message.Kind == "recall" && o.Message.Target == msg.Seq
		}); err != nil {
			t.Fatalf("moderation event: %v", err)
		}
	}
}

// TestAdminStats: each node reports its connected users and connections,
// a stopped node drops out, and stored messages show per minute.
func TestAdminStats(t *testing.T) {
	fast := func(o *gateway.Options) { o.StatsInterval = 100 * time.Millisecond }
	cl := apitest.NewCluster(t, 2, apitest.Options{AdminKeys: []string{adminKey}}, fast)
	a, b := cl.Register("sta"), cl.Register("stb")
	room := cl.Befriend(a, b)
	wa := apitest.DialWS(t, cl.Nodes[0].URL, a.Token)
	apitest.DialWS(t, cl.Nodes[0].URL, a.Token)
	wb := apitest.DialWS(t, cl.Nodes[1].URL, b.Token)
	if _, _, err := wa.SendReliably(room, "counted", "st-1", 5, 5*time.Second); err != nil {
		t.Fatal(err)
	}

	type report struct {
		Nodes []struct {
			Node        string
			Users       int
			Connections int
		}
		Users, Connections int
		Minutes            []struct {
			Start    time.Time
			Messages int64
		} `json:"messages_per_minute"`
	}
	read := func(q string) report {
		r := cl.Do("GET", "/v1/admin/stats"+q, adminKey, nil)
		wantStatus(t, "stats", r, 200, "")
		var rep report
		r.JSON(t, &rep)
		return rep
	}
	node0, node1 := wa.Hello.Node, wb.Hello.Node
	var rep report
	deadline := time.Now().Add(10 * time.Second)
	for ; time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		rep = read("?minutes=2")
		var msgs int64
		for _, m := range rep.Minutes {
			msgs += m.Messages
		}
		byNode := map[string][2]int{}
		for _, n := range rep.Nodes {
			byNode[n.Node] = [2]int{n.Users, n.Connections}
		}
		if byNode[node0] == [2]int{1, 2} && byNode[node1] == [2]int{1, 1} && len(rep.Nodes) == 2 &&
			rep.Users == 2 && rep.Connections == 3 && msgs >= 1 && len(rep.Minutes) == 2 {
			break
		}
	}
	if time.Now().After(deadline) {
		t.Fatalf("stats never showed both nodes and the message: %+v", rep)
	}

	// A node that stops drops out within three report intervals.
	cl.Nodes[1].Server.Close()
	_ = cl.Nodes[1].GW.Close()
	deadline = time.Now().Add(10 * time.Second)
	for ; time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if rep = read(""); len(rep.Nodes) == 1 && rep.Nodes[0].Node == node0 && len(rep.Minutes) == 10 {
			break
		}
	}
	if time.Now().After(deadline) {
		t.Fatalf("a stopped node stayed in the stats: %+v", rep)
	}
	wantStatus(t, "minutes 0", cl.Do("GET", "/v1/admin/stats?minutes=0", adminKey, nil), 400, protocol.CodeInvalidArgument)
	wantStatus(t, "minutes 61", cl.Do("GET", "/v1/admin/stats?minutes=61", adminKey, nil), 400, protocol.CodeInvalidArgument)
	wantStatus(t, "minutes x", cl.Do("GET", "/v1/admin/stats?minutes=x", adminKey, nil), 400, protocol.CodeInvalidArgument)
}

package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/gateway"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

const wait = 10 * time.Second

func isMsg(room string) func(protocol.Outbound) bool {
	return func(o protocol.Outbound) bool {
		return o.Type == protocol.TypeMessage && o.Message != nil && o.Message.RoomID == room
	}
}

// collect reads n messages of room from c and returns their seqs in
// arrival order.
func collect(t *testing.T, c *apitest.WS, room string, n int) []int64 {
	t.Helper()
	var seqs []int64
	for len(seqs) < n {
		o, err := c.WaitFor(wait, isMsg(room))
		if err != nil {
			t.Fatalf("after %d of %d messages (%v): %v", len(seqs), n, seqs, err)
		}
		seqs = append(seqs, o.Message.Seq)
	}
	return seqs
}

func TestMessagesReachEveryNodeOnceInOrder(t *testing.T) {
	cl := apitest.NewCluster(t, 3, apitest.Options{})
	a, b, c := cl.Register("ga"), cl.Register("gb"), cl.Register("gc")
	room := cl.Befriend(a, b)
	cl.Befriend(a, c)
	var g struct{ Group struct{ ID string } }
	cl.Do("POST", "/v1/groups", a.Token, map[string]any{"name": "trio", "members": []string{b.Account, c.Account}}).JSON(t, &g)

	a0 := apitest.DialWS(t, cl.Nodes[0].URL, a.Token)
	a2 := apitest.DialWS(t, cl.Nodes[2].URL, a.Token) // A's second device
	b1 := apitest.DialWS(t, cl.Nodes[1].URL, b.Token)
	c2 := apitest.DialWS(t, cl.Nodes[2].URL, c.Token)
	if a0.Hello.UserID != a.ID || a0.Hello.Node == "" || a0.Hello.HeartbeatS <= 0 {
		t.Fatalf("hello: %+v", a0.Hello)
	}
	cl.Settle() // the nodes have subscribed

	// 1:1 from node 0: ack to the sender, the message to B on node 1 and
	// to A's other device on node 2, not to C.
	ack, _, err := a0.SendReliably(room, "hi B", "d1", 10, wait)
	if err != nil || ack.Message.Body != "hi B" {
		t.Fatalf("ack: %+v %v", ack, err)
	}
	for _, cc := range []*apitest.WS{b1, a2} {
		o, err := cc.WaitFor(wait, isMsg(room))
		if err != nil || o.Message.ID != ack.Message.ID || o.Message.From != a.ID {
			t.Fatalf("delivery: %+v %v", o, err)
		}
	}
	// Group: each member sends; everyone gets all in seq order, once.
	senders := []*apitest.WS{a0, b1, c2}
	var want []int64
	for i, s := range senders {
		o, _, err := s.SendReliably(g.Group.ID, fmt.Sprint("g", i), fmt.Sprint("g", i), 10, wait)
		if err != nil {
			t.Fatalf("group send: %v", err)
		}
		want = append(want, o.Message.Seq)
	}
	for i, cc := range []*apitest.WS{a0, a2, b1, c2} {
		if got := collect(t, cc, g.Group.ID, 3); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("conn %d: group order: %v, want %v", i, got, want)
		}
	}
	// Nothing more arrives: no duplicates.
	for _, cc := range []*apitest.WS{a0, a2, b1, c2} {
		if o, err := cc.WaitFor(300*time.Millisecond, isMsg(g.Group.ID)); err == nil {
			t.Fatalf("duplicate delivery: %+v", o)
		}
	}
	// C is not in the 1:1 room: refused with the client_msg_id.
	c2.SendMsg(room, "intruder", "x1")
	if o, err := c2.Ack("x1", wait); err != nil || o.Type != protocol.TypeError || o.Code != protocol.CodeForbidden {
		t.Fatalf("non-member send: %+v %v", o, err)
	}
	c2.Send(map[string]any{"type": "sync", "rooms": map[string]int64{room: 0}})
	if o, err := c2.WaitFor(wait, func(o protocol.Outbound) bool { return o.Type == protocol.TypeError || o.Type == protocol.TypeSynced }); err != nil || o.Code != protocol.CodeForbidden {
		t.Fatalf("non-member sync: %+v %v", o, err)
	}
	// Ex-friends: after the delete event, B can no longer write.
	if r := cl.Do("DELETE", "/v1/friends/"+a.Account, b.Token, nil); r.Status != 204 {
		t.Fatal(r.Status)
	}
	if _, err := b1.WaitFor(wait, func(o protocol.Outbound) bool {
		return o.Type == protocol.TypeEvent && o.Event == protocol.EventFriendRemoved
	}); err != nil {
		t.Fatal("no friend_removed event:", err)
	}
	b1.SendMsg(room, "still there?", "b-late")
	if o, err := b1.Ack("b-late", wait); err != nil || o.Code != protocol.CodeForbidden {
		t.Fatalf("ex-friend send: %+v %v", o, err)
	}
}

// Twenty members on three nodes send at once, as real clients: each waits
// for its ack and retries `unavailable` with the same client_msg_id. The
// promise is checked, not an absence of transient errors: every acked
// message reaches every member exactly once, in seq order, and nothing
// else does.
func TestConcurrentSendersAcrossNodes(t *testing.T) {
	cl := apitest.NewCluster(t, 3, apitest.Options{})
	room, _, conns := groupAcrossNodes(t, cl, 20, "cn")
	acked := sendAllReliably(t, conns, room, 5, false)
	for i, c := range conns {
		expectExactly(t, fmt.Sprintf("member %d (node %d)", i, i%3), c, room, acked, wait)
	}
}

// groupAcrossNodes registers n users, makes the first one the owner of a
// group of them all, connects member i to node i mod the node count, and
// waits for the nodes' subscriptions.
func groupAcrossNodes(t *testing.T, cl *apitest.Cluster, n int, prefix string) (room string, owner *apitest.User, conns []*apitest.WS) {
	t.Helper()
	owner = cl.Register(prefix)
	users := []*apitest.User{owner}
	var accounts []string
	for i := 1; i < n; i++ {
		u := cl.Register(prefix)
		cl.Befriend(owner, u)
		users, accounts = append(users, u), append(accounts, u.Account)
	}
	var g struct{ Group struct{ ID string } }
	cl.Do("POST", "/v1/groups", owner.Token, map[string]any{"name": prefix, "members": accounts}).JSON(t, &g)
	for i, u := range users {
		conns = append(conns, apitest.DialWS(t, cl.Nodes[i%len(cl.Nodes)].URL, u.Token))
	}
	cl.Settle()
	return g.Group.ID, owner, conns
}

// sendAllReliably makes every conn send each messages to room at once (one
// in flight per conn, retried like a real client) and returns the acked
// client_msg_ids by seq. Acks must have distinct seqs. With twice, every
// message is sent again after its ack (a retry after a reconnect), which
// must be answered with the first ack.
func sendAllReliably(t *testing.T, conns []*apitest.WS, room string, each int, twice bool) map[int64]string {
	t.Helper()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		acked   = map[int64]string{}
		retries int
	)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < each; k++ {
				id := fmt.Sprintf("u%d-%d", i, k)
				o, n, err := c.SendReliably(room, id, id, 10, wait)
				if err != nil {
					t.Error(err)
					return
				}
				if twice {
					again, _, err := c.SendReliably(room, id, id, 10, wait)
					if err != nil {
						t.Error(err)
						return
					}
					if again.Message.ID != o.Message.ID || again.Message.Seq != o.Message.Seq {
						t.Errorf("retry of %s acked %+v, first %+v", id, again.Message, o.Message)
					}
				}
				mu.Lock()
				retries += n
				if prev, ok := acked[o.Message.Seq]; ok {
					t.Errorf("seq %d acked for %s and %s", o.Message.Seq, prev, id)
				}
				acked[o.Message.Seq] = id
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d messages acked, %d retries", len(acked), retries)
	return acked
}

// expectExactly reads room's messages from c until it has every acked one,
// each within timeout of the previous, and fails on a duplicate, a message
// that was never acked or one out of seq order; then nothing more may come.
func expectExactly(t *testing.T, who string, c *apitest.WS, room string, acked map[int64]string, timeout time.Duration) {
	t.Helper()
	got := map[int64]bool{}
	var last int64
	for len(got) < len(acked) {
		o, err := c.WaitFor(timeout, isMsg(room))
		if err != nil {
			var missing []string
			for s, id := range acked {
				if !got[s] {
					missing = append(missing, fmt.Sprint(s, "=", id))
				}
			}
			sort.Strings(missing)
			t.Fatalf("%s: %d of %d messages, missing %v: %v", who, len(got), len(acked), missing, err)
		}
		s := o.Message.Seq
		switch {
		case acked[s] == "":
			t.Fatalf("%s: message at seq %d was never acked: %+v", who, s, o.Message)
		case acked[s] != o.Message.ClientMsgID:
			t.Fatalf("%s: seq %d holds %s, acked for %s", who, s, o.Message.ClientMsgID, acked[s])
		case got[s]:
			t.Fatalf("%s: seq %d delivered twice", who, s)
		case s < last:
			t.Fatalf("%s: seq %d after %d", who, s, last)
		}
		got[s], last = true, s
	}
	if o, err := c.WaitFor(200*time.Millisecond, isMsg(room)); err == nil {
		t.Fatalf("%s: unexpected extra delivery %+v", who, o.Message)
	}
}

func TestSyncRecoversMissedMessages(t *testing.T) {
	cl := apitest.NewCluster(t, 2, apitest.Options{})
	a, b := cl.Register("sa"), cl.Register("sb")
	room := cl.Befriend(a, b)
	ca := apitest.DialWS(t, cl.Nodes[0].URL, a.Token)
	var acked []int64 // seqs of m1..m7 (a retried send may leave a closed hole between them)
	for i := 1; i <= 7; i++ {
		o, _, err := ca.SendReliably(room, fmt.Sprint("m", i), fmt.Sprint("m", i), 10, wait)
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		acked = append(acked, o.Message.Seq)
	}
	// B was offline; it connects to the other node and syncs from m3.
	cb := apitest.DialWS(t, cl.Nodes[1].URL, b.Token)
	cb.Send(map[string]any{"type": "sync", "rooms": map[string]int64{room: acked[2]}})
	seqs := collect(t, cb, room, 4)
	if fmt.Sprint(seqs) != fmt.Sprint(acked[3:]) {
		t.Fatalf("sync: %v, want %v", seqs, acked[3:])
	}
	o, err := cb.WaitFor(wait, func(o protocol.Outbound) bool { return o.Type == protocol.TypeSynced })
	if err != nil || o.RoomID != room || o.LastSeq != acked[6] || o.More {
		t.Fatalf("synced: %+v %v", o, err)
	}
	// Idempotent retry over the socket: the same ack, nothing new stored.
	if o, _, err := ca.SendReliably(room, "again", "m3", 10, wait); err != nil || o.Message.Seq != acked[2] || o.Message.Body != "m3" {
		t.Fatalf("retry ack: %+v %v", o, err)
	}
	var h struct{ Messages []struct{ Seq int64 } }
	cl.Do("GET", "/v1/rooms/"+room+"/messages", a.Token, nil).JSON(t, &h)
	if len(h.Messages) != 7 {
		t.Fatalf("%d messages stored, want 7", len(h.Messages))
	}
	// Read over the socket shows in conversations.
	cb.Send(map[string]any{"type": "read", "room_id": room, "seq": acked[6]})
	var cs struct {
		Conversations []struct{ Unread int64 }
	}
	for end := time.Now().Add(wait); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		cl.Do("GET", "/v1/conversations", b.Token, nil).JSON(t, &cs)
		if len(cs.Conversations) == 1 && cs.Conversations[0].Unread == 0 {
			break
		}
	}
	if len(cs.Conversations) != 1 || cs.Conversations[0].Unread != 0 {
		t.Fatalf("unread after read: %+v", cs)
	}
}

func TestRESTSendDeliversOverWebSocket(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{})
	a, b := cl.Register("ra"), cl.Register("rb")
	room := cl.Befriend(a, b)
	cb := apitest.DialWS(t, cl.Nodes[0].URL, b.Token)
	cl.Settle()
	if r := cl.Do("POST", "/v1/rooms/"+room+"/messages", a.Token, map[string]string{"body": "via rest", "client_msg_id": "r1"}); r.Status != 201 {
		t.Fatal(r.Status)
	}
	if o, err := cb.WaitFor(wait, isMsg(room)); err != nil || o.Message.Body != "via rest" {
		t.Fatalf("%+v %v", o, err)
	}
}

func TestEventsChangeSubscriptions(t *testing.T) {
	cl := apitest.NewCluster(t, 2, apitest.Options{})
	a, b := cl.Register("ea"), cl.Register("eb")
	cb := apitest.DialWS(t, cl.Nodes[1].URL, b.Token)
	ca := apitest.DialWS(t, cl.Nodes[0].URL, a.Token)
	cl.Settle()
	// B learns of the request and of the friendship live, and then gets
	// messages of the new room without reconnecting.
	r := cl.Do("POST", "/v1/friend-requests", a.Token, map[string]string{"account": b.Account})
	if r.Status != 201 {
		t.Fatal(r.Status)
	}
	if _, err := cb.WaitFor(wait, func(o protocol.Outbound) bool { return o.Event == protocol.EventFriendRequest }); err != nil {
		t.Fatal("friend_request event:", err)
	}
	var req struct{ Request struct{ ID string } }
	r.JSON(t, &req)
	cl.Do("POST", "/v1/friend-requests/"+req.Request.ID+"/accept", b.Token, nil)
	ev, err := ca.WaitFor(wait, func(o protocol.Outbound) bool { return o.Event == protocol.EventFriendAdded })
	if err != nil || !strings.Contains(string(ev.Data), b.Account) {
		t.Fatalf("friend_added: %+v %v", ev, err)
	}
	if _, err := cb.WaitFor(wait, func(o protocol.Outbound) bool { return o.Event == protocol.EventFriendAdded }); err != nil {
		t.Fatal(err)
	}
	cl.Settle()
	var is struct {
		RoomID string `json:"room_id"`
	}
	cl.Do("GET", "/v1/friends/"+b.Account, a.Token, nil).JSON(t, &is)
	if _, _, err := ca.SendReliably(is.RoomID, "new friend", "n1", 10, wait); err != nil {
		t.Fatal(err)
	}
	if o, err := cb.WaitFor(wait, isMsg(is.RoomID)); err != nil || o.Message.Body != "new friend" {
		t.Fatalf("message in new room: %+v %v", o, err)
	}
}

func TestBadFramesAndUpgrades(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{}, func(o *gateway.Options) {
		o.AllowedOrigins = []string{"https://chat.example"}
		o.MaxConnsPerUser = 2
	})
	u := cl.Register("bad")
	url := cl.Nodes[0].URL
	if _, err := apitest.TryDialWS(url, "", nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("no token: %v", err)
	}
	if _, err := apitest.TryDialWS(url, "nonsense", nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("bad token: %v", err)
	}
	if _, err := apitest.TryDialWS(url, u.Token, http.Header{"Origin": {"https://evil.example"}}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("foreign origin: %v", err)
	}
	if c, err := apitest.TryDialWS(url+"?access_token="+u.Token, "", http.Header{"Origin": {"https://chat.example"}}); err != nil {
		t.Fatalf("query token + allowed origin: %v", err)
	} else {
		c.Conn.Close()
	}
	c := apitest.DialWS(t, url, u.Token)
	for _, f := range []string{
		`{"type":"dance"}`,
		`{"type":"send","room_id":"r","body":"x","client_msg_id":"c","extra":1}`,
		`{"type":"send","room_id":"r","client_msg_id":"c"}`,
		`{"type":"ping","room_id":"r"}`,
		`{"type":"read","room_id":"r"}`,
		`[1,2]`,
	} {
		c.Send(f)
		o, err := c.Next(wait)
		if err != nil || o.Type != protocol.TypeError || o.Code != protocol.CodeInvalidArgument {
			t.Fatalf("%s: %+v %v", f, o, err)
		}
	}
	c.Send(`{"type":"send","room_id":"r","body":"x","client_msg_id":"keep-me","bogus":true}`)
	if o, _ := c.Next(wait); o.ClientMsgID != "keep-me" {
		t.Fatalf("error lacks client_msg_id: %+v", o)
	}
	c.Send(`{"type":"ping"}`)
	if o, err := c.Next(wait); err != nil || o.Type != protocol.TypePong {
		t.Fatalf("still alive? %+v %v", o, err)
	}
	// The per-user connection limit (2 here: c and one more).
	c2 := apitest.DialWS(t, url, u.Token)
	_ = c2
	c3, err := apitest.TryDialWS(url, u.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code := c3.CloseCode(wait); code != ws.StatusPolicyViolation {
		t.Fatalf("third connection: close %d", code)
	}
	// Malformed JSON closes with 1007; an oversized frame with 1009.
	c.Send(`{"type":`)
	if code := c.CloseCode(wait); code != ws.StatusInvalidFramePayloadData {
		t.Fatalf("malformed: close %d (%v)", code, c.Err())
	}
	c4 := apitest.DialWS(t, url, u.Token)
	c4.Send(`{"type":"send","room_id":"r","client_msg_id":"big","body":"` + strings.Repeat("x", 70<<10) + `"}`)
	if code := c4.CloseCode(wait); code != ws.StatusMessageTooBig {
		t.Fatalf("oversized: close %d (%v)", code, c4.Err())
	}
}

func TestDrainSendsReconnect(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{})
	u := cl.Register("dr")
	var cs []*apitest.WS
	for i := 0; i < 3; i++ {
		cs = append(cs, apitest.DialWS(t, cl.Nodes[0].URL, u.Token))
	}
	done := make(chan struct{})
	go func() {
		ctx, cancel := contextWithTimeout(5 * time.Second)
		defer cancel()
		cl.Nodes[0].GW.Drain(ctx)
		close(done)
	}()
	for _, c := range cs {
		o, err := c.WaitFor(wait, func(o protocol.Outbound) bool { return o.Type == protocol.TypeReconnect })
		if err != nil || o.Reason == "" {
			t.Fatalf("reconnect: %+v %v", o, err)
		}
		if code := c.CloseCode(wait); code != ws.StatusGoingAway {
			t.Fatalf("close code %d", code)
		}
	}
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("drain did not finish")
	}
	if !cl.Nodes[0].GW.Draining() {
		t.Fatal("not draining")
	}
	if _, err := apitest.TryDialWS(cl.Nodes[0].URL, u.Token, nil); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("upgrade while draining: %v", err)
	}
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func TestTokenExpiryClosesUnlessRefreshed(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{AccessTTL: 2 * time.Second}, func(o *gateway.Options) {
		o.ExpiryCheck = 100 * time.Millisecond
	})
	u := cl.Register("exp")
	long := &auth.Issuer{Signer: cl.Core.Signer, Issuer: cl.Config.JWTIssuer, Audience: cl.Config.JWTAudience, TTL: time.Hour}
	fresh, _, err := long.Issue(u.ID)
	if err != nil {
		t.Fatal(err)
	}
	stale := apitest.DialWS(t, cl.Nodes[0].URL, u.Token)
	kept := apitest.DialWS(t, cl.Nodes[0].URL, u.Token)
	if err := kept.Send(map[string]string{"type": "refresh", "access_token": fresh}); err != nil {
		t.Fatal(err)
	}
	// Someone else's token is refused and changes nothing.
	other := cl.Register("exp")
	otherTok, _, _ := long.Issue(other.ID)
	if err := stale.Send(map[string]string{"type": "refresh", "access_token": otherTok}); err != nil {
		t.Fatal(err)
	}
	if o, err := stale.Next(wait); err != nil || o.Code != protocol.CodeUnauthenticated {
		t.Fatalf("refresh with another user's token: %+v %v", o, err)
	}
	if code := stale.CloseCode(wait); code != ws.StatusPolicyViolation {
		t.Fatalf("expired connection: close %d (%v)", code, stale.Err())
	}
	kept.Send(`{"type":"ping"}`)
	if o, err := kept.WaitFor(wait, func(o protocol.Outbound) bool { return o.Type == protocol.TypePong }); err != nil {
		t.Fatalf("refreshed connection: %+v %v", o, err)
	}
}

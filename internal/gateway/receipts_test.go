package gateway_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/service"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

func isEvent(name, room string) func(protocol.Outbound) bool {
	return func(o protocol.Outbound) bool {
		if o.Type != protocol.TypeEvent || o.Event != name {
			return false
		}
		var d struct {
			RoomID string `json:"room_id"`
		}
		_ = json.Unmarshal(o.Data, &d)
		return room == "" || d.RoomID == room
	}
}

func readEvent(t *testing.T, c *apitest.WS, room string) service.ReadEvent {
	t.Helper()
	o, err := c.WaitFor(wait, isEvent(protocol.EventRead, room))
	if err != nil {
		t.Fatalf("read event: %v", err)
	}
	var ev service.ReadEvent
	if err := json.Unmarshal(o.Data, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func sendRead(t *testing.T, c *apitest.WS, room string, seq int64) {
	t.Helper()
	if err := c.Send(map[string]any{"type": "read", "room_id": room, "seq": seq}); err != nil {
		t.Fatal(err)
	}
}

// TestDirectReadReceipts: in a direct room the peer (and the reader's
// other devices), on any node, see "read up to seq N" when the mark rises,
// and only then.
func TestDirectReadReceipts(t *testing.T) {
	cl := apitest.NewCluster(t, 2, apitest.Options{})
	a, b := cl.Register("ra"), cl.Register("rb")
	room := cl.Befriend(a, b)
	a0 := apitest.DialWS(t, cl.Nodes[0].URL, a.Token)
	b1 := apitest.DialWS(t, cl.Nodes[1].URL, b.Token)
	b0 := apitest.DialWS(t, cl.Nodes[0].URL, b.Token) // b's second device
	cl.Settle()
	m1 := mustFrameAck(t, a0, map[string]any{"type": "send", "room_id": room, "body": "one", "client_msg_id": "r1"})
	m2 := mustFrameAck(t, a0, map[string]any{"type": "send", "room_id": room, "body": "two", "client_msg_id": "r2"})

	sendRead(t, b1, room, m1.Seq)
	for _, c := range []*apitest.WS{a0, b0} {
		if ev := readEvent(t, c, room); ev != (service.ReadEvent{RoomID: room, UserID: b.ID, Seq: m1.Seq}) {
			t.Fatalf("read event %+v, want b read %d", ev, m1.Seq)
		}
	}
	// No rise, no event: the next one a sees is the rise to m2.
	sendRead(t, b1, room, m1.Seq)
	sendRead(t, b0, room, 0)
	sendRead(t, b1, room, m2.Seq+100) // capped at the last seq
	if ev := readEvent(t, a0, room); ev.Seq != m2.Seq || ev.UserID != b.ID {
		t.Fatalf("read event %+v, want b read %d", ev, m2.Seq)
	}

	var p service.ReadersPage
	cl.Do("GET", "/v1/rooms/"+room+"/messages/"+strconv.FormatInt(m2.Seq, 10)+"/readers", a.Token, nil).JSON(t, &p)
	if p.Read != 1 || len(p.Readers) != 1 || p.Readers[0].User.ID != b.ID || p.Readers[0].ReadSeq != m2.Seq {
		t.Fatalf("readers: %+v", p)
	}
}

// readRetrying sends a read of room up to seq from c, and again (backing
// off) whenever it is answered unavailable or rate_limited, until done.
func readRetrying(t *testing.T, c *apitest.WS, room string, seq int64, done <-chan struct{}) {
	isReadErr := func(o protocol.Outbound) bool { return o.Type == protocol.TypeError && o.RoomID == room }
	backoff := 100 * time.Millisecond
	for try := 0; try < 50; try++ {
		if err := c.Send(map[string]any{"type": "read", "room_id": room, "seq": seq}); err != nil {
			t.Error(err)
			return
		}
		for {
			select {
			case <-done:
				return
			default:
			}
			o, err := c.WaitFor(200*time.Millisecond, isReadErr)
			if err != nil {
				continue // no answer: the read is stored (or still going)
			}
			if o.Code != protocol.CodeUnavailable && o.Code != protocol.CodeRateLimited {
				t.Errorf("read: %s %s", o.Code, o.ErrMessage)
				return
			}
			wait := max(backoff, time.Duration(o.RetryAfterMS)*time.Millisecond)
			backoff = min(2*backoff, 2*time.Second)
			select {
			case <-done:
				return
			case <-time.After(wait):
			}
			break
		}
	}
	t.Error("read: unavailable 50 times")
}

// TestGroupReadCountsExact: the members of a group, on two nodes, read
// the owner's message at once; the owner sees read_counts events, at most
// one a second, whose count ends exact, and the readers route agrees.
// (Fifty readers at once: service.TestReadCountsExactUnderConcurrency and
// the stores' conformance suite; here fewer, as each is a WebSocket
// client on the same small machine.)
func TestGroupReadCountsExact(t *testing.T) {
	const members = 16
	cl := apitest.NewCluster(t, 2, apitest.Options{})
	room, owner, conns := groupAcrossNodes(t, cl, members+1, "rc")
	m := mustFrameAck(t, conns[0], map[string]any{"type": "send", "room_id": room, "body": "read me", "client_msg_id": "rc-1"})
	for i := 1; i <= members; i++ {
		if _, err := conns[i].WaitFor(wait, isMsg(room)); err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
	}
	// Every member marks it read at once, and sends the read again when
	// it is answered unavailable (the gateway sheds), as clients do.
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(done); wg.Wait() }()
	for _, c := range conns[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			readRetrying(t, c, room, m.Seq, done)
		}()
	}

	var last time.Time
	var got int64 = -1
	for events := 0; got != members; events++ {
		if events > 20 {
			t.Fatalf("no exact count after %d read_counts events (last %d)", events, got)
		}
		// Generous: 50 members' reads at once load the store (FerretDB
		// under -race on a small machine takes seconds).
		o, err := conns[0].WaitFor(3*wait, isEvent(protocol.EventReadCounts, room))
		if err != nil {
			t.Fatalf("read_counts (last count %d): %v", got, err)
		}
		now := time.Now()
		if !last.IsZero() && now.Sub(last) < 700*time.Millisecond {
			t.Fatalf("two read_counts events %v apart, want at most one a second", now.Sub(last))
		}
		last = now
		var ev service.ReadCountsEvent
		if err := json.Unmarshal(o.Data, &ev); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, c := range ev.Counts {
			if c.Seq == m.Seq {
				found = true
				if c.Read < got || c.Read > members {
					t.Fatalf("read count of seq %d went %d -> %d (of %d)", m.Seq, got, c.Read, members)
				}
				got = c.Read
			}
		}
		if !found {
			t.Fatalf("read_counts %+v lacks seq %d", ev, m.Seq)
		}
	}

	seen := map[string]bool{}
	after := ""
	for page := 0; ; page++ {
		if page > members {
			t.Fatal("readers pages do not end")
		}
		var p service.ReadersPage
		r := cl.Do("GET", fmt.Sprintf("/v1/rooms/%s/messages/%d/readers?limit=5&after=%s", room, m.Seq, after), owner.Token, nil)
		if r.Status != 200 {
			t.Fatalf("readers: %d %s", r.Status, r.Body)
		}
		r.JSON(t, &p)
		if p.Read != members {
			t.Fatalf("readers: read %d, want %d", p.Read, members)
		}
		for _, x := range p.Readers {
			if x.User.ID == owner.ID || seen[x.User.ID] || x.ReadSeq < m.Seq {
				t.Fatalf("readers page %d: %+v", page, x)
			}
			seen[x.User.ID] = true
			after = x.User.ID
		}
		if !p.HasMore {
			break
		}
	}
	if len(seen) != members {
		t.Fatalf("readers listed %d users, want %d", len(seen), members)
	}
}

// errOf is the code and message of a refused WebSocket send.
func errOf(t *testing.T, c *apitest.WS, room, cmid string) string {
	t.Helper()
	o := frameAck(t, c, map[string]any{"type": "send", "room_id": room, "body": "hi", "client_msg_id": cmid})
	if o.Type != protocol.TypeError {
		t.Fatalf("send %s: %s, want an error", cmid, o.Type)
	}
	return o.Code + ": " + o.ErrMessage
}

// marker makes a's new group with b and waits until conns of b see it:
// events a's actions published on b's channel before it have been handled
// by the nodes of those conns. It fails if one of them is an event that
// names room (the block must not show).
func marker(t *testing.T, cl *apitest.Cluster, a, b *apitest.User, room string, conns ...*apitest.WS) {
	t.Helper()
	var g struct{ Group struct{ ID string } }
	cl.Do("POST", "/v1/groups", a.Token, map[string]any{"name": "marker", "members": []string{b.Account}}).JSON(t, &g)
	for _, c := range conns {
		for i := 0; ; i++ {
			if i > 100 {
				t.Fatal("no group_joined")
			}
			o, err := c.Next(wait)
			if err != nil {
				t.Fatalf("waiting for group_joined: %v", err)
			}
			if o.Type == protocol.TypeEvent && o.Event == protocol.EventGroupJoined {
				break
			}
			if o.Type == protocol.TypeEvent && (o.Event == protocol.EventRoomClosed || o.Event == protocol.EventRoomOpened ||
				isEvent(o.Event, room)(o)) {
				t.Fatalf("the block shows: %s %s", o.Event, o.Data)
			}
		}
	}
}

// TestBlockClosesDirectRoom: a block closes the direct room both ways on
// every node, with the answers a non-friend gets; hides the blocker from
// the blocked user's lookups and requests; leaves groups alone; and an
// unblock restores it all.
func TestBlockClosesDirectRoom(t *testing.T) {
	cl := apitest.NewCluster(t, 2, apitest.Options{})
	alice, bob, carol := cl.Register("ba"), cl.Register("bb"), cl.Register("bc")
	room := cl.Befriend(alice, bob)
	var g struct{ Group struct{ ID string } }
	cl.Do("POST", "/v1/groups", alice.Token, map[string]any{"name": "shared", "members": []string{bob.Account}}).JSON(t, &g)
	a0 := apitest.DialWS(t, cl.Nodes[0].URL, alice.Token)
	b1 := apitest.DialWS(t, cl.Nodes[1].URL, bob.Token)
	c0 := apitest.DialWS(t, cl.Nodes[0].URL, carol.Token)
	cl.Settle()
	mustFrameAck(t, b1, map[string]any{"type": "send", "room_id": room, "body": "before", "client_msg_id": "bb-0"}) // cached member
	b1.Drop()

	// What a non-friend gets.
	wsRefusal := errOf(t, c0, room, "bc-1")
	restRefusal := cl.Do("POST", "/v1/rooms/"+room+"/messages", carol.Token, map[string]string{"body": "hi", "client_msg_id": "bc-2"})
	noUser := cl.Do("GET", "/v1/users/nosuch"+strconv.FormatInt(time.Now().UnixNano()%1e9, 10), bob.Token, nil)
	noUserReq := cl.Do("POST", "/v1/friend-requests", carol.Token, map[string]string{"account": "nosuchuser"})

	for _, who := range []*apitest.User{bob, carol} {
		if r := cl.Do("PUT", "/v1/blocks/"+who.Account, alice.Token, nil); r.Status != 200 {
			t.Fatalf("block: %d %s", r.Status, r.Body)
		}
	}
	marker(t, cl, alice, bob, room, b1)

	if got := errOf(t, b1, room, "bb-1"); got != wsRefusal {
		t.Fatalf("blocked send answered %q, a non-friend's %q", got, wsRefusal)
	}
	r := cl.Do("POST", "/v1/rooms/"+room+"/messages", bob.Token, map[string]string{"body": "hi", "client_msg_id": "bb-2"})
	if r.Status != restRefusal.Status || string(r.Body) != string(restRefusal.Body) {
		t.Fatalf("blocked REST send answered %d %s, a non-friend's %d %s", r.Status, r.Body, restRefusal.Status, restRefusal.Body)
	}
	if got := errOf(t, a0, room, "ba-1"); got != wsRefusal {
		t.Fatalf("the blocker's send answered %q, want %q (closed both ways)", got, wsRefusal)
	}
	b0 := apitest.DialWS(t, cl.Nodes[0].URL, bob.Token) // a new connection loads its rooms
	if got := errOf(t, b0, room, "bb-3"); got != wsRefusal {
		t.Fatalf("blocked send on a new connection answered %q, want %q", got, wsRefusal)
	}
	if r := cl.Do("GET", "/v1/users/"+alice.Account, bob.Token, nil); r.Status != noUser.Status || string(r.Body) != string(noUser.Body) {
		t.Fatalf("lookup of the blocker: %d %s, of nobody: %d %s", r.Status, r.Body, noUser.Status, noUser.Body)
	}
	if r := cl.Do("POST", "/v1/friend-requests", carol.Token, map[string]string{"account": alice.Account}); r.Status != noUserReq.Status ||
		string(r.Body) != string(noUserReq.Body) {
		t.Fatalf("request to the blocker: %d %s, to nobody: %d %s", r.Status, r.Body, noUserReq.Status, noUserReq.Body)
	}
	if r := cl.Do("POST", "/v1/friend-requests", alice.Token, map[string]string{"account": carol.Account}); r.Status != 409 {
		t.Fatalf("the blocker's request: %d %s, want 409", r.Status, r.Body)
	}
	mustFrameAck(t, b1, map[string]any{"type": "send", "room_id": g.Group.ID, "body": "groups are fine", "client_msg_id": "bb-4"})
	var bl struct{ Blocks []service.BlockView }
	cl.Do("GET", "/v1/blocks", alice.Token, nil).JSON(t, &bl)
	if len(bl.Blocks) != 2 || bl.Blocks[0].User.ID != bob.ID || bl.Blocks[1].User.ID != carol.ID {
		t.Fatalf("alice's blocks: %+v", bl)
	}
	cl.Do("GET", "/v1/blocks", bob.Token, nil).JSON(t, &bl)
	if len(bl.Blocks) != 0 {
		t.Fatalf("bob's blocks: %+v", bl)
	}

	if r := cl.Do("DELETE", "/v1/blocks/"+bob.Account, alice.Token, nil); r.Status != 204 {
		t.Fatalf("unblock: %d %s", r.Status, r.Body)
	}
	if r := cl.Do("DELETE", "/v1/blocks/"+bob.Account, alice.Token, nil); r.Status != 404 {
		t.Fatalf("unblock again: %d %s", r.Status, r.Body)
	}
	b0.Drop()
	b1.Drop()
	marker(t, cl, alice, bob, room, b1, b0)
	m := mustFrameAck(t, a0, map[string]any{"type": "send", "room_id": room, "body": "back", "client_msg_id": "ba-2"})
	for _, c := range []*apitest.WS{b1, b0} {
		if _, err := c.WaitFor(wait, func(o protocol.Outbound) bool { return isMsg(room)(o) && o.Message.Seq == m.Seq }); err != nil {
			t.Fatalf("bob does not get alice's message after the unblock: %v", err)
		}
	}
	mustFrameAck(t, b1, map[string]any{"type": "send", "room_id": room, "body": "hello again", "client_msg_id": "bb-5"})
	if r := cl.Do("GET", "/v1/users/"+alice.Account, bob.Token, nil); r.Status != 200 {
		t.Fatalf("lookup after the unblock: %d %s", r.Status, r.Body)
	}
}

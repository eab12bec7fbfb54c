package httpapi_test

import (
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
)

type friendsList struct {
	Friends []struct {
		User   struct{ ID, Account string }
		RoomID string `json:"room_id"`
	}
}

func TestFriendsLifecycle(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	a, b, c := e.Register("fa"), e.Register("fb"), e.Register("fc")

	r := e.Do("POST", "/v1/friend-requests", a.Token, map[string]string{"account": b.Account, "message": "hi, it's A"})
	if r.Status != 201 {
		t.Fatalf("request: %d %s", r.Status, r.Body)
	}
	var req struct{ Request struct{ ID, Message string } }
	r.JSON(t, &req)
	if r := e.Do("POST", "/v1/friend-requests", a.Token, map[string]string{"account": b.Account}); r.Status != 409 {
		t.Fatalf("duplicate request: %d", r.Status)
	}
	if r := e.Do("POST", "/v1/friend-requests", a.Token, map[string]string{"account": a.Account}); r.Status != 400 {
		t.Fatalf("self request: %d", r.Status)
	}
	var lists struct {
		Incoming, Outgoing []struct {
			ID   string
			From struct{ Account string }
		}
	}
	e.Do("GET", "/v1/friend-requests", b.Token, nil).JSON(t, &lists)
	if len(lists.Incoming) != 1 || lists.Incoming[0].From.Account != a.Account {
		t.Fatalf("incoming: %+v", lists)
	}
	e.Do("GET", "/v1/friend-requests", a.Token, nil).JSON(t, &lists)
	if len(lists.Outgoing) != 1 {
		t.Fatalf("outgoing: %+v", lists)
	}
	// Someone else's request: C can neither accept nor decline it.
	if r := e.Do("POST", "/v1/friend-requests/"+req.Request.ID+"/accept", c.Token, nil); r.Status != 403 {
		t.Fatalf("stranger accept: %d", r.Status)
	}
	if r := e.Do("POST", "/v1/friend-requests/"+req.Request.ID+"/decline", c.Token, nil); r.Status != 403 {
		t.Fatalf("stranger decline: %d", r.Status)
	}
	if r := e.Do("POST", "/v1/friend-requests/"+req.Request.ID+"/accept", a.Token, nil); r.Status != 403 {
		t.Fatalf("sender accepts own request: %d", r.Status)
	}
	if r := e.Do("POST", "/v1/friend-requests/01ARZ3NDEKTSV4RRFFQ69G5FAV/accept", b.Token, nil); r.Status != 404 {
		t.Fatalf("unknown request: %d", r.Status)
	}
	r = e.Do("POST", "/v1/friend-requests/"+req.Request.ID+"/accept", b.Token, nil)
	var acc struct {
		Friend struct {
			User   struct{ Account string }
			RoomID string `json:"room_id"`
		}
	}
	r.JSON(t, &acc)
	if r.Status != 200 || acc.Friend.User.Account != a.Account || acc.Friend.RoomID == "" {
		t.Fatalf("accept: %d %s", r.Status, r.Body)
	}
	room := acc.Friend.RoomID

	var is struct {
		IsFriend bool   `json:"is_friend"`
		RoomID   string `json:"room_id"`
	}
	e.Do("GET", "/v1/friends/"+b.Account, a.Token, nil).JSON(t, &is)
	if !is.IsFriend || is.RoomID != room {
		t.Fatalf("is-friend: %+v", is)
	}
	e.Do("GET", "/v1/friends/"+c.Account, a.Token, nil).JSON(t, &is)
	if is.IsFriend {
		t.Fatal("c is not a friend")
	}
	var look struct {
		Account  string
		IsFriend bool `json:"is_friend"`
		Email    string
	}
	e.Do("GET", "/v1/users/"+b.Account, a.Token, nil).JSON(t, &look)
	if look.Account != b.Account || !look.IsFriend || look.Email != "" {
		t.Fatalf("lookup: %+v", look)
	}
	var fl friendsList
	e.Do("GET", "/v1/friends", b.Token, nil).JSON(t, &fl)
	if len(fl.Friends) != 1 || fl.Friends[0].User.Account != a.Account || fl.Friends[0].RoomID != room {
		t.Fatalf("friends: %+v", fl)
	}

	// Chat, delete, lose access, re-add: same room, history kept.
	if r := e.Do("POST", "/v1/rooms/"+room+"/messages", a.Token, map[string]string{"body": "before delete", "client_msg_id": "m1"}); r.Status != 201 {
		t.Fatalf("send: %d %s", r.Status, r.Body)
	}
	if r := e.Do("DELETE", "/v1/friends/"+b.Account, a.Token, nil); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if r := e.Do("DELETE", "/v1/friends/"+b.Account, a.Token, nil); r.Status != 404 {
		t.Fatalf("delete twice: %d", r.Status)
	}
	if r := e.Do("GET", "/v1/rooms/"+room+"/messages", b.Token, nil); r.Status != 403 {
		t.Fatalf("ex-friend reads: %d", r.Status)
	}
	if r := e.Do("POST", "/v1/rooms/"+room+"/messages", b.Token, map[string]string{"body": "x", "client_msg_id": "m2"}); r.Status != 403 {
		t.Fatalf("ex-friend writes: %d", r.Status)
	}
	if again := e.Befriend(b, a); again != room {
		t.Fatalf("re-added friends got room %s, want %s", again, room)
	}
	var h struct {
		Messages []struct{ Body string }
	}
	e.Do("GET", "/v1/rooms/"+room+"/messages", b.Token, nil).JSON(t, &h)
	if len(h.Messages) != 1 || h.Messages[0].Body != "before delete" {
		t.Fatalf("history after re-add: %+v", h)
	}
	// Decline.
	r = e.Do("POST", "/v1/friend-requests", c.Token, map[string]string{"account": a.Account})
	r.JSON(t, &req)
	if r := e.Do("POST", "/v1/friend-requests/"+req.Request.ID+"/decline", a.Token, nil); r.Status != 204 {
		t.Fatalf("decline: %d", r.Status)
	}
	e.Do("GET", "/v1/friend-requests", a.Token, nil).JSON(t, &lists)
	if len(lists.Incoming) != 0 {
		t.Fatalf("declined request still listed: %+v", lists)
	}
}

func TestCrossingFriendRequestsGiveOneFriendship(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	for pair := 0; pair < 4; pair++ {
		a, b := e.Register("xa"), e.Register("xb")
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		for i, p := range [][2]*apitest.User{{a, b}, {b, a}} {
			wg.Add(1)
			go func(i int, from, to *apitest.User) {
				defer wg.Done()
				statuses[i] = e.Do("POST", "/v1/friend-requests", from.Token, map[string]string{"account": to.Account}).Status
			}(i, p[0], p[1])
		}
		wg.Wait()
		if count(statuses, 200) < 1 {
			t.Fatalf("pair %d: neither request made them friends: %v", pair, statuses)
		}
		var fa, fb friendsList
		e.Do("GET", "/v1/friends", a.Token, nil).JSON(t, &fa)
		e.Do("GET", "/v1/friends", b.Token, nil).JSON(t, &fb)
		if len(fa.Friends) != 1 || len(fb.Friends) != 1 || fa.Friends[0].RoomID != fb.Friends[0].RoomID {
			t.Fatalf("pair %d: friendships %+v / %+v", pair, fa, fb)
		}
		var reqs struct{ Incoming, Outgoing []any }
		e.Do("GET", "/v1/friend-requests", a.Token, nil).JSON(t, &reqs)
		if len(reqs.Incoming)+len(reqs.Outgoing) != 0 {
			t.Fatalf("pair %d: requests left behind: %+v", pair, reqs)
		}
		conv := conversations(t, e, a)
		if len(conv) != 1 {
			t.Fatalf("pair %d: %d rooms, want 1", pair, len(conv))
		}
	}
}

type conv struct {
	RoomID  string `json:"room_id"`
	Type    string
	LastSeq int64 `json:"last_seq"`
	ReadSeq int64 `json:"read_seq"`
	Unread  int64
	Peer    *struct{ Account string }
	Group   *struct{ Name string }
	Last    *struct{ Body string } `json:"last_message"`
}

func conversations(t *testing.T, e *apitest.Env, u *apitest.User) []conv {
	t.Helper()
	var c struct{ Conversations []conv }
	r := e.Do("GET", "/v1/conversations", u.Token, nil)
	if r.Status != 200 {
		t.Fatalf("conversations: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &c)
	return c.Conversations
}

func TestGroups(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	owner, m1, m2, stranger := e.Register("go"), e.Register("g1"), e.Register("g2"), e.Register("gs")
	e.Befriend(owner, m1)
	e.Befriend(owner, m2)
	if r := e.Do("POST", "/v1/groups", owner.Token, map[string]any{"name": "G", "members": []string{stranger.Account}}); r.Status != 403 {
		t.Fatalf("adding a non-friend: %d %s", r.Status, r.Body)
	}
	if r := e.Do("POST", "/v1/groups", owner.Token, map[string]any{"name": ""}); r.Status != 400 {
		t.Fatalf("empty name: %d", r.Status)
	}
	r := e.Do("POST", "/v1/groups", owner.Token, map[string]any{"name": "Team", "info": "our group", "members": []string{m1.Account}})
	var g struct {
		Group struct {
			ID, Number, Name, Owner string
			MemberCount             int `json:"member_count"`
			Members                 []struct{ Account string }
		}
	}
	r.JSON(t, &g)
	if r.Status != 201 || g.Group.ID == "" || len(g.Group.Number) != 9 || g.Group.MemberCount != 2 || g.Group.Owner != owner.ID {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	id := g.Group.ID
	if r := e.Do("GET", "/v1/groups/"+id, stranger.Token, nil); r.Status != 403 {
		t.Fatalf("stranger reads group: %d", r.Status)
	}
	if r := e.Do("GET", "/v1/rooms/"+id+"/messages", stranger.Token, nil); r.Status != 403 {
		t.Fatalf("stranger reads history: %d", r.Status)
	}
	if r := e.Do("POST", "/v1/rooms/"+id+"/messages", stranger.Token, map[string]string{"body": "x", "client_msg_id": "s1"}); r.Status != 403 {
		t.Fatalf("stranger writes: %d", r.Status)
	}
	r = e.Do("POST", "/v1/groups/"+id+"/members", owner.Token, map[string]any{"accounts": []string{m2.Account}})
	r.JSON(t, &g)
	if r.Status != 200 || g.Group.MemberCount != 3 || len(g.Group.Members) != 3 {
		t.Fatalf("add: %d %s", r.Status, r.Body)
	}
	var gl struct{ Groups []struct{ ID string } }
	e.Do("GET", "/v1/groups", m2.Token, nil).JSON(t, &gl)
	if len(gl.Groups) != 1 || gl.Groups[0].ID != id {
		t.Fatalf("m2 groups: %+v", gl)
	}
	// Members chat; unread counts.
	for i, u := range []*apitest.User{owner, m1, m2} {
		if r := e.Do("POST", "/v1/rooms/"+id+"/messages", u.Token, map[string]string{"body": fmt.Sprint("hello ", i), "client_msg_id": "g" + fmt.Sprint(i)}); r.Status != 201 {
			t.Fatalf("member send: %d %s", r.Status, r.Body)
		}
	}
	// Seq 1 is the system message that m2 joined (from the owner, who
	// added m2): it counts as unread for m2, as the owner's and m1's
	// messages do.
	for _, c := range conversations(t, e, m2) {
		if c.RoomID == id && (c.Type != "group" || c.LastSeq != 4 || c.Unread != 3 || c.Group == nil || c.Group.Name != "Team") {
			t.Fatalf("m2 conversation: %+v", c)
		}
	}
	// Non-owner cannot remove others or disband; the owner cannot leave.
	if r := e.Do("DELETE", "/v1/groups/"+id+"/members/"+m2.Account, m1.Token, nil); r.Status != 403 {
		t.Fatalf("member removes member: %d", r.Status)
	}
	if r := e.Do("DELETE", "/v1/groups/"+id, m1.Token, nil); r.Status != 403 {
		t.Fatalf("member disbands: %d", r.Status)
	}
	if r := e.Do("DELETE", "/v1/groups/"+id+"/members/"+owner.Account, owner.Token, nil); r.Status != 409 {
		t.Fatalf("owner leaves: %d", r.Status)
	}
	// m1 leaves; the owner removes m2.
	if r := e.Do("DELETE", "/v1/groups/"+id+"/members/"+m1.Account, m1.Token, nil); r.Status != 204 {
		t.Fatalf("leave: %d %s", r.Status, r.Body)
	}
	if r := e.Do("GET", "/v1/rooms/"+id+"/messages", m1.Token, nil); r.Status != 403 {
		t.Fatalf("left member reads: %d", r.Status)
	}
	if r := e.Do("DELETE", "/v1/groups/"+id+"/members/"+m2.Account, owner.Token, nil); r.Status != 204 {
		t.Fatalf("remove: %d %s", r.Status, r.Body)
	}
	e.Do("GET", "/v1/groups/"+id, owner.Token, nil).JSON(t, &g)
	if g.Group.MemberCount != 1 {
		t.Fatalf("after removals: %+v", g.Group)
	}
	if r := e.Do("DELETE", "/v1/groups/"+id, owner.Token, nil); r.Status != 204 {
		t.Fatalf("disband: %d", r.Status)
	}
	if r := e.Do("GET", "/v1/groups/"+id, owner.Token, nil); r.Status != 404 {
		t.Fatalf("disbanded group: %d", r.Status)
	}
	if r := e.Do("POST", "/v1/rooms/"+id+"/messages", owner.Token, map[string]string{"body": "x", "client_msg_id": "late"}); r.Status != 403 {
		t.Fatalf("write to disbanded: %d", r.Status)
	}
}

type msg struct {
	ID          string
	Seq         int64
	From, Body  string
	ClientMsgID string `json:"client_msg_id"`
	RoomID      string `json:"room_id"`
}

func TestMessagesHistoryIdempotencyAndReads(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	a, b := e.Register("ma"), e.Register("mb")
	room := e.Befriend(a, b)
	var first msg
	for i := 1; i <= 25; i++ {
		r := e.Do("POST", "/v1/rooms/"+room+"/messages", a.Token, map[string]string{"body": fmt.Sprint("m", i), "client_msg_id": fmt.Sprint("c", i)})
		if r.Status != 201 {
			t.Fatalf("send %d: %d %s", i, r.Status, r.Body)
		}
		var m msg
		r.JSON(t, &m)
		if m.Seq != int64(i) || m.From != a.ID || m.RoomID != room {
			t.Fatalf("send %d: %+v", i, m)
		}
		if i == 1 {
			first = m
		}
	}
	// Same client_msg_id: the first message again, nothing new stored.
	r := e.Do("POST", "/v1/rooms/"+room+"/messages", a.Token, map[string]string{"body": "other", "client_msg_id": "c1"})
	var again msg
	r.JSON(t, &again)
	if r.Status != 200 || again != first {
		t.Fatalf("retry: %d %+v vs %+v", r.Status, again, first)
	}
	var page struct {
		Messages []msg
		HasMore  bool `json:"has_more"`
	}
	e.Do("GET", "/v1/rooms/"+room+"/messages?limit=10", b.Token, nil).JSON(t, &page)
	if len(page.Messages) != 10 || page.Messages[0].Seq != 16 || page.Messages[9].Seq != 25 || !page.HasMore {
		t.Fatalf("latest page: %+v", page)
	}
	e.Do("GET", "/v1/rooms/"+room+"/messages?before=16&limit=10", b.Token, nil).JSON(t, &page)
	if len(page.Messages) != 10 || page.Messages[0].Seq != 6 || !page.HasMore {
		t.Fatalf("before page: %+v", page)
	}
	e.Do("GET", "/v1/rooms/"+room+"/messages?after=20", b.Token, nil).JSON(t, &page)
	if len(page.Messages) != 5 || page.Messages[0].Seq != 21 || page.HasMore {
		t.Fatalf("after page: %+v", page)
	}
	c := conversations(t, e, b)
	if len(c) != 1 || c[0].Unread != 25 || c[0].LastSeq != 25 || c[0].Peer == nil || c[0].Peer.Account != a.Account || c[0].Last.Body != "m25" {
		t.Fatalf("conversation: %+v", c)
	}
	if r := e.Do("POST", "/v1/rooms/"+room+"/read", b.Token, map[string]int{"seq": 20}); r.Status != 204 {
		t.Fatalf("read: %d %s", r.Status, r.Body)
	}
	c = conversations(t, e, b)
	if c[0].Unread != 5 || c[0].ReadSeq != 20 {
		t.Fatalf("after read: %+v", c[0])
	}
	if c := conversations(t, e, a); c[0].Unread != 0 {
		t.Fatalf("own messages count as unread: %+v", c[0])
	}
	// Bad bodies.
	for _, body := range []map[string]string{
		{"body": "", "client_msg_id": "e1"},
		{"body": "x"},
		{"body": "x", "client_msg_id": "has space"},
	} {
		if r := e.Do("POST", "/v1/rooms/"+room+"/messages", a.Token, body); r.Status != 400 {
			t.Errorf("body %v: %d %s", body, r.Status, r.Body)
		}
	}
	long := make([]rune, 4001)
	for i := range long {
		long[i] = 'é'
	}
	if r := e.Do("POST", "/v1/rooms/"+room+"/messages", a.Token, map[string]string{"body": string(long), "client_msg_id": "long"}); r.Status != 413 {
		t.Errorf("long body: %d %s", r.Status, r.Body)
	}
}

func TestConcurrentSendersGetGapFreeSeqs(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	owner := e.Register("cs")
	const senders, each = 10, 5
	var members []string
	users := []*apitest.User{owner}
	for i := 1; i < senders; i++ {
		u := e.Register("cs")
		e.Befriend(owner, u)
		members = append(members, u.Account)
		users = append(users, u)
	}
	var g struct{ Group struct{ ID string } }
	e.Do("POST", "/v1/groups", owner.Token, map[string]any{"name": "race", "members": members}).JSON(t, &g)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var seqs []int64
	for _, u := range users {
		wg.Add(1)
		go func(u *apitest.User) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				r := e.Do("POST", "/v1/rooms/"+g.Group.ID+"/messages", u.Token, map[string]string{"body": "x", "client_msg_id": fmt.Sprint("k", i)})
				var m msg
				if r.Status != 201 {
					t.Errorf("send: %d %s", r.Status, r.Body)
					return
				}
				r.JSON(t, &m)
				mu.Lock()
				seqs = append(seqs, m.Seq)
				mu.Unlock()
			}
		}(u)
	}
	wg.Wait()
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("seqs not 1..%d without gaps or duplicates: %v", senders*each, seqs)
		}
	}
	if len(seqs) != senders*each {
		t.Fatalf("%d acks, want %d", len(seqs), senders*each)
	}
}

func TestSeqSurvivesRedisLosingCounters(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	a, b := e.Register("sq"), e.Register("sq")
	room := e.Befriend(a, b)
	send := func(id string) msg { return postMessage(t, e, a.Token, room, id) }
	for i := 0; i < 3; i++ {
		send(fmt.Sprint("before", i))
	}
	// Redis forgets the counter (a restart without persistence).
	if err := e.Redis.Del(t.Context(), "seq:{"+room+"}").Err(); err != nil {
		t.Fatal(err)
	}
	if m := send("after"); m.Seq != 4 {
		t.Fatalf("seq after counter loss: %d, want 4", m.Seq)
	}
}

package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/faulttest"
	"github.com/im-websocket-go/im-websocket-go/internal/gateway"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// Short presence timings for the tests: records renewed every 500ms (live
// 1s), offline announced 300ms after the last connection closed. Shorter
// renewals made the tests flaky under -race on a busy machine: a node whose
// renewal came late by one interval was taken for dead by the other (which
// is what the claim is for), announcing its users offline.
const (
	presInterval = 500 * time.Millisecond
	presGrace    = 300 * time.Millisecond
	// quiet is how long a test waits to see that no event comes: the
	// grace plus three renewal rounds.
	quiet = presGrace + 3*presInterval
)

func fastPresence(o *gateway.Options) {
	o.PresenceInterval, o.PresenceGrace = presInterval, presGrace
}

func isPresence(uid string) func(protocol.Outbound) bool {
	return func(o protocol.Outbound) bool {
		if o.Type != protocol.TypeEvent || o.Event != protocol.EventPresence {
			return false
		}
		var p protocol.Presence
		return json.Unmarshal(o.Data, &p) == nil && p.UserID == uid
	}
}

// nextPresence waits for the next presence event about uid.
func nextPresence(t *testing.T, c *apitest.WS, uid string, timeout time.Duration) (protocol.Presence, error) {
	t.Helper()
	o, err := c.WaitFor(timeout, isPresence(uid))
	var p protocol.Presence
	if err == nil {
		err = json.Unmarshal(o.Data, &p)
	}
	return p, err
}

// presenceOf asks GET /v1/presence as asker about uid.
func presenceOf(t *testing.T, cl *apitest.Cluster, asker *apitest.User, uid, room string) protocol.Presence {
	t.Helper()
	path := "/v1/presence?users=" + uid
	if room != "" {
		path += "&room_id=" + room
	}
	r := cl.Do("GET", path, asker.Token, nil)
	var out struct{ Presence []protocol.Presence }
	if r.Status != 200 {
		t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
	}
	r.JSON(t, &out)
	if len(out.Presence) != 1 || out.Presence[0].UserID != uid {
		t.Fatalf("GET %s: %s", path, r.Body)
	}
	return out.Presence[0]
}

// TestPresenceTwoNodes: a user online on node A and node B is announced
// online once, stays online when one connection closes, and is announced
// offline exactly once when both closed, with last_seen.
func TestPresenceTwoNodes(t *testing.T) {
	cl := apitest.NewCluster(t, 2, apitest.Options{}, fastPresence)
	a, b := cl.Register("pa"), cl.Register("pb")
	cl.Befriend(a, b)
	watch := apitest.DialWS(t, cl.Nodes[1].URL, b.Token)
	cl.Settle()

	a0 := apitest.DialWS(t, cl.Nodes[0].URL, a.Token)
	p, err := nextPresence(t, watch, a.ID, wait)
	if err != nil || !p.Online || p.LastSeen != nil {
		t.Fatalf("online event: %+v %v", p, err)
	}
	a1 := apitest.DialWS(t, cl.Nodes[1].URL, a.Token)
	if p := presenceOf(t, cl, b, a.ID, ""); !p.Online {
		t.Fatalf("GET presence while connected twice: %+v", p)
	}
	_ = a0.Conn.Close()
	if p, err := nextPresence(t, watch, a.ID, quiet); err == nil {
		t.Fatalf("presence event %+v while still connected on node B", p)
	}
	if p := presenceOf(t, cl, b, a.ID, ""); !p.Online {
		t.Fatalf("offline after one of two connections closed: %+v", p)
	}
	before := time.Now().Add(-time.Second)
	_ = a1.Conn.Close()
	p, err = nextPresence(t, watch, a.ID, wait)
	if err != nil || p.Online || p.LastSeen == nil || p.LastSeen.Before(before) {
		t.Fatalf("offline event: %+v %v", p, err)
	}
	if p, err := nextPresence(t, watch, a.ID, quiet); err == nil {
		t.Fatalf("second presence event %+v", p)
	}
	got := presenceOf(t, cl, b, a.ID, "")
	if got.Online || got.LastSeen == nil || !got.LastSeen.Equal(*p.LastSeen) {
		t.Fatalf("GET presence after going offline: %+v, event said %v", got, p.LastSeen)
	}
}

// TestPresenceFlapIsDebounced: reconnecting within the grace (to another
// node) sends no event at all.
func TestPresenceFlapIsDebounced(t *testing.T) {
	cl := apitest.NewCluster(t, 2, apitest.Options{}, fastPresence)
	a, b := cl.Register("fa"), cl.Register("fb")
	cl.Befriend(a, b)
	watch := apitest.DialWS(t, cl.Nodes[1].URL, b.Token)
	cl.Settle()
	c := apitest.DialWS(t, cl.Nodes[0].URL, a.Token)
	if p, err := nextPresence(t, watch, a.ID, wait); err != nil || !p.Online {
		t.Fatalf("online event: %+v %v", p, err)
	}
	for i := 0; i < 5; i++ {
		_ = c.Conn.Close()
		c = apitest.DialWS(t, cl.Nodes[i%2].URL, a.Token)
	}
	if p, err := nextPresence(t, watch, a.ID, quiet); err == nil {
		t.Fatalf("presence event %+v for a flapping connection", p)
	}
}

// TestPresencePrivacy: a user who hides their presence reads offline with
// no last_seen to friends and co-members, emits no events; showing it
// again while online tells friends at once.
func TestPresencePrivacy(t *testing.T) {
	cl := apitest.NewCluster(t, 2, apitest.Options{}, fastPresence)
	a, b, c := cl.Register("ha"), cl.Register("hb"), cl.Register("hc")
	cl.Befriend(a, b)
	cl.Befriend(a, c)
	var g struct{ Group struct{ ID string } }
	cl.Do("POST", "/v1/groups", a.Token, map[string]any{"name": "g", "members": []string{b.Account, c.Account}}).JSON(t, &g)
	r := cl.Do("PATCH", "/v1/me", a.Token, map[string]any{"hide_presence": true})
	var me struct {
		HidePresence *bool `json:"hide_presence"`
	}
	r.JSON(t, &me)
	if r.Status != 200 || me.HidePresence == nil || !*me.HidePresence {
		t.Fatalf("PATCH /v1/me hide_presence: %d %s", r.Status, r.Body)
	}
	watch := apitest.DialWS(t, cl.Nodes[1].URL, b.Token)
	cl.Settle()
	ac := apitest.DialWS(t, cl.Nodes[0].URL, a.Token)
	if p, err := nextPresence(t, watch, a.ID, quiet); err == nil {
		t.Fatalf("presence event %+v of a hidden user", p)
	}
	if p := presenceOf(t, cl, b, a.ID, ""); p.Online || p.LastSeen != nil {
		t.Fatalf("friend sees a hidden user: %+v", p)
	}
	if p := presenceOf(t, cl, b, a.ID, g.Group.ID); p.Online || p.LastSeen != nil {
		t.Fatalf("co-member sees a hidden user: %+v", p)
	}
	if p := presenceOf(t, cl, a, a.ID, ""); !p.Online {
		t.Fatalf("a hidden user's own presence: %+v", p)
	}
	// Shown again while online: friends are told at once.
	if r := cl.Do("PATCH", "/v1/me", a.Token, map[string]any{"hide_presence": false}); r.Status != 200 {
		t.Fatalf("PATCH: %d %s", r.Status, r.Body)
	}
	if p, err := nextPresence(t, watch, a.ID, wait); err != nil || !p.Online {
		t.Fatalf("online event after showing presence: %+v %v", p, err)
	}
	// Hidden while online: friends see offline, without last_seen.
	if r := cl.Do("PATCH", "/v1/me", a.Token, map[string]any{"hide_presence": true}); r.Status != 200 {
		t.Fatalf("PATCH: %d %s", r.Status, r.Body)
	}
	if p, err := nextPresence(t, watch, a.ID, wait); err != nil || p.Online || p.LastSeen != nil {
		t.Fatalf("event after hiding: %+v %v", p, err)
	}
	_ = ac.Conn.Close()
	if p, err := nextPresence(t, watch, a.ID, quiet); err == nil {
		t.Fatalf("presence event %+v of a hidden user going offline", p)
	}
	if p := presenceOf(t, cl, b, a.ID, ""); p.Online || p.LastSeen != nil {
		t.Fatalf("friend sees a hidden user's last_seen: %+v", p)
	}
}

// TestPresenceQueryBounds: the batch is capped, ids are checked, and a
// stranger's presence is not told.
func TestPresenceQueryBounds(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{}, fastPresence)
	a, s := cl.Register("qa"), cl.Register("qs")
	sc := apitest.DialWS(t, cl.Nodes[0].URL, s.Token)
	defer sc.Conn.Close()
	ids := make([]byte, 0, 27*10000)
	for i := 0; i < 10000; i++ {
		ids = fmt.Appendf(ids, "01HV6Q2B9W3S5T7V9X1Z3B%04d,", i)
	}
	for path, want := range map[string]int{
		"/v1/presence?users=" + string(ids[:len(ids)-1]): 400,
		"/v1/presence":           400,
		"/v1/presence?users=a/b": 400,
		"/v1/presence?users=" + s.ID + "&room_id=nosuchroom": 403,
	} {
		if r := cl.Do("GET", path, a.Token, nil); r.Status != want {
			t.Errorf("GET %.60s: %d %s, want %d", path, r.Status, r.Body, want)
		}
	}
	// s is online but no friend of a's: read as offline.
	if p := presenceOf(t, cl, a, s.ID, ""); p.Online || p.LastSeen != nil {
		t.Fatalf("a stranger's presence told: %+v", p)
	}
	if p := presenceOf(t, cl, s, s.ID, ""); !p.Online {
		t.Fatalf("own presence: %+v", p)
	}
}

func isTyping(o protocol.Outbound) bool {
	return o.Type == protocol.TypeEvent && o.Event == protocol.EventTyping
}

// TestTypingAcrossNodes: typing is relayed to the room's other members on
// other nodes (not to the typer's own devices), limited per user and room,
// never stored.
func TestTypingAcrossNodes(t *testing.T) {
	cl := apitest.NewCluster(t, 2, apitest.Options{}, fastPresence)
	a, b := cl.Register("ta"), cl.Register("tb")
	room := cl.Befriend(a, b)
	a0 := apitest.DialWS(t, cl.Nodes[0].URL, a.Token)
	a1 := apitest.DialWS(t, cl.Nodes[1].URL, a.Token)
	b1 := apitest.DialWS(t, cl.Nodes[1].URL, b.Token)
	cl.Settle()

	if err := a0.Send(map[string]any{"type": "typing", "room_id": room, "on": true}); err != nil {
		t.Fatal(err)
	}
	o, err := b1.WaitFor(wait, isTyping)
	var ty protocol.Typing
	if err == nil {
		err = json.Unmarshal(o.Data, &ty)
	}
	if err != nil || ty.RoomID != room || ty.UserID != a.ID || !ty.On || ty.ExpiresMS <= 0 {
		t.Fatalf("typing on: %+v %+v %v", o, ty, err)
	}
	// A flood of "on" within the interval is coalesced (dropped
	// silently); "off" passes once.
	for i := 0; i < 30; i++ {
		if err := a0.Send(map[string]any{"type": "typing", "room_id": room, "on": true}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		if err := a0.Send(map[string]any{"type": "typing", "room_id": room, "on": false}); err != nil {
			t.Fatal(err)
		}
	}
	o, err = b1.WaitFor(wait, isTyping)
	if err == nil {
		err = json.Unmarshal(o.Data, &ty)
	}
	if err != nil || ty.On {
		t.Fatalf("after the flood, want the off: %+v %v", ty, err)
	}
	// The flood and the repeated offs produced nothing more; the typer's
	// own devices got nothing; no error frames.
	if err := a0.Send(map[string]string{"type": "ping"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a0.WaitFor(wait, func(o protocol.Outbound) bool { return o.Type == protocol.TypePong }); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*apitest.WS{a0, a1} {
		if o, err := c.WaitFor(quiet, func(o protocol.Outbound) bool { return isTyping(o) || o.Type == protocol.TypeError }); err == nil {
			t.Fatalf("the typer's device got %+v", o)
		}
	}
	if o, err := b1.WaitFor(presGrace, isTyping); err == nil {
		t.Fatalf("extra typing event %+v", o)
	}
	// Never stored: the history and a sync hold no trace of it.
	r := cl.Do("GET", "/v1/rooms/"+room+"/messages?after=0", b.Token, nil)
	var h struct{ Messages []json.RawMessage }
	r.JSON(t, &h)
	if r.Status != 200 || len(h.Messages) != 0 {
		t.Fatalf("history after typing: %d %s", r.Status, r.Body)
	}
	// A bad frame gets an error frame.
	if err := b1.Send(map[string]any{"type": "typing", "room_id": room}); err != nil {
		t.Fatal(err)
	}
	if o, err := b1.WaitFor(wait, func(o protocol.Outbound) bool { return o.Type == protocol.TypeError }); err != nil || o.Code != protocol.CodeInvalidArgument {
		t.Fatalf("typing without on: %+v %v", o, err)
	}
}

// TestPresenceSurvivesRedisOutage: Redis is unreachable from every node
// for longer than the records live (a proxy cuts it); when it answers
// again every node renews its own records before any claims another's, so
// nobody is announced offline.
func TestPresenceSurvivesRedisOutage(t *testing.T) {
	rs := testenv.NewRedisServer(t)
	u, err := url.Parse(rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	px, err := faulttest.NewProxy(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.Close)
	cl := apitest.NewCluster(t, 2, apitest.Options{RedisURL: "redis://" + px.Addr}, fastPresence)
	a, b := cl.Register("ra"), cl.Register("rb")
	cl.Befriend(a, b)
	bc := apitest.DialWS(t, cl.Nodes[1].URL, b.Token)
	cl.Settle()
	ac := apitest.DialWS(t, cl.Nodes[0].URL, a.Token)
	if p, err := nextPresence(t, bc, a.ID, wait); err != nil || !p.Online {
		t.Fatalf("online event: %+v %v", p, err)
	}
	outage := 3 * 2 * presInterval // three record lifetimes
	px.Cut(outage)
	deadline := time.Now().Add(outage + quiet + 2*time.Second)
	for _, w := range []struct {
		c   *apitest.WS
		uid string
	}{{bc, a.ID}, {ac, b.ID}} {
		if p, err := nextPresence(t, w.c, w.uid, time.Until(deadline)); err == nil && !p.Online {
			t.Fatalf("offline event %+v after a Redis outage while connected", p)
		}
	}
	if p := presenceOf(t, cl, b, a.ID, ""); !p.Online {
		t.Fatalf("offline after a Redis outage: %+v", p)
	}
}

package gateway_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/gateway"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// revokedWithin waits for c to get the session_revoked event and the 4001
// close, and returns how long that took from start.
func revokedWithin(t *testing.T, c *apitest.WS, start time.Time, reason string) time.Duration {
	t.Helper()
	o, err := c.WaitFor(wait, func(o protocol.Outbound) bool {
		return o.Type == protocol.TypeEvent && o.Event == protocol.EventSessionRevoked
	})
	if err != nil {
		t.Fatalf("no session_revoked event: %v", err)
	}
	var d struct{ Reason string }
	_ = json.Unmarshal(o.Data, &d)
	if reason != "" && d.Reason != reason {
		t.Fatalf("reason %q, want %q (%s)", d.Reason, reason, o.Data)
	}
	if code := c.CloseCode(wait); code != ws.StatusCode(protocol.CloseSessionRevoked) {
		t.Fatalf("close status %d, want %d", code, protocol.CloseSessionRevoked)
	}
	return time.Since(start)
}

// stillOpen checks that c answers a ping.
func stillOpen(t *testing.T, c *apitest.WS) {
	t.Helper()
	if err := c.Send(map[string]string{"type": "ping"}); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if _, err := c.WaitFor(wait, func(o protocol.Outbound) bool { return o.Type == "pong" }); err != nil {
		t.Fatalf("no pong: %v", err)
	}
}

func TestRevokedSessionClosesOnEveryNode(t *testing.T) {
	cl := apitest.NewCluster(t, 2, apitest.Options{})
	u := cl.Register("rv")
	stolen := cl.Login(u, "", "stolen phone")
	mine := cl.Login(u, "", "laptop")
	onB := apitest.DialWS(t, cl.Nodes[1].URL, stolen.Token)
	onB2 := apitest.DialWS(t, cl.Nodes[0].URL, stolen.Token) // same session, other node
	keep := apitest.DialWS(t, cl.Nodes[0].URL, mine.Token)
	cl.Settle()

	start := time.Now()
	if r := cl.Do("DELETE", "/v1/me/sessions/"+stolen.ID, mine.Token, nil); r.Status != 204 {
		t.Fatalf("end session: %d %s", r.Status, r.Body)
	}
	// The API refuses the token at once, on any route.
	for _, path := range []string{"/v1/me", "/v1/friends", "/v1/conversations"} {
		if r := cl.Do("GET", path, stolen.Token, nil); r.Status != 401 {
			t.Fatalf("%s with a revoked token: %d %s", path, r.Status, r.Body)
		}
	}
	apiTook := time.Since(start)
	for _, c := range []*apitest.WS{onB, onB2} {
		if took := revokedWithin(t, c, start, "signed_out"); took > time.Second {
			t.Errorf("socket closed %v after the revocation, want within 1s", took)
		}
	}
	if apiTook > time.Second {
		t.Errorf("API refused %v after the revocation, want within 1s", apiTook)
	}
	stillOpen(t, keep)
	// A new upgrade with the revoked token is refused.
	if _, err := apitest.TryDialWS(cl.Nodes[1].URL, stolen.Token, nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("upgrade with a revoked token: %v", err)
	}
}

func TestLogoutAllClosesEverySocket(t *testing.T) {
	cl := apitest.NewCluster(t, 2, apitest.Options{})
	u, other := cl.Register("rva"), cl.Register("rvo")
	a, b := cl.Login(u, "", "a"), cl.Login(u, "", "b")
	ca := apitest.DialWS(t, cl.Nodes[0].URL, a.Token)
	cb := apitest.DialWS(t, cl.Nodes[1].URL, b.Token)
	co := apitest.DialWS(t, cl.Nodes[1].URL, other.Token)
	cl.Settle()
	start := time.Now()
	if r := cl.Do("POST", "/v1/auth/logout-all", a.Token, nil); r.Status != 204 {
		t.Fatalf("logout-all: %d %s", r.Status, r.Body)
	}
	for _, c := range []*apitest.WS{ca, cb} {
		if took := revokedWithin(t, c, start, "signed_out_everywhere"); took > time.Second {
			t.Errorf("socket closed %v after logout-all", took)
		}
	}
	stillOpen(t, co)
}

func TestLogoutClosesThatSessionsSockets(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{})
	u := cl.Register("rvl")
	s := cl.Login(u, "", "tab")
	c := apitest.DialWS(t, cl.Nodes[0].URL, s.Token)
	other := apitest.DialWS(t, cl.Nodes[0].URL, u.Token)
	cl.Settle()
	if r := cl.Do("POST", "/v1/auth/logout", "", map[string]string{"refresh_token": s.Refresh}); r.Status != 204 {
		t.Fatalf("logout: %d %s", r.Status, r.Body)
	}
	revokedWithin(t, c, time.Now(), "logout")
	stillOpen(t, other)
}

// A revocation whose bus event was lost still closes the socket: the
// gateway's sweep checks every socket's token against the revocations.
func TestRevocationSweepCatchesLostEvents(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{}, func(o *gateway.Options) {
		o.RevocationCheck = 100 * time.Millisecond
	})
	u := cl.Register("rvs")
	s := cl.Login(u, "", "x")
	c := apitest.DialWS(t, cl.Nodes[0].URL, s.Token)
	keep := apitest.DialWS(t, cl.Nodes[0].URL, u.Token)
	// Revoke in the KV only, as if the bus had dropped the event.
	if err := cl.Redis.Set(context.Background(), "rv:s:"+s.ID, "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	revokedWithin(t, c, time.Now(), "")
	stillOpen(t, keep)
}

func TestRefreshFrameWithRevokedToken(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{})
	u := cl.Register("rvf")
	s := cl.Login(u, "", "x")
	c := apitest.DialWS(t, cl.Nodes[0].URL, u.Token)
	if err := cl.Redis.Set(context.Background(), "rv:s:"+s.ID, "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(map[string]string{"type": "refresh", "access_token": s.Token}); err != nil {
		t.Fatal(err)
	}
	o, err := c.WaitFor(wait, func(o protocol.Outbound) bool { return o.Type == protocol.TypeError })
	if err != nil || o.Code != protocol.CodeUnauthenticated {
		t.Fatalf("refresh with a revoked token: %+v %v", o, err)
	}
	stillOpen(t, c) // the socket keeps its own, valid token
}

package faulttest

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// TestFaultsPresenceKill: two gateway processes with a 2 s heartbeat
// (presence records renewed every 1 s, living 2 s). A user connected only
// to gw0 has a friend connected to gw1; gw0 is killed with SIGKILL; the
// friend receives the user's offline event, exactly once, within two
// heartbeat intervals, from gw1's claim of gw0's lapsed records.
func TestFaultsPresenceKill(t *testing.T) {
	if os.Getenv("IM_FAULT_SUITE") == "" {
		t.Skip("the fault-injection suite runs alone, in `make test`'s faults step (IM_FAULT_SUITE=1)")
	}
	const heartbeat = 2 * time.Second
	rs := testenv.NewRedisServer(t)
	e := apitest.New(t, apitest.Options{RedisURL: rs.URL()})
	env := map[string]string{
		"IM_MONGO_URI":  e.Config.MongoURI,
		"IM_MONGO_DB":   e.Config.MongoDB,
		"IM_REDIS_URL":  rs.URL(),
		"IM_JWKS_URL":   e.URL + "/.well-known/jwks.json",
		"IM_JWT_ISSUER": e.Config.JWTIssuer, "IM_JWT_AUDIENCE": e.Config.JWTAudience,
		"IM_SHUTDOWN_GRACE": "5s",
		"IM_HEARTBEAT":      heartbeat.String(),
		"IM_PRESENCE_GRACE": "1s",
	}
	gw0, gw1 := StartGateway(t, "pgw0", env), StartGateway(t, "pgw1", env)
	a, b := e.Register("pk"), e.Register("pk")
	e.Befriend(a, b)
	watch := apitest.DialWS(t, gw1.WSURL, b.Token)
	// gw1 subscribes b's channel within a few ms of the upgrade; if the
	// online event was published before that, a reconnects (bounded).
	presence := func(timeout time.Duration) (protocol.Presence, error) {
		o, err := watch.WaitFor(timeout, func(o protocol.Outbound) bool {
			if o.Type != protocol.TypeEvent || o.Event != protocol.EventPresence {
				return false
			}
			var p protocol.Presence
			return json.Unmarshal(o.Data, &p) == nil && p.UserID == a.ID
		})
		var p protocol.Presence
		if err == nil {
			err = json.Unmarshal(o.Data, &p)
		}
		return p, err
	}
	var p protocol.Presence
	var err error
	for try := 0; try < 5; try++ {
		ac := apitest.DialWS(t, gw0.WSURL, a.Token)
		if p, err = presence(10 * time.Second); err == nil && p.Online {
			break
		}
		// Not seen (b's subscription was late): go offline and try again.
		_ = ac.Conn.Close()
		if _, err := presence(10 * time.Second); err != nil {
			t.Fatalf("offline after closing: %v", err)
		}
	}
	if err != nil || !p.Online {
		t.Fatalf("online event: %+v %v", p, err)
	}
	killed := time.Now()
	gw0.Kill()
	p, err = presence(4 * heartbeat)
	took := time.Since(killed)
	if err != nil || p.Online || p.LastSeen == nil {
		t.Fatalf("offline event after SIGKILL: %+v %v (gw1 log:\n%s)", p, err, tail(gw1.Log(), 4000))
	}
	t.Logf("offline event %v after SIGKILL (heartbeat %v)", took.Round(time.Millisecond), heartbeat)
	if took > 2*heartbeat {
		t.Fatalf("offline event %v after SIGKILL, want within two heartbeats (%v)", took, 2*heartbeat)
	}
	if p, err := presence(2 * heartbeat); err == nil {
		t.Fatalf("second presence event %+v", p)
	}
	// The friend's API view agrees: offline, with the last_seen gw1
	// stored when it announced the offline transition.
	var out struct{ Presence []protocol.Presence }
	if r := e.Do("GET", "/v1/presence?users="+a.ID, b.Token, nil); r.Status != 200 {
		t.Fatalf("GET presence: %d %s", r.Status, r.Body)
	} else {
		r.JSON(t, &out)
	}
	if len(out.Presence) != 1 || out.Presence[0].Online || out.Presence[0].LastSeen == nil {
		t.Fatalf("GET presence after the kill: %+v", out.Presence)
	}
}

package standalone_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// TestPresenceStandalone: standalone keeps presence in memory
// (mempresence): a friend's online and offline events arrive, offline
// after the grace, and GET /v1/presence answers with the stored last_seen.
func TestPresenceStandalone(t *testing.T) {
	sink := testenv.NewSMTPSink(t)
	cfg := testConfig(t, t.TempDir(), sink.Addr)
	cfg.PresenceGrace = 200 * time.Millisecond
	s, err := start(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &apitest.Env{T: t, URL: s.URL, SMTP: sink}
	a, b := e.Register("sp"), e.Register("sp")
	e.Befriend(a, b)
	watch := apitest.DialWS(t, wsURL(s.URL), b.Token)
	presence := func() protocol.Presence {
		t.Helper()
		o, err := watch.WaitFor(wait, func(o protocol.Outbound) bool {
			return o.Type == protocol.TypeEvent && o.Event == protocol.EventPresence
		})
		var p protocol.Presence
		if err == nil {
			err = json.Unmarshal(o.Data, &p)
		}
		if err != nil || p.UserID != a.ID {
			t.Fatalf("presence event: %+v %v", p, err)
		}
		return p
	}
	// b's subscription is in place once the hub settled.
	for end := time.Now().Add(wait); !s.Gateway.Settled(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("gateway did not settle")
		}
	}
	ac := apitest.DialWS(t, wsURL(s.URL), a.Token)
	if p := presence(); !p.Online {
		t.Fatalf("want online: %+v", p)
	}
	_ = ac.Conn.Close()
	p := presence()
	if p.Online || p.LastSeen == nil {
		t.Fatalf("want offline with last_seen: %+v", p)
	}
	var out struct{ Presence []protocol.Presence }
	r := e.Do("GET", "/v1/presence?users="+a.ID, b.Token, nil)
	r.JSON(t, &out)
	if r.Status != 200 || len(out.Presence) != 1 || out.Presence[0].Online || out.Presence[0].LastSeen == nil ||
		!out.Presence[0].LastSeen.Equal(*p.LastSeen) {
		t.Fatalf("GET presence: %d %s (event: %v)", r.Status, r.Body, p.LastSeen)
	}
}

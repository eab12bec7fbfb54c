package faulttest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
)

// TestFaultsBusLost: two gateway processes on one Redis; the first one's
// Redis connections (commands and Pub/Sub) go through a proxy that is cut
// for 30 s while six users, three on each node, send in a group of all six
// and in direct rooms across the nodes. The product promises: a send needs
// Redis (its seq counter), so the cut node answers its sends `unavailable`
// during the cut and acks none; the other node goes on; the cut node
// reports the outage (im_gateway_redis_up 0, /readyz 503, one log line
// each way), recovers by itself when the path is back (resubscribes, tells
// its clients to resync, acks again); after the clients' documented
// recovery (resend with the same client_msg_id, then sync) every acked
// message is stored once at its seq and every member has it.
func TestFaultsBusLost(t *testing.T) {
	if os.Getenv("IM_FAULT_SUITE") == "" {
		t.Skip("the fault-injection suite runs alone, in `make test`'s faults step (IM_FAULT_SUITE=1)")
	}
	const (
		cut     = 30 * time.Second
		perUser = 200                    // a bound; the pace below sends about 150
		pace    = 300 * time.Millisecond // one new send per user at most this often
	)
	rs := testenv.NewRedisServer(t)
	e := apitest.New(t, apitest.Options{RedisURL: rs.URL()})
	proxy, err := NewProxy(strings.TrimSuffix(strings.TrimPrefix(rs.URL(), "redis://"), "/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	env := func(redisURL string) map[string]string {
		return map[string]string{
			"IM_MONGO_URI":  e.Config.MongoURI,
			"IM_MONGO_DB":   e.Config.MongoDB,
			"IM_REDIS_URL":  redisURL,
			"IM_JWKS_URL":   e.URL + "/.well-known/jwks.json",
			"IM_JWT_ISSUER": e.Config.JWTIssuer, "IM_JWT_AUDIENCE": e.Config.JWTAudience,
			"IM_SHUTDOWN_GRACE": "5s",
		}
	}
	cutGW := StartGateway(t, "bgw0", env("redis://"+proxy.Addr+"/0"))
	okGW := StartGateway(t, "bgw1", env(rs.URL()))

	cs := newCast(e, 6, "bl")
	cs.link(0, 3) // across the nodes
	cs.link(1, 4)
	cs.link(2, 5)
	cs.link(0, 1) // both on the cut node
	cs.link(0, 2) // the group's owner befriends its members
	cs.link(0, 4)
	cs.link(0, 5)
	cs.group(t, "bl", 0, 1, 2, 3, 4, 5)
	users, rooms := cs.users, cs.rooms

	// Users 0-2 are on the cut node, 3-5 on the other; one ledger each.
	onCut, onOK := newLedger(), newLedger()
	clients := make([]*Client, len(users))
	for i, u := range users {
		gw, l := cutGW, onCut
		if i >= 3 {
			gw, l = okGW, onOK
		}
		url := gw.WSURL
		clients[i] = newClient(u, rooms[u], func() []string { return []string{url} }, l, uint64(300+i))
	}
	t0 := time.Now()
	logf := func(format string, args ...any) {
		t.Logf("%5.1fs "+format, append([]any{time.Since(t0).Seconds()}, args...)...)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	sendersDone := runSenders(ctx, clients, perUser, func(c *Client) bool { return c.n <= int(time.Since(t0)/pace) })

	waitFor(t, "10 acks on each node before the cut", 30*time.Second, func() bool {
		return onCut.acked() >= 10 && onOK.acked() >= 10
	})
	atCut, okAtCut, unavailAtCut := onCut.acked(), onOK.acked(), onCut.errCount("unavailable")
	logf("cutting %s's Redis path for %v (%d + %d acked so far)", cutGW.Name, cut, atCut, okAtCut)
	proxy.Cut(cut)
	cutAt := time.Now()

	// Within a few seconds the node reports the outage.
	waitFor(t, cutGW.Name+" reporting im_gateway_redis_up 0", 10*time.Second, func() bool {
		v, err := cutGW.Metric("im_gateway_redis_up")
		return err == nil && v == 0
	})
	logf("%s reports im_gateway_redis_up 0", cutGW.Name)
	if s := readyz(cutGW); s != http.StatusServiceUnavailable {
		t.Errorf("%s /readyz %d during the cut, want 503", cutGW.Name, s)
	}
	if v, err := okGW.Metric("im_gateway_redis_up"); err != nil || v != 1 {
		t.Errorf("%s im_gateway_redis_up %v (%v) during the other node's cut, want 1", okGW.Name, v, err)
	}
	// From here to the end of the cut, no send on the cut node is acked
	// (sends acked at its very start took their seq before it).
	settled := onCut.acked()
	okSettled := onOK.acked()
	time.Sleep(time.Until(cutAt.Add(cut - 500*time.Millisecond)))
	duringCut, okDuringCut := onCut.acked()-settled, onOK.acked()-okSettled
	unavailDuring := onCut.errCount("unavailable") - unavailAtCut
	logf("end of the cut: %s acked %d sends meanwhile, answered unavailable %d times; %s acked %d", cutGW.Name, duringCut, unavailDuring, okGW.Name, okDuringCut)
	if duringCut != 0 {
		t.Errorf("%s acked %d sends while its Redis path was cut", cutGW.Name, duringCut)
	}
	if unavailDuring == 0 {
		t.Errorf("%s answered no send `unavailable` during the cut (errors %v)", cutGW.Name, onCut.errSummary())
	}
	if okDuringCut == 0 {
		t.Errorf("%s acked nothing while the other node's Redis path was cut", okGW.Name)
	}

	// The path is back: the node recovers by itself.
	atRestore := onCut.acked()
	var recovered time.Duration
	waitFor(t, cutGW.Name+" acking sends again", 30*time.Second, func() bool {
		return onCut.acked() > atRestore
	})
	recovered = time.Since(cutAt) - cut
	logf("%s acks again %.1fs after the path came back", cutGW.Name, recovered.Seconds())
	waitFor(t, cutGW.Name+" reporting im_gateway_redis_up 1 and ready", 10*time.Second, func() bool {
		v, err := cutGW.Metric("im_gateway_redis_up")
		return err == nil && v == 1 && readyz(cutGW) == http.StatusOK
	})
	// A few more seconds of traffic on both, then the senders stop.
	time.Sleep(3 * time.Second)
	stop()
	<-sendersDone
	logf("senders stopped (%d + %d acked)", onCut.acked(), onOK.acked())
	recoverAll(t, clients, time.Now().Add(90*time.Second))
	logf("clients resent and synced")

	stored, holes, total := readRooms(t, e.Backends.Store, rooms)
	missing := 0
	for _, l := range []*Ledger{onCut, onOK} {
		rereadMissing(t, l, e.Backends.Store, stored)
		checkStored(t, l, stored)
		missing += missingAt(t, clients, l)
	}
	for _, c := range clients {
		for _, s := range c.bad {
			t.Errorf("%s: %s", c.User.Account, s)
		}
	}
	reconnects, _ := cutGW.Metric("im_gateway_bus_reconnects_total")
	outages, _ := cutGW.Metric("im_gateway_redis_outages_total")
	if reconnects < 1 {
		t.Errorf("%s im_gateway_bus_reconnects_total %v after the cut, want at least 1", cutGW.Name, reconnects)
	}
	if outages != 1 {
		t.Errorf("%s im_gateway_redis_outages_total %v, want 1", cutGW.Name, outages)
	}
	log := cutGW.Log()
	downLines, upLines := strings.Count(log, `"msg":"redis unreachable`), strings.Count(log, `"msg":"redis reachable again`)
	failLines := strings.Count(log, "send failed")
	logf("%s log: %d line(s) 'redis unreachable', %d 'redis reachable again', %d 'send failed', %d in all", cutGW.Name, downLines, upLines, failLines, strings.Count(log, "\n"))
	if os.Getenv("IM_FAULT_LOGS") != "" {
		t.Logf("--- %s log ---\n%s", cutGW.Name, log)
	}
	if failLines*4 > unavailDuring {
		t.Errorf("%s logged %d 'send failed' lines for %d sends answered unavailable during the cut: the outage should be logged once, not per send", cutGW.Name, failLines, unavailDuring)
	}
	if downLines != 1 || upLines != 1 {
		t.Errorf("%s logged 'redis unreachable' %d times and 'redis reachable again' %d times, want once each", cutGW.Name, downLines, upLines)
	}
	msg := fmt.Sprintf("fault suite (bus lost %v): sent %d, acked %d on the cut node (%d during the cut, unavailable %d, acking again %.1fs after) and %d on the other (%d during the cut), "+
		"stored %d (+%d holes closed), retried with the same client_msg_id %d, errors %v / %v, bus reconnects %v, redis outages %v, members missing acked messages %d",
		cut, onCut.sent+onOK.sent, onCut.acked(), duringCut, unavailDuring, recovered.Seconds(), onOK.acked(), okDuringCut,
		total, holes, onCut.retries+onOK.retries, onCut.errSummary(), onOK.errSummary(), reconnects, outages, missing)
	t.Log(msg)
	fmt.Println(msg)
	if t.Failed() {
		for _, g := range []*GatewayProc{cutGW, okGW} {
			t.Logf("--- %s log (tail) ---\n%s", g.Name, tail(g.Log(), 3000))
		}
	}
}

// waitFor polls cond every 50 ms until it holds, failing the test after d.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("no %s within %v", what, d)
		}
	}
}

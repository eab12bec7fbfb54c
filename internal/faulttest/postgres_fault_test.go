package faulttest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// TestFaultsPostgresRestart: the API and two gateway processes run on a
// PostgreSQL server of the test's own (IM_STORE=postgres; never the
// machine's shared server), six members of a group send reliably through
// both nodes, and PostgreSQL is shut down (fast mode) for a moment and
// started again on the same data and port, twice. Senders see unavailable
// (or rate_limited, nothing else) and retry with the same client_msg_id,
// and the gateways report themselves not ready; once the server is back,
// sends succeed again and the gateways are ready without restarting
// anything. After the senders resend what was not acked and sync, every
// acked message is stored once, at every member exactly once, and each
// sender's messages are in the order sent.
func TestFaultsPostgresRestart(t *testing.T) {
	if os.Getenv("IM_FAULT_SUITE") == "" {
		t.Skip("the fault-injection suite runs alone, in `make test`'s faults step (IM_FAULT_SUITE=1)")
	}
	const (
		members  = 6
		restarts = 2
		outage   = 1500 * time.Millisecond // each deliberate downtime
		warmup   = 150                     // acks before each restart, and after the last
		after    = 5                       // acks per member after a restart, to call the servers recovered
		maxSent  = 4000                    // a bound on the load, far above what the phases need
	)
	t0 := time.Now()
	logf := func(format string, args ...any) {
		t.Helper()
		t.Logf("%5.1fs "+format, append([]any{time.Since(t0).Seconds()}, args...)...)
	}
	pg := testenv.PrivatePostgres(t)
	rs := testenv.NewRedisServer(t)
	e := apitest.New(t, apitest.Options{RedisURL: rs.URL(), Store: "postgres", PostgresURL: pg.URL()})
	env := map[string]string{
		"IM_STORE":        "postgres",
		"IM_POSTGRES_URL": pg.URL(),
		"IM_REDIS_URL":    rs.URL(),
		"IM_JWKS_URL":     e.URL + "/.well-known/jwks.json",
		"IM_JWT_ISSUER":   e.Config.JWTIssuer, "IM_JWT_AUDIENCE": e.Config.JWTAudience,
		"IM_SHUTDOWN_GRACE": "5s",
	}
	gws := []*GatewayProc{StartGateway(t, "pg0", env), StartGateway(t, "pg1", env)}
	urls := []string{gws[0].WSURL, gws[1].WSURL}
	nodes := func() []string { return urls }

	users := make([]*apitest.User, members)
	for i := range users {
		users[i] = e.Register("pgf")
	}
	var names []string
	for _, u := range users[1:] {
		e.Befriend(users[0], u)
		names = append(names, u.Account)
	}
	var g struct{ Group struct{ ID string } }
	if r := e.Do("POST", "/v1/groups", users[0].Token, map[string]any{"name": "pg-restart", "members": names}); r.Status != 201 {
		t.Fatalf("group: %d %s", r.Status, r.Body)
	} else {
		r.JSON(t, &g)
	}
	room := g.Group.ID
	logf("postgres on port %d, 2 gateways, %d members in room %s", pg.Port(), members, room)

	l := newLedger()
	clients := make([]*Client, members)
	for i, u := range users {
		clients[i] = newClient(u, []string{room}, nodes, l, uint64(100+i))
	}
	// acksOf counts the acked messages of each member.
	acksOf := func() map[string]int {
		out := map[string]int{}
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, a := range l.acks {
			out[senderOf(a.cmid)]++
		}
		return out
	}
	// waitFor polls cond until it holds or the deadline passes.
	waitFor := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		for end := time.Now().Add(d); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("%s: not within %v (acks %v, errors %v)", what, d, acksOf(), l.errSummary())
			}
		}
	}

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func(c *Client) {
			defer wg.Done()
			for ctx.Err() == nil {
				var more bool
				l.count(func(l *Ledger) { more = l.sent < maxSent })
				c.step(more)
			}
		}(c)
	}
	stopped := false
	stopLoad := func() {
		if !stopped {
			stopped = true
			stop()
			wg.Wait()
		}
	}
	defer stopLoad()

	// Each cycle: load until warmup more acks, PostgreSQL down for the
	// outage, up again, and every member acked again.
	type cycle struct {
		unavail             int           // unavailable answers while down
		startIn, first, all time.Duration // to start the server; from then to the first ack, to every member's
	}
	var cycles []cycle
	for i := 0; i < restarts; i++ {
		from := l.acked()
		waitFor("acks before the restart", 30*time.Second, func() bool { return l.acked() >= from+warmup })
		var cy cycle
		unavailBefore := l.errCount(protocol.CodeUnavailable)
		before := acksOf()
		logf("restart %d: PostgreSQL stopped (fast shutdown) with %d acks; down for %v", i+1, l.acked(), outage)
		pg.Stop()
		// The outage itself lasts a set time; meanwhile each gateway must
		// report itself not ready.
		notReady := map[string]bool{}
		for end := time.Now().Add(outage); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			for _, g := range gws {
				if readyz(g) != http.StatusOK {
					notReady[g.Name] = true
				}
			}
		}
		for _, g := range gws {
			if !notReady[g.Name] {
				t.Errorf("restart %d: %s kept answering /readyz 200 while PostgreSQL was down", i+1, g.Name)
			}
		}
		cy.unavail = l.errCount(protocol.CodeUnavailable) - unavailBefore
		startAt := time.Now()
		if err := pg.Start(); err != nil {
			t.Fatal(err)
		}
		upAt := time.Now()
		cy.startIn = upAt.Sub(startAt)
		logf("restart %d: PostgreSQL started again in %v; senders saw %d unavailable meanwhile", i+1,
			cy.startIn.Round(time.Millisecond), cy.unavail)
		if cy.unavail == 0 {
			t.Errorf("restart %d: no sender saw unavailable while PostgreSQL was down: the outage was not exercised", i+1)
		}
		// Recovered: every member has sends acked after the restart,
		// through the same gateway processes (their pools reconnect by
		// themselves). A member that reconnected (at random) with a send
		// unanswered resends it only after its 4 s timeout: "all" can
		// take that long.
		waitFor("sends acked again after the restart", 30*time.Second, func() bool {
			now := acksOf()
			n := 0
			for _, u := range users {
				if now[u.Account]-before[u.Account] >= after {
					n++
				}
				if cy.first == 0 && now[u.Account] > before[u.Account] {
					cy.first = time.Since(upAt)
				}
			}
			return n == members
		})
		cy.all = time.Since(upAt)
		waitFor("gateways ready again", 10*time.Second, func() bool {
			for _, g := range gws {
				if readyz(g) != http.StatusOK {
					return false
				}
			}
			return true
		})
		cycles = append(cycles, cy)
		logf("restart %d: every member acked %d+ sends after it (first %v after the start, all %v)", i+1, after,
			cy.first.Round(time.Millisecond), cy.all.Round(time.Millisecond))
	}
	from := l.acked()
	waitFor("acks after the last restart", 30*time.Second, func() bool { return l.acked() >= from+warmup })
	stopLoad()
	logf("senders stopped")

	// The documented recovery: resend what was not acked (same
	// client_msg_id), then reconnect and sync.
	recoverAll(t, clients, time.Now().Add(60*time.Second))
	logf("flushed and synced")

	// The store, read through the API process's own pool (also across the
	// restart).
	st := e.Backends.Store
	stored, holes := readRoom(t, st, room)
	// Stored once each; acked: stored where the ack said; no contradiction.
	checkStored(t, l, map[string]map[int64]string{room: stored})

	l.mu.Lock()
	defer l.mu.Unlock()
	for code, n := range l.errs {
		if code != protocol.CodeUnavailable && code != protocol.CodeRateLimited {
			t.Errorf("%d errors %q: only unavailable and rate_limited may answer a database restart", n, code)
		}
	}
	bySender := map[string][]ackRec{}
	for _, a := range l.acks {
		s := senderOf(a.cmid)
		bySender[s] = append(bySender[s], a)
	}
	if len(l.acks) != len(stored) {
		t.Errorf("%d messages acked, %d stored", len(l.acks), len(stored))
	}
	// Order: one sender's messages (sent one at a time) in the room's
	// order as they were sent.
	for s, as := range bySender {
		sort.Slice(as, func(i, j int) bool { return numOf(as[i].cmid) < numOf(as[j].cmid) })
		for i := 1; i < len(as); i++ {
			if as[i].seq <= as[i-1].seq {
				t.Errorf("%s: %s (seq %d) after %s (seq %d)", s, as[i].cmid, as[i].seq, as[i-1].cmid, as[i-1].seq)
			}
		}
	}
	// Every member: every acked message, exactly once, at its seq.
	missing := 0
	for _, c := range clients {
		for _, s := range c.bad {
			t.Errorf("%s: %s", c.User.Account, s)
		}
		seen := map[string]int64{}
		for seq, id := range c.view[room] {
			if prev, ok := seen[id]; ok {
				t.Errorf("%s has message %s at seqs %d and %d", c.User.Account, id, prev, seq)
			}
			seen[id] = seq
			if stored[seq] != id {
				t.Errorf("%s has %s at seq %d, the store %q", c.User.Account, id, seq, stored[seq])
			}
		}
		for _, a := range l.acks {
			if c.view[room][a.seq] != a.id {
				if missing++; missing <= 10 {
					t.Errorf("%s lacks acked message %+v; it saw %v", c.User.Account, a, seqsOf(c.view[room], a.seq))
				}
			}
		}
	}
	for _, g := range gws {
		if n, err := g.Metric("im_gateway_connections"); err != nil || n != 0 {
			t.Errorf("%s: %v connections left (%v)", g.Name, n, err)
		}
		// A database restart is no reason to cut a client off.
		for _, reason := range []string{"slow_consumer", "write_timeout", "idle", "read_timeout", "protocol", "server_closed"} {
			if n, _ := g.Metric(`im_gateway_disconnects_total{reason="` + reason + `"}`); n > 0 {
				t.Errorf("%s cut %v connections off (%s)", g.Name, n, reason)
			}
		}
	}
	summary := fmt.Sprintf("sent %d, acked %d, stored %d (+%d holes), retried with the same client_msg_id %d, errors %v, "+
		"members missing acked messages %d, total %v; restarts:",
		l.sent, len(l.acks), len(stored), holes, l.retries, l.errs, missing, time.Since(t0).Round(100*time.Millisecond))
	for i, cy := range cycles {
		summary += fmt.Sprintf(" #%d %d unavailable while down, server up in %v, first ack %v later, every member acked again %v later;",
			i+1, cy.unavail, cy.startIn.Round(time.Millisecond), cy.first.Round(time.Millisecond), cy.all.Round(time.Millisecond))
	}
	summary = strings.TrimSuffix(summary, ";")
	t.Log("fault suite (postgres restart): " + summary)
	fmt.Println("fault suite (postgres restart): " + summary)
	for _, g := range gws { // internal errors should not happen: show their causes
		for _, line := range strings.Split(g.Log(), "\n") {
			if strings.Contains(line, `"internal`) || strings.Contains(line, "internal:") {
				t.Logf("%s: %s", g.Name, tail(line, 600))
			}
		}
	}
	if t.Failed() {
		for _, g := range gws {
			t.Logf("--- %s log (tail) ---\n%s", g.Name, tail(g.Log(), 3000))
		}
	}
}

// readyz is the status of a gateway's /readyz (0 when it does not answer).
func readyz(g *GatewayProc) int {
	c := http.Client{Timeout: 2 * time.Second}
	res, err := c.Get(g.AdminURL + "/readyz")
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// senderOf is the account in a client_msg_id (account-n).
func senderOf(cmid string) string { return cmid[:strings.LastIndexByte(cmid, '-')] }

// numOf is the n in a client_msg_id (account-n).
func numOf(cmid string) int {
	n, _ := strconv.Atoi(cmid[strings.LastIndexByte(cmid, '-')+1:])
	return n
}

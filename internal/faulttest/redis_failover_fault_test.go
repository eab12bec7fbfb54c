package faulttest

import (
	"context"
	"fmt"
	"maps"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/redisproc"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
)

// redisFailover is the Redis side of a primary-kill fault case.
type redisFailover struct {
	name   string
	config func(*config.Config)
	env    map[string]string // the gateways' Redis settings
	// primary names the primary now serving key (by majority for
	// sentinels).
	primary func(ctx context.Context, key string) (*testenv.RedisServer, error)
}

// TestFaultsRedisClusterPrimaryKill: two gateway processes on a Redis
// Cluster (3 primaries, 3 replicas, sharded Pub/Sub). Eight Go SDK clients
// send (at most 15 messages each) in four direct rooms and a group; the
// primary owning the group's slot (its seq counter and its channel) is
// killed with SIGKILL while they send. Its replica is promoted; sends
// resume; every acked message is in the store once, in seq order, and
// every member has it after the clients' final sync.
func TestFaultsRedisClusterPrimaryKill(t *testing.T) {
	if os.Getenv("IM_FAULT_SUITE") == "" {
		t.Skip("the fault-injection suite runs alone, in `make test`'s faults step (IM_FAULT_SUITE=1)")
	}
	rc := testenv.NewRedisCluster(t)
	redisPrimaryKill(t, redisFailover{
		name: "redis cluster",
		config: func(c *config.Config) {
			c.RedisTopology, c.RedisClusterAddrs = config.RedisCluster, rc.Addrs()
		},
		env:     map[string]string{"IM_REDIS_CLUSTER_ADDRS": strings.Join(rc.Addrs(), ",")},
		primary: rc.Primary,
	})
}

// TestFaultsRedisSentinelPrimaryKill: the same on a Sentinel setup (a
// primary, a replica, three sentinels, quorum 2): the primary is killed
// with SIGKILL, the sentinels promote the replica, the gateways' failover
// clients follow it. Replication is asynchronous, so the promoted replica
// may hold seq counters behind the store: sends then repair them.
func TestFaultsRedisSentinelPrimaryKill(t *testing.T) {
	if os.Getenv("IM_FAULT_SUITE") == "" {
		t.Skip("the fault-injection suite runs alone, in `make test`'s faults step (IM_FAULT_SUITE=1)")
	}
	st := testenv.NewRedisSentinel(t)
	redisPrimaryKill(t, redisFailover{
		name: "redis sentinel",
		config: func(c *config.Config) {
			c.RedisTopology, c.RedisSentinelAddrs, c.RedisSentinelMaster = config.RedisSentinel, st.Addrs(), redisproc.SentinelMaster
		},
		env: map[string]string{"IM_REDIS_SENTINEL_ADDRS": strings.Join(st.Addrs(), ","),
			"IM_REDIS_SENTINEL_MASTER": redisproc.SentinelMaster},
		primary: func(ctx context.Context, _ string) (*testenv.RedisServer, error) { return st.CurrentPrimary(ctx) },
	})
}

func redisPrimaryKill(t *testing.T, rf redisFailover) {
	const perClient = 15
	e := apitest.New(t, apitest.Options{RedisURL: "redis://127.0.0.1/0", Config: rf.config})
	env := map[string]string{
		"IM_MONGO_URI":  e.Config.MongoURI,
		"IM_MONGO_DB":   e.Config.MongoDB,
		"IM_REDIS_URL":  "redis://127.0.0.1/0",
		"IM_JWKS_URL":   e.URL + "/.well-known/jwks.json",
		"IM_JWT_ISSUER": e.Config.JWTIssuer, "IM_JWT_AUDIENCE": e.Config.JWTAudience,
		"IM_SHUTDOWN_GRACE": "5s",
	}
	maps.Copy(env, rf.env)
	gws := []*GatewayProc{StartGateway(t, "cgw0", env), StartGateway(t, "cgw1", env)}
	nodes := func() []string { return []string{gws[0].WSURL, gws[1].WSURL} }

	users := make([]*apitest.User, 8)
	for i := range users {
		users[i] = e.Register("cf")
	}
	rooms := map[*apitest.User][]string{}
	link := func(a, b *apitest.User) {
		r := e.Befriend(a, b)
		rooms[a], rooms[b] = append(rooms[a], r), append(rooms[b], r)
	}
	for i := 0; i < len(users); i += 2 {
		link(users[i], users[i+1])
	}
	link(users[0], users[2])
	link(users[0], users[4])
	var g struct{ Group struct{ ID string } }
	if r := e.Do("POST", "/v1/groups", users[0].Token, map[string]any{"name": "cg",
		"members": []string{users[1].Account, users[2].Account, users[4].Account}}); r.Status != 201 {
		t.Fatalf("group: %d %s", r.Status, r.Body)
	} else {
		r.JSON(t, &g)
	}
	group := g.Group.ID
	for _, u := range []*apitest.User{users[0], users[1], users[2], users[4]} {
		rooms[u] = append(rooms[u], group)
	}

	l := newLedger()
	clients := make([]*Client, len(users))
	for i, u := range users {
		clients[i] = newClient(u, rooms[u], nodes, l, uint64(100+i))
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func(c *Client) {
			defer wg.Done()
			// Each sends perClient messages, retrying each until acked.
			for ctx.Err() == nil && (c.n < perClient || c.pending != nil) {
				c.step(c.n < perClient)
			}
		}(c)
	}
	sendersDone := make(chan struct{})
	go func() { wg.Wait(); close(sendersDone) }()
	t0 := time.Now()
	logf := func(format string, args ...any) {
		t.Logf("%5.1fs "+format, append([]any{time.Since(t0).Seconds()}, args...)...)
	}
	for end := time.Now().Add(30 * time.Second); l.acked() < 20 && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
	key := "seq:{" + group + "}"
	victim, err := rf.primary(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	atKill := l.acked()
	logf("SIGKILL the primary %s serving the group's seq counter (%d acked so far)", victim.Addr(), atKill)
	victim.Kill()
	var promoted time.Duration
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		p, err := rf.primary(context.Background(), key)
		if err == nil && p != victim {
			promoted = time.Since(t0)
			logf("replica %s promoted", p.Addr())
			break
		}
		if time.Now().After(end) {
			t.Fatalf("no replica promoted in 30s: %v", err)
		}
	}
	atPromotion := l.acked()
	// The senders go on until each sent its messages (bounded in time).
	resumed := time.Duration(0)
	for end := time.Now().Add(90 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resumed == 0 && l.acked() > atPromotion {
			resumed = time.Since(t0)
			logf("sends acked again (%d)", l.acked())
		}
		if sendersDoneYet(sendersDone) {
			break
		}
		if time.Now().After(end) {
			t.Errorf("senders not done 90s after the promotion (%d acked)", l.acked())
			break
		}
	}
	stop()
	<-sendersDone
	logf("senders done (%d acked)", l.acked())
	recoverAll(t, clients, time.Now().Add(90*time.Second))
	logf("senders done and synced")

	stored := map[string]map[int64]string{}
	holes := 0
	for _, rs := range rooms {
		for _, r := range rs {
			if stored[r] == nil {
				var h int
				stored[r], h = readRoom(t, e.Backends.Store, r)
				holes += h
			}
		}
	}
	total := 0
	for _, v := range stored {
		total += len(v)
	}
	checkStored(t, l, stored)
	l.mu.Lock()
	defer l.mu.Unlock()
	missing := 0
	for _, c := range clients {
		for _, s := range c.bad {
			t.Errorf("%s: %s", c.User.Account, s)
		}
		for _, a := range l.acks {
			if _, ok := c.view[a.room]; ok && c.view[a.room][a.seq] != a.id {
				missing++
				if missing < 10 {
					t.Errorf("%s lacks acked message %+v; it saw: %v", c.User.Account, a, seqsOf(c.view[a.room], a.seq))
				}
			}
		}
	}
	if len(l.acks) <= atPromotion {
		t.Errorf("no message acked after the promotion (%d acked then, %d at the end)", atPromotion, len(l.acks))
	}
	var reconnects float64
	for _, g := range gws {
		n, _ := g.Metric("im_gateway_bus_reconnects_total")
		reconnects += n
	}
	msg := fmt.Sprintf("fault suite (%s): primary killed after %d acks, replica promoted at %.1fs, sends acked again at %.1fs; sent %d, acked %d (%d after the promotion), "+
		"stored %d (+%d holes closed), retried with the same client_msg_id %d, errors %v, bus reconnects %v, members missing acked messages %d",
		rf.name, atKill, promoted.Seconds(), resumed.Seconds(), l.sent, len(l.acks), len(l.acks)-atPromotion, total, holes, l.retries, l.errs, reconnects, missing)
	t.Log(msg)
	fmt.Println(msg)
	if t.Failed() {
		for _, g := range gws {
			t.Logf("--- %s log (tail) ---\n%s", g.Name, tail(g.Log(), 3000))
		}
	}
}

// sendersDoneYet reports whether done is closed.
func sendersDoneYet(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

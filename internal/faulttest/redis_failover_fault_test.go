package faulttest

import (
	"context"
	"fmt"
	"maps"
	"os"
	"strings"
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

	cs := newCast(e, 8, "cf")
	for i := 0; i < len(cs.users); i += 2 {
		cs.link(i, i+1)
	}
	cs.link(0, 2)
	cs.link(0, 4)
	group := cs.group(t, "cg", 0, 1, 2, 4)
	users, rooms := cs.users, cs.rooms

	l := newLedger()
	clients := make([]*Client, len(users))
	for i, u := range users {
		clients[i] = newClient(u, rooms[u], nodes, l, uint64(100+i))
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	// Each sends perClient messages, retrying each until acked.
	sendersDone := runSenders(ctx, clients, perClient, nil)
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

	stored, holes, total := readRooms(t, e.Backends.Store, rooms)
	checkStored(t, l, stored)
	missing := missingAt(t, clients, l)
	for _, c := range clients {
		for _, s := range c.bad {
			t.Errorf("%s: %s", c.User.Account, s)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
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

package redisbus

import (
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/im-websocket-go/im-websocket-go/internal/bustest"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
)

func newClusterClient(t *testing.T, addrs []string) *redis.ClusterClient {
	t.Helper()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestConformanceCluster runs the suite on a Redis Cluster (3 primaries,
// 3 replicas): sharded Pub/Sub, every node on its own cluster client.
func TestConformanceCluster(t *testing.T) {
	addrs := testenv.RedisCluster(t)
	bustest.Run(t, func(t *testing.T) func(bus.Handler) bus.Bus {
		return func(h bus.Handler) bus.Bus {
			b := newBus(t, newClusterClient(t, addrs), h, Options{})
			if !b.Sharded() {
				t.Fatal("a bus on a cluster client does not use sharded Pub/Sub")
			}
			return b
		}
	})
}

// The cluster suite with publishes through automatic pipelining, as the
// services wire it with IM_REDIS_AUTOPIPELINE.
func TestConformanceClusterAutoPipelinedPublish(t *testing.T) {
	addrs := testenv.RedisCluster(t)
	bustest.Run(t, func(t *testing.T) func(bus.Handler) bus.Bus {
		return func(h bus.Handler) bus.Bus {
			ap, err := newClusterClient(t, addrs).AutoPipeline()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = ap.Close() })
			return newBus(t, newClusterClient(t, addrs), h, Options{Publisher: ap})
		}
	})
}

// TestConformanceSentinel runs the suite through sentinel failover clients.
func TestConformanceSentinel(t *testing.T) {
	testenv.RedisSentinelClient(t) // starts the setup outside the subtests' timing
	bustest.Run(t, func(t *testing.T) func(bus.Handler) bus.Bus {
		return func(h bus.Handler) bus.Bus {
			b := newBus(t, testenv.RedisSentinelClient(t), h, Options{})
			if b.Sharded() {
				t.Fatal("a bus on a failover client uses sharded Pub/Sub")
			}
			return b
		}
	})
}

// TestSlotOfMatchesCluster checks the lanes' slot function against the
// cluster's CLUSTER KEYSLOT, for room and user channels and odd names.
func TestSlotOfMatchesCluster(t *testing.T) {
	c := newClusterClient(t, testenv.RedisCluster(t))
	names := []string{"", "plain", "{}x", "a{}b{c}", "{a}{b}", "x{y", "x}y{z}", bus.RoomChannel("r-é"), bus.UserChannel("u1")}
	for i := 0; i < 200; i++ {
		names = append(names, bus.RoomChannel(strconv.Itoa(i)))
	}
	for _, n := range names {
		want, err := c.ClusterKeySlot(ctx(t), n).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := slotOf(n); got != int(want) {
			t.Fatalf("slotOf(%q) = %d, CLUSTER KEYSLOT says %d", n, got, want)
		}
	}
}

// TestClusterLanes: channels of many slots (so of every primary) are
// delivered, each slot holds one connection, given up with its last
// channel; a room channel and every key of the room share a slot.
func TestClusterLanes(t *testing.T) {
	addrs := testenv.RedisCluster(t)
	r := bustest.NewRecorder()
	b := newBus(t, newClusterClient(t, addrs), r, Options{})
	pub := newBus(t, newClusterClient(t, addrs), nil, Options{})
	prefix := testenv.UniqueName("lanes")
	const n = 60
	chans := make([]string, n)
	slots := map[int]bool{}
	for i := range chans {
		chans[i] = bus.RoomChannel(prefix + "-" + strconv.Itoa(i))
		slots[slotOf(b.wire(chans[i]))] = true
	}
	if err := b.Subscribe(ctx(t), chans...); err != nil {
		t.Fatal(err)
	}
	if opened, _ := b.Lanes(); opened != uint64(len(slots)) {
		t.Fatalf("%d connections for %d slots", opened, len(slots))
	}
	// Nodes: the primaries serving those channels.
	cc := newClusterClient(t, addrs)
	owners := map[string]bool{}
	for _, c := range chans {
		m, err := cc.MasterForKey(ctx(t), b.wire(c))
		if err != nil {
			t.Fatal(err)
		}
		owners[m.Options().Addr] = true
	}
	if len(owners) != 3 {
		t.Fatalf("%d channels on %d primaries, want 3", n, len(owners))
	}
	for i, c := range chans {
		if err := pub.Publish(ctx(t), c, []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if !r.WaitUntil(bustest.Wait, func(msgs []bustest.Msg, _ int) bool { return len(msgs) >= n }) {
		t.Fatalf("got %d of %d", len(r.Messages()), n)
	}
	if err := b.Unsubscribe(ctx(t), chans...); err != nil {
		t.Fatal(err)
	}
	if opened, retired := b.Lanes(); retired != opened {
		t.Fatalf("after unsubscribing everything: %d connections opened, %d given up", opened, retired)
	}
	// A new subscription after that works (a new lane).
	if err := b.Subscribe(ctx(t), chans[0]); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx(t), chans[0], []byte("again")); err != nil {
		t.Fatal(err)
	}
	r.WaitFor(t, chans[0], "again")
	if r.Resubscribed() != 0 || r.Overlapped() {
		t.Fatalf("resubscribed %d, overlapped %v", r.Resubscribed(), r.Overlapped())
	}
}

// TestClusterConnectionKilled: when a shard drops the bus's sharded
// Pub/Sub connection, the bus reconnects to the same slot, calls
// HandleResubscribed once (the gateway then sends clients resync) and
// delivers again, in order.
func TestClusterConnectionKilled(t *testing.T) {
	addrs := testenv.RedisCluster(t)
	log := &eventLog{}
	b := newBus(t, newClusterClient(t, addrs), log, Options{})
	pub := newBus(t, newClusterClient(t, addrs), nil, Options{})
	ch := bus.RoomChannel(testenv.UniqueName("ckill"))
	if err := b.Subscribe(ctx(t), ch); err != nil {
		t.Fatal(err)
	}
	owner, err := newClusterClient(t, addrs).MasterForKey(ctx(t), b.wire(ch))
	if err != nil {
		t.Fatal(err)
	}
	// Only this test subscribes on this test binary's cluster now.
	reconnectKeepsOrder(t, log, pub, ch, func() (int64, error) {
		return owner.ClientKillByFilter(ctx(t), "TYPE", "pubsub").Result()
	})
}

// TestClusterLanesBounded: however many rooms a node serves, it holds at
// most ShardBuckets Pub/Sub connections, and every channel is delivered.
func TestClusterLanesBounded(t *testing.T) {
	addrs := testenv.RedisCluster(t)
	r := bustest.NewRecorder()
	const buckets, n = 8, 400
	b := newBus(t, newClusterClient(t, addrs), r, Options{ShardBuckets: buckets})
	pub := newBus(t, newClusterClient(t, addrs), nil, Options{ShardBuckets: buckets})
	prefix := testenv.UniqueName("bounded")
	chans := make([]string, n)
	for i := range chans {
		chans[i] = bus.RoomChannel(prefix + "-" + strconv.Itoa(i))
	}
	if err := b.Subscribe(ctx(t), chans...); err != nil {
		t.Fatal(err)
	}
	if opened, _ := b.Lanes(); opened == 0 || opened > buckets {
		t.Fatalf("%d connections for %d channels, want at most %d", opened, n, buckets)
	}
	for i, c := range chans {
		if err := pub.Publish(ctx(t), c, []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if !r.WaitUntil(bustest.Wait, func(msgs []bustest.Msg, _ int) bool { return len(msgs) >= n }) {
		t.Fatalf("got %d of %d", len(r.Messages()), n)
	}
	got := map[string]bool{}
	for _, m := range r.Messages() {
		got[m.Channel] = true
	}
	for _, c := range chans {
		if !got[c] {
			t.Fatalf("nothing delivered on %s (the handler sees the channel's own name)", c)
		}
	}
}

package gateway_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/gateway"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// Two gateway nodes on a Redis Cluster (sharded Pub/Sub) and on a Sentinel
// setup: members of a group and of 1:1 rooms (rooms of many slots, so of
// every shard) are spread over both nodes and send at once; every acked
// message reaches every member exactly once, in seq order.
func TestChatAcrossNodesOnRedisTopologies(t *testing.T) {
	for _, topo := range []string{config.RedisCluster, config.RedisSentinel} {
		t.Run(topo, func(t *testing.T) {
			cl := apitest.NewCluster(t, 2, apitest.Options{Redis: topo})
			room, _, conns := groupAcrossNodes(t, cl, 6, "tp")
			acked := sendAllReliably(t, conns, room, 5, false)
			for i, c := range conns {
				expectExactly(t, fmt.Sprintf("member %d (node %d)", i, i%2), c, room, acked, wait)
			}
			// 1:1 rooms, each pair across the nodes.
			for p := 0; p < 4; p++ {
				a, b := cl.Register("tp1"), cl.Register("tp1")
				dm := cl.Befriend(a, b)
				a0 := apitest.DialWS(t, cl.Nodes[0].URL, a.Token)
				b1 := apitest.DialWS(t, cl.Nodes[1].URL, b.Token)
				cl.Settle()
				acked := sendAllReliably(t, []*apitest.WS{a0, b1}, dm, 3, false)
				expectExactly(t, "a on node 0", a0, dm, acked, wait)
				expectExactly(t, "b on node 1", b1, dm, acked, wait)
			}
		})
	}
}

// When the shards drop the nodes' sharded Pub/Sub connections, the nodes
// reconnect and tell their clients `resync`; messages flow again and
// nothing acked is lost (history has every one, in order).
func TestResyncAfterBusReconnectOnRedisCluster(t *testing.T) {
	cl := apitest.NewCluster(t, 2, apitest.Options{Redis: config.RedisCluster})
	room, owner, conns := groupAcrossNodes(t, cl, 4, "rs")
	before := sendAllReliably(t, conns, room, 2, false)
	for i, c := range conns {
		expectExactly(t, fmt.Sprintf("member %d", i), c, room, before, wait)
	}
	cc := cl.Redis.(*redis.ClusterClient)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var killed atomic.Int64
	if err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		n, err := m.ClientKillByFilter(ctx, "TYPE", "pubsub").Result()
		killed.Add(n)
		return err
	}); err != nil || killed.Load() == 0 {
		t.Fatalf("CLIENT KILL TYPE pubsub on the primaries: %d killed, %v", killed.Load(), err)
	}
	for i, c := range conns {
		if _, err := c.WaitFor(wait, func(o protocol.Outbound) bool {
			return o.Type == protocol.TypeEvent && o.Event == gateway.EventResync
		}); err != nil {
			t.Fatalf("member %d: no resync after the bus reconnected: %v", i, err)
		}
	}
	cl.Settle()
	after := map[int64]string{}
	for i, c := range conns {
		for k := 0; k < 2; k++ {
			id := fmt.Sprintf("after-%d-%d", i, k)
			o, _, err := c.SendReliably(room, id, id, 10, wait)
			if err != nil {
				t.Fatal(err)
			}
			after[o.Message.Seq] = id
		}
	}
	for i, c := range conns {
		expectExactly(t, fmt.Sprintf("member %d after", i), c, room, after, wait)
	}
	_, seqs, _ := history(t, cl, owner.Token, room)
	if len(seqs) != len(before)+len(after) {
		t.Fatalf("history has %d messages, %d acked", len(seqs), len(before)+len(after))
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("history seqs not ordered: %v", seqs)
		}
	}
}

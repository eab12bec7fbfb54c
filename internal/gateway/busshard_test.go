package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/gateway"
	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
	"github.com/im-websocket-go/im-websocket-go/pkg/bus/redisbus"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// resyncData decodes a resync event's data; ok is false for other frames.
func resyncData(o protocol.Outbound) (d map[string]string, ok bool) {
	if o.Type != protocol.TypeEvent || o.Event != gateway.EventResync {
		return nil, false
	}
	if err := json.Unmarshal(o.Data, &d); err != nil {
		return nil, false
	}
	return d, true
}

// On a Redis Cluster, killing the node's sharded Pub/Sub connections on
// one primary only (CLIENT KILL TYPE pubsub there) makes the node tell the
// members of that primary's rooms to sync those rooms (per-room resync),
// and the users whose own channel lives there to sync everything; the
// clients of rooms on the other primaries hear nothing, every acked
// message is in the history, and the per-shard counts are exported.
func TestPerRoomResyncWhenOneShardConnectionDrops(t *testing.T) {
	reg := prometheus.NewRegistry()
	cl := apitest.NewCluster(t, 1, apitest.Options{Redis: config.RedisCluster}, func(o *gateway.Options) { o.Registry = reg })
	rb, ok := cl.Nodes[0].Backends.Bus.(*redisbus.Bus)
	if !ok || !rb.Sharded() {
		t.Fatalf("the node's bus is %T, not a sharded redisbus", cl.Nodes[0].Backends.Bus)
	}
	rb.RefreshShards()
	shardOf := func(channel string) string {
		s := rb.ShardOf(channel)
		if s == redisbus.ShardUnknown {
			t.Fatalf("shard of %s unknown", channel)
		}
		return s
	}
	// userChannel is where a user's events travel: their user shard's
	// channel.
	userChannel := func(u *apitest.User) string { return bus.UserShardChannel(bus.UserShard(u.ID)) }
	// P: the victim primary, where uP's user channel lives.
	uP := cl.Register("ps")
	p := shardOf(userChannel(uP))
	// Pairs of fresh users whose own channels are elsewhere: one pair's
	// 1:1 room on P (the victims), one pair's elsewhere (the others). A
	// room lands on P one time in three (three primaries), so the loop
	// usually ends after a few pairs; maxUsers makes a miss about one run
	// in ten million (40 users made it one in two hundred, and it happened).
	const maxUsers = 120
	var victim, other []*apitest.User
	var roomV, roomO string
	for i := 0; i < maxUsers && (victim == nil || other == nil); {
		var pair []*apitest.User
		for len(pair) < 2 && i < maxUsers {
			i++
			if u := cl.Register("ps"); shardOf(userChannel(u)) != p {
				pair = append(pair, u)
			}
		}
		if len(pair) < 2 {
			break
		}
		dm := cl.Befriend(pair[0], pair[1])
		switch on := shardOf(bus.RoomChannel(dm)) == p; {
		case on && victim == nil:
			victim, roomV = pair, dm
		case !on && other == nil:
			other, roomO = pair, dm
		}
	}
	if victim == nil || other == nil {
		t.Fatalf("could not place rooms on and off %s (victim %v, other %v)", p, victim != nil, other != nil)
	}
	conn := func(u *apitest.User) *apitest.WS { return apitest.DialWS(t, cl.Nodes[0].URL, u.Token) }
	v := []*apitest.WS{conn(victim[0]), conn(victim[1])}
	o := []*apitest.WS{conn(other[0]), conn(other[1])}
	wp := conn(uP)
	cl.Settle()
	beforeV := sendAllReliably(t, v, roomV, 3, false)
	beforeO := sendAllReliably(t, o, roomO, 3, false)
	for i := range v {
		expectExactly(t, fmt.Sprintf("victim %d", i), v[i], roomV, beforeV, wait)
		expectExactly(t, fmt.Sprintf("other %d", i), o[i], roomO, beforeO, wait)
	}

	cc := cl.Redis.(*redis.ClusterClient)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var primary *redis.Client
	if err := cc.ForEachMaster(ctx, func(_ context.Context, m *redis.Client) error {
		if m.Options().Addr == p {
			primary = m
		}
		return nil
	}); err != nil || primary == nil {
		t.Fatalf("primary %s not found: %v", p, err)
	}
	if n, err := primary.ClientKillByFilter(ctx, "TYPE", "pubsub").Result(); err != nil || n == 0 {
		t.Fatalf("CLIENT KILL TYPE pubsub on %s: %d, %v", p, n, err)
	}

	for i, c := range v {
		f, err := c.WaitFor(wait, func(o protocol.Outbound) bool { _, ok := resyncData(o); return ok })
		if err != nil {
			t.Fatalf("victim %d: no resync: %v", i, err)
		}
		if d, _ := resyncData(f); d["room_id"] != roomV || d["reason"] != gateway.ResyncBusReconnected {
			t.Fatalf("victim %d: resync %v, want room %s, reason %q", i, d, roomV, gateway.ResyncBusReconnected)
		}
	}
	f, err := wp.WaitFor(wait, func(o protocol.Outbound) bool { _, ok := resyncData(o); return ok })
	if err != nil {
		t.Fatalf("user whose channel is on %s: no resync: %v", p, err)
	}
	if d, _ := resyncData(f); d["room_id"] != "" {
		t.Fatalf("user channel resync %v, want the node-wide form", d)
	}

	// Messages flow again in both rooms; the others never got a resync
	// (it would have come before these messages, on the same connection).
	cl.Settle()
	afterV := sendEach(t, v, roomV, "after", 2)
	afterO := sendEach(t, o, roomO, "after", 2)
	for i := range v {
		expectExactly(t, fmt.Sprintf("victim %d after", i), v[i], roomV, afterV, wait)
		expectExactly(t, fmt.Sprintf("other %d after", i), o[i], roomO, afterO, wait)
		if f, err := o[i].WaitFor(time.Millisecond, func(o protocol.Outbound) bool { _, ok := resyncData(o); return ok }); err == nil {
			t.Fatalf("other %d (room on another primary) got %s", i, f.Data)
		}
	}
	for room, n := range map[string]int{roomV: len(beforeV) + len(afterV), roomO: len(beforeO) + len(afterO)} {
		if _, seqs, _ := history(t, cl, victimOrOther(room, roomV, victim, other).Token, room); len(seqs) != n {
			t.Fatalf("room %s: history has %d messages, %d acked", room, len(seqs), n)
		}
	}
	if got := metricValue(t, reg, "im_gateway_bus_reconnects_total", ""); got < 1 {
		t.Fatalf("im_gateway_bus_reconnects_total = %v", got)
	}
	// Every message went out through its room's primary and came back.
	if got := shardMetric(t, reg, "im_gateway_bus_published_total", p); got < float64(len(beforeV)+len(afterV)) {
		t.Fatalf("im_gateway_bus_published_total{shard=%q} = %v, want >= %d", p, got, len(beforeV)+len(afterV))
	}
	if got := shardMetric(t, reg, "im_gateway_bus_received_total", shardOf(bus.RoomChannel(roomO))); got < float64(len(beforeO)+len(afterO)) {
		t.Fatalf("im_gateway_bus_received_total{shard=%q} = %v, want >= %d", shardOf(bus.RoomChannel(roomO)), got, len(beforeO)+len(afterO))
	}
}

// sendEach makes every conn send n messages to room, one after the other
// (client_msg_ids prefix-<conn>-<k>, unlike sendAllReliably's, so they are
// new messages), and returns the acked ids by seq.
func sendEach(t *testing.T, conns []*apitest.WS, room, prefix string, n int) map[int64]string {
	t.Helper()
	acked := map[int64]string{}
	for i, c := range conns {
		for k := 0; k < n; k++ {
			id := fmt.Sprintf("%s-%d-%d", prefix, i, k)
			o, _, err := c.SendReliably(room, id, id, 10, wait)
			if err != nil {
				t.Fatal(err)
			}
			acked[o.Message.Seq] = id
		}
	}
	return acked
}

func victimOrOther(room, roomV string, victim, other []*apitest.User) *apitest.User {
	if room == roomV {
		return victim[0]
	}
	return other[0]
}

// shardMetric is the value of a counter family's sample for shard.
func shardMetric(t *testing.T, reg *prometheus.Registry, name, shard string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "shard" && l.GetValue() == shard {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

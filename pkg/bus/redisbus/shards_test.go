package redisbus

import (
	"context"
	"strconv"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/internal/bustest"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
)

// pickChannels returns room channels named after prefix: two that share
// one lane on primary victim's shard, and one on each other primary.
func pickChannels(t *testing.T, b *Bus, owner func(string) string, prefix string) (victim []string, others []string) {
	t.Helper()
	var victimOwner string
	seen := map[string]bool{}
	for i := 0; i < 2000 && (len(victim) < 2 || len(others) < 2); i++ {
		c := bus.RoomChannel(prefix + "-" + strconv.Itoa(i))
		o := owner(c)
		switch {
		case len(victim) == 0:
			victim, victimOwner = append(victim, c), o
		case len(victim) == 1 && b.bucketOf(c) == b.bucketOf(victim[0]):
			victim = append(victim, c)
		case o != victimOwner && !seen[o]:
			seen[o] = true
			others = append(others, c)
		}
	}
	if len(victim) != 2 || len(others) != 2 {
		t.Fatalf("could not spread channels: victim %v, others %v", victim, others)
	}
	return victim, others
}

// TestClusterLaneKilledResubscribesItsChannels: when one slot's Pub/Sub
// connection is killed, a ChannelsResubscriber hears about that lane's
// channels only, and every lane delivers again.
func TestClusterLaneKilledResubscribesItsChannels(t *testing.T) {
	addrs := testenv.RedisCluster(t)
	r := bustest.NewRecorder()
	b := newBus(t, newClusterClient(t, addrs), r, Options{})
	pub := newBus(t, newClusterClient(t, addrs), nil, Options{})
	cc := newClusterClient(t, addrs)
	owner := func(c string) string {
		m, err := cc.MasterForKey(ctx(t), b.wire(c))
		if err != nil {
			t.Fatal(err)
		}
		return m.Options().Addr
	}
	victim, others := pickChannels(t, b, owner, testenv.UniqueName("lanekill"))
	all := append(append([]string(nil), victim...), others...)
	if err := b.Subscribe(ctx(t), all...); err != nil {
		t.Fatal(err)
	}
	m, err := cc.MasterForKey(ctx(t), b.wire(victim[0]))
	if err != nil {
		t.Fatal(err)
	}
	// Only this test subscribes on this test binary's cluster now, and
	// the bus has one lane on that primary.
	if n, err := m.ClientKillByFilter(ctx(t), "TYPE", "pubsub").Result(); err != nil || n != 1 {
		t.Fatalf("CLIENT KILL TYPE pubsub on %s: %d, %v; want 1 connection", m.Options().Addr, n, err)
	}
	for _, c := range victim {
		publishUntil(t, pub, r, c, "after")
	}
	waitResubscribed(t, r, 1)
	for _, c := range others {
		if err := pub.Publish(ctx(t), c, []byte("after")); err != nil {
			t.Fatal(err)
		}
		r.WaitFor(t, c, "after")
	}
	if n := r.Resubscribed(); n != 1 {
		t.Fatalf("%d resubscribe calls, want 1", n)
	}
	got := r.ResubscribedChannels()
	if len(got) != len(victim) || got[victim[0]] != 1 || got[victim[1]] != 1 {
		t.Fatalf("resubscribed channels %v, want the killed lane's %v", got, victim)
	}
	if r.Overlapped() {
		t.Fatal("Handler calls overlapped")
	}
}

// TestShardCounts: a cluster bus counts each message on the primary that
// serves its channel; off-cluster everything is "single".
func TestShardCounts(t *testing.T) {
	t.Run("cluster", func(t *testing.T) {
		addrs := testenv.RedisCluster(t)
		r := bustest.NewRecorder()
		b := newBus(t, newClusterClient(t, addrs), r, Options{})
		pub := newBus(t, newClusterClient(t, addrs), nil, Options{})
		cc := newClusterClient(t, addrs)
		prefix := testenv.UniqueName("shardcount")
		want := map[string]uint64{}
		var chans []string
		for i := 0; i < 30; i++ {
			c := bus.RoomChannel(prefix + "-" + strconv.Itoa(i))
			m, err := cc.MasterForKey(ctx(t), b.wire(c))
			if err != nil {
				t.Fatal(err)
			}
			want[m.Options().Addr]++
			chans = append(chans, c)
		}
		if err := b.Subscribe(ctx(t), chans...); err != nil {
			t.Fatal(err)
		}
		pub.RefreshShards()
		b.RefreshShards()
		for _, c := range chans {
			if err := pub.Publish(ctx(t), c, []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		if !r.WaitUntil(bustest.Wait, func(m []bustest.Msg, _ int) bool { return len(m) == len(chans) }) {
			t.Fatalf("got %d of %d", len(r.Messages()), len(chans))
		}
		if len(want) != 3 {
			t.Fatalf("channels on %d primaries, want 3", len(want))
		}
		checkCounts(t, pub, want, true)
		checkCounts(t, b, want, false)
	})
	t.Run("single", func(t *testing.T) {
		url := testenv.RedisURL(t)
		r := bustest.NewRecorder()
		b := newBus(t, newClient(t, url), r, Options{})
		c := bus.RoomChannel(testenv.UniqueName("shardsingle"))
		if err := b.Subscribe(ctx(t), c); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			if err := b.Publish(ctx(t), c, []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		r.WaitUntil(bustest.Wait, func(m []bustest.Msg, _ int) bool { return len(m) == 5 })
		checkCounts(t, b, map[string]uint64{ShardSingle: 5}, true)
		checkCounts(t, b, map[string]uint64{ShardSingle: 5}, false)
	})
}

// checkCounts compares b's published (or received) counts per shard with
// want; shards not in want must count nothing.
func checkCounts(t *testing.T, b *Bus, want map[string]uint64, published bool) {
	t.Helper()
	got := map[string]uint64{}
	b.ShardCounts(func(shard string, p, r uint64) {
		if published {
			got[shard] = p
		} else {
			got[shard] = r
		}
	})
	for s, n := range got {
		if n != want[s] {
			t.Errorf("shard %s: published=%v count %d, want %d (all: %v)", s, published, n, want[s], got)
		}
	}
	for s, n := range want {
		if got[s] != n {
			t.Errorf("shard %s: published=%v count %d, want %d (all: %v)", s, published, got[s], n, got)
		}
	}
}

// TestLaneResubscribesWithFullQueue: on a cluster, lanes that reconnect
// while the queue is full are remembered (one entry each) and reported in
// one HandleResubscribedChannels call with their channels, before the next
// message; a lane's channels only.
func TestLaneResubscribesWithFullQueue(t *testing.T) {
	c, cancel := context.WithCancel(context.Background())
	r := bustest.NewRecorder()
	l1 := &lane{slot: 1, subs: map[string]*subscription{"a": {id: 1}, "b": {id: 2}}}
	l2 := &lane{slot: 2, subs: map[string]*subscription{"c": {id: 3}}}
	l3 := &lane{slot: 3, subs: map[string]*subscription{"d": {id: 4}}}
	b := &Bus{ctx: c, cancel: cancel, sharded: true, handler: r, queue: make(chan item, 1),
		pending: map[*lane]struct{}{}, lanes: map[int]*lane{1: l1, 2: l2, 3: l3}, subs: map[string]*subscription{}}
	for _, l := range []*lane{l1, l2, l3} {
		for ch, s := range l.subs {
			s.lane = l
			b.subs[ch] = s
		}
	}
	b.queue <- item{channel: "d", payload: []byte("1"), sub: 4}
	for _, l := range []*lane{l1, l2, l1} {
		rd := reader{l: l, lost: true}
		b.reconnected(&rd) // never blocks
	}
	if len(b.pending) != 2 {
		t.Fatalf("%d lanes pending, want 2", len(b.pending))
	}
	b.wg.Add(1)
	go b.deliver()
	defer func() { cancel(); b.wg.Wait() }()
	if !r.WaitUntil(bustest.Wait, func(m []bustest.Msg, n int) bool { return len(m) == 1 && n == 1 }) {
		t.Fatalf("messages %v, resubscribes %d", r.Messages(), r.Resubscribed())
	}
	got := r.ResubscribedChannels()
	if len(got) != 3 || got["a"] != 1 || got["b"] != 1 || got["c"] != 1 {
		t.Fatalf("resubscribed channels %v, want a, b, c once", got)
	}
}

package redisbus

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/im-websocket-go/im-websocket-go/internal/bustest"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
)

// seqLog records, in Handler order, the messages ("<n>" payloads) and the
// resubscribe notifications per channel.
type seqLog struct {
	mu     sync.Mutex
	events []seqEvent
	last   map[string]int // highest payload received per channel
	resubs map[string]int
	all    int // HandleResubscribed calls (every channel affected)
	// changed is closed and replaced on every call.
	changed chan struct{}
}

type seqEvent struct {
	channel string
	n       int // -1: a resubscribe of channel
}

func newSeqLog() *seqLog {
	return &seqLog{last: map[string]int{}, resubs: map[string]int{}, changed: make(chan struct{})}
}

// notifyLocked wakes waitUntil; l.mu is held.
func (l *seqLog) notifyLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// waitFor waits up to d until cond (called under l.mu) holds.
func (l *seqLog) waitFor(d time.Duration, cond func() bool) bool {
	return bustest.Await(d, func() (bool, <-chan struct{}) {
		l.mu.Lock()
		defer l.mu.Unlock()
		return cond(), l.changed
	})
}

// waitUntil waits until cond (called under l.mu) holds, or fails the test
// after bustest.Wait.
func (l *seqLog) waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !l.waitFor(bustest.Wait, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

func (l *seqLog) HandleMessage(channel string, p []byte) {
	n, err := strconv.Atoi(string(p))
	if err != nil {
		n = -2 // not ours
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, seqEvent{channel, n})
	l.last[channel] = max(l.last[channel], n)
	l.notifyLocked()
}

func (l *seqLog) HandleResubscribed() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all++
	l.notifyLocked()
}

func (l *seqLog) HandleResubscribedChannels(channels []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range channels {
		l.events = append(l.events, seqEvent{c, -1})
		l.resubs[c]++
	}
	l.notifyLocked()
}

// lastOfLocked is the highest payload received on c, -1 for none.
func (l *seqLog) lastOfLocked(c string) int {
	if n, ok := l.last[c]; ok {
		return n
	}
	return -1
}

// silentLosses returns, per channel, the published payloads that were
// neither delivered nor followed by a resubscribe of their channel before
// the channel's next delivered message (or the end).
func (l *seqLog) silentLosses(published map[string][]int) map[string][]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string][]int{}
	for c, ns := range published {
		// The events of c in order; a payload missing between two
		// delivered ones must be covered by a resubscribe between them.
		got := map[int]bool{}
		type mark struct{ n, resubsBefore int }
		var marks []mark // each delivered payload with the resubscribes seen before it
		resubs := 0
		for _, e := range l.events {
			if e.channel != c {
				continue
			}
			if e.n == -1 {
				resubs++
				continue
			}
			got[e.n] = true
			marks = append(marks, mark{e.n, resubs})
		}
		for _, n := range ns {
			if got[n] {
				continue
			}
			// The last delivery before n and the first after it.
			before, after := 0, resubs
			for _, m := range marks {
				if m.n < n {
					before = m.resubsBefore
				} else {
					after = m.resubsBefore
					break
				}
			}
			if after == before {
				out[c] = append(out[c], n)
			}
		}
	}
	return out
}

// migrateSlot moves slot from src to dst as redis-cli --cluster reshard
// does (IMPORTING, MIGRATING, MIGRATE of its keys in batches, SETSLOT
// NODE), checking on the way that src answers ASK for a migrated key
// while migrating and MOVED once the slot moved. between runs after each
// batch (the traffic goes on meanwhile).
func migrateSlot(t *testing.T, ctx context.Context, slot int, src, dst *redis.Client, all []*redis.Client, dstID string, between func()) {
	t.Helper()
	srcID, err := src.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("slot %d: %s: %v", slot, what, err)
		}
	}
	must("IMPORTING", dst.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", srcID).Err())
	must("MIGRATING", src.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", dstID).Err())
	host, port, _ := strings.Cut(dst.Options().Addr, ":")
	sawASK := false
	for i := 0; i < 1000; i++ {
		keys, err := src.ClusterGetKeysInSlot(ctx, slot, 10).Result()
		must("GETKEYSINSLOT", err)
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		must("MIGRATE", src.Do(ctx, args...).Err())
		// The source now redirects for a migrated key.
		if err := src.Get(ctx, keys[0]).Err(); err != nil && strings.HasPrefix(err.Error(), "ASK ") {
			sawASK = true
		}
		between()
	}
	if !sawASK {
		t.Fatalf("slot %d: the source never answered ASK for a migrated key", slot)
	}
	must("SETSLOT NODE (target)", dst.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", dstID).Err())
	must("SETSLOT NODE (source)", src.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", dstID).Err())
	for _, c := range all {
		if c != src && c != dst {
			must("SETSLOT NODE (other primary)", c.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", dstID).Err())
		}
	}
}

// TestClusterReshardingNoSilentLoss moves the slots of some rooms from one
// primary to another (a live resharding: ASK while keys migrate, MOVED
// after) while messages flow through them and through rooms of the other
// primaries. Every message published after the subscriptions were
// confirmed is delivered, or its channel gets a resubscribe notification
// before its next message (the bus is at-most-once; a silent loss fails);
// the moved rooms end subscribed on their new primary; the other rooms
// lose nothing and hear of no resubscribe; the per-shard counts follow
// the move.
func TestClusterReshardingNoSilentLoss(t *testing.T) {
	cluster := testenv.NewRedisCluster(t)
	addrs := cluster.Addrs()
	ctx, cancel := context.WithTimeout(context.Background(), 2*bustest.Wait)
	defer cancel()
	log := newSeqLog()
	var errs atomic.Int64
	opts := Options{OnError: func(err error) { errs.Add(1); t.Logf("bus: %v", err) }}
	sub := newBus(t, newClusterClient(t, addrs), log, opts)
	pub := newBus(t, newClusterClient(t, addrs), nil, Options{})
	cc := newClusterClient(t, addrs)

	primaries := map[string]*redis.Client{}
	var all []*redis.Client
	for _, n := range cluster.Nodes {
		c := redis.NewClient(&redis.Options{Addr: n.Addr()})
		t.Cleanup(func() { _ = c.Close() })
		if role, err := c.Do(ctx, "ROLE").Slice(); err == nil && len(role) > 0 && role[0] == "master" {
			primaries[n.Addr()] = c
			all = append(all, c)
		}
	}
	if len(primaries) != 3 {
		t.Fatalf("%d primaries, want 3", len(primaries))
	}
	ownerOf := func(c string) string {
		m, err := cc.MasterForKey(ctx, sub.wire(c))
		if err != nil {
			t.Fatal(err)
		}
		return m.Options().Addr
	}
	// Moving rooms: 6 channels on the first channel's primary A, in at
	// least two buckets; staying rooms: 2 channels on each other primary.
	prefix := testenv.UniqueName("reshard")
	var moving, staying []string
	var srcAddr string
	perOther := map[string]int{}
	buckets := map[int]bool{}
	for i := 0; i < 5000 && (len(moving) < 6 || len(buckets) < 2 || len(staying) < 4); i++ {
		c := bus.RoomChannel(prefix + "-" + strconv.Itoa(i))
		o := ownerOf(c)
		if srcAddr == "" {
			srcAddr = o
		}
		switch {
		case o == srcAddr && (len(moving) < 6 || !buckets[sub.bucketOf(c)]):
			moving = append(moving, c)
			buckets[sub.bucketOf(c)] = true
		case o != srcAddr && perOther[o] < 2:
			perOther[o]++
			staying = append(staying, c)
		}
	}
	if len(buckets) < 2 || len(staying) < 4 {
		t.Fatalf("could not spread the channels: %d moving in %d buckets, %d staying", len(moving), len(buckets), len(staying))
	}
	var dstAddr string
	for a := range primaries {
		if a != srcAddr {
			dstAddr = a
			break
		}
	}
	src, dst := primaries[srcAddr], primaries[dstAddr]
	dstID, err := dst.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	slots := map[int]bool{}
	for b := range buckets {
		slots[slotOf(sub.tags[b])] = true
		// Keys in the slot, so MIGRATE has work and key commands get ASK.
		for k := 0; k < 25; k++ {
			if err := cc.Set(ctx, sub.tags[b]+"k"+strconv.Itoa(k), k, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	chans := append(append([]string(nil), moving...), staying...)
	if err := sub.Subscribe(ctx, chans...); err != nil {
		t.Fatal(err)
	}
	pub.RefreshShards()
	sub.RefreshShards()
	for _, c := range moving {
		if s := sub.ShardOf(c); s != srcAddr {
			t.Fatalf("%s counted on shard %s before the move, want %s", c, s, srcAddr)
		}
	}

	// Traffic: one publisher round-robins over every channel; key
	// commands (INCR through the cluster client, which follows ASK and
	// MOVED) go to the moving slots.
	var (
		stop      = make(chan struct{})
		done      = make(chan struct{})
		mu        sync.Mutex
		published = map[string][]int{}
		pubErrs   atomic.Int64
		keyErrs   atomic.Int64
		keyOps    atomic.Int64
	)
	go func() {
		defer close(done)
		for i := 0; i < 20000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			c := chans[i%len(chans)]
			if err := pub.Publish(ctx, c, []byte(strconv.Itoa(i))); err != nil {
				pubErrs.Add(1)
			} else {
				mu.Lock()
				published[c] = append(published[c], i)
				mu.Unlock()
			}
			for b := range buckets {
				if err := cc.Incr(ctx, sub.tags[b]+"k"+strconv.Itoa(i%25)).Err(); err != nil {
					keyErrs.Add(1)
				}
				keyOps.Add(1)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	stopped := false
	stopTraffic := func() {
		if !stopped {
			stopped = true
			close(stop)
			<-done
		}
	}
	defer stopTraffic()
	// Messages flow before the move.
	log.waitUntil(t, "messages before the move", func() bool { return log.lastOfLocked(moving[0]) >= 50 })

	start := time.Now()
	for s := range slots {
		migrateSlot(t, ctx, s, src, dst, all, dstID, func() { time.Sleep(20 * time.Millisecond) })
	}
	moved := time.Since(start)
	// The source now sends MOVED for the slots' keys and publishes.
	for b := range buckets {
		err := src.Get(ctx, sub.tags[b]+"k0").Err()
		if err == nil || !strings.HasPrefix(err.Error(), "MOVED ") {
			t.Fatalf("GET on the old owner after the move: %v, want MOVED", err)
		}
		err = src.SPublish(ctx, sub.tags[b]+moving[0], "x").Err()
		if err == nil || !strings.HasPrefix(err.Error(), "MOVED ") {
			t.Fatalf("SPUBLISH on the old owner after the move: %v, want MOVED", err)
		}
	}
	// Traffic goes on after the move until every moving channel got a
	// message published after it, so the bus is subscribed on the new
	// owner.
	mu.Lock()
	after := map[string]int{}
	for _, c := range chans {
		after[c] = published[c][len(published[c])-1]
	}
	mu.Unlock()
	for _, c := range chans {
		log.waitUntil(t, "a message after the move on "+c, func() bool { return log.lastOfLocked(c) > after[c] })
	}
	stopTraffic()
	// Let the last published messages arrive: a marker per channel.
	for _, c := range chans {
		publishMarker(t, pub, log, c)
	}

	mu.Lock()
	defer mu.Unlock()
	total := 0
	for _, ns := range published {
		total += len(ns)
	}
	if lost := log.silentLosses(published); len(lost) > 0 {
		t.Fatalf("messages lost without a resubscribe of their channel: %v", lost)
	}
	delivered := 0
	log.mu.Lock()
	for _, e := range log.events {
		if e.n >= 0 {
			delivered++
		}
	}
	resubs, allResubs := fmt.Sprint(log.resubs), log.all
	for _, c := range staying {
		if log.resubs[c] != 0 {
			t.Errorf("%s (not moved) got %d resubscribes", c, log.resubs[c])
		}
	}
	movedResubs := 0
	for _, c := range moving {
		movedResubs += log.resubs[c]
	}
	log.mu.Unlock()
	if allResubs != 0 {
		t.Errorf("%d node-wide HandleResubscribed calls, want per-channel ones only", allResubs)
	}
	if movedResubs == 0 {
		t.Error("the moved channels were never resubscribed")
	}
	// The staying channels lost nothing.
	for _, c := range staying {
		got := map[int]bool{}
		log.mu.Lock()
		for _, e := range log.events {
			if e.channel == c {
				got[e.n] = true
			}
		}
		log.mu.Unlock()
		for _, n := range published[c] {
			if !got[n] {
				t.Fatalf("%s (not moved) lost %d", c, n)
			}
		}
	}
	// Subscribed on the new owner, no longer on the old one.
	for _, c := range moving {
		w := sub.wire(c)
		if n := pubsubShardChannels(t, ctx, dst, w); n != 1 {
			t.Errorf("%s: %d subscriptions on the new owner %s, want 1", c, n, dstAddr)
		}
		if n := pubsubShardChannels(t, ctx, src, w); n != 0 {
			t.Errorf("%s: %d subscriptions on the old owner %s, want 0", c, n, srcAddr)
		}
	}
	// The counts follow the move.
	// go-redis reloaded its slot map after the MOVEDs; a refresh reads it
	// (a few tries: the reload runs in the background).
	for i := 0; ; i++ {
		pub.RefreshShards()
		sub.RefreshShards()
		if pub.ShardOf(moving[0]) == dstAddr && sub.ShardOf(moving[0]) == dstAddr {
			break
		}
		if i == 100 {
			t.Fatalf("shard of a moved room: publisher %s, subscriber %s; want %s", pub.ShardOf(moving[0]), sub.ShardOf(moving[0]), dstAddr)
		}
		time.Sleep(ShardRefresh / 10)
	}
	if pub.ShardMoves() == 0 || sub.ShardMoves() == 0 {
		t.Errorf("shard moves: publisher %d, subscriber %d; want > 0", pub.ShardMoves(), sub.ShardMoves())
	}
	counts := map[string][2]uint64{}
	sub.ShardCounts(func(s string, p, r uint64) { counts[s] = [2]uint64{p, r} })
	pubCounts := map[string][2]uint64{}
	pub.ShardCounts(func(s string, p, r uint64) { pubCounts[s] = [2]uint64{p, r} })
	if pubCounts[dstAddr][0] == 0 || pubCounts[srcAddr][0] == 0 || counts[dstAddr][1] == 0 {
		t.Errorf("per-shard counts do not show the move: publisher %v, subscriber %v", pubCounts, counts)
	}
	if pubErrs.Load() != 0 || keyErrs.Load() != 0 {
		t.Errorf("%d publishes and %d of %d key commands failed during the move (go-redis follows ASK and MOVED)", pubErrs.Load(), keyErrs.Load(), keyOps.Load())
	}
	t.Logf("%d slots moved %s -> %s in %v; %d published, %d delivered; resubscribes %v; %d bus errors; %d key commands; publisher counts %v",
		len(slots), srcAddr, dstAddr, moved.Round(time.Millisecond), total, delivered, resubs, errs.Load(), keyOps.Load(), pubCounts)
}

// publishMarker publishes a non-numeric marker on c until it arrives
// (a message published while a lane reconnects may be lost).
func publishMarker(t *testing.T, pub *Bus, log *seqLog, c string) {
	t.Helper()
	seen := func() bool {
		for i := len(log.events) - 1; i >= 0; i-- {
			if log.events[i].channel == c && log.events[i].n == -2 {
				return true
			}
		}
		return false
	}
	for try := 0; ; try++ {
		_ = pub.Publish(ctx(t), c, []byte("marker"))
		if log.waitFor(200*time.Millisecond, seen) {
			return
		}
		if try == 50 {
			t.Fatalf("marker on %s never delivered", c)
		}
	}
}

func pubsubShardChannels(t *testing.T, ctx context.Context, c *redis.Client, wire string) int {
	t.Helper()
	got, err := c.PubSubShardChannels(ctx, wire).Result()
	if err != nil {
		t.Fatal(err)
	}
	return len(got)
}

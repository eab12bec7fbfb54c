package redisbus

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
)

// shardCounter counts the messages of one shard.
type shardCounter struct {
	name      string
	published atomic.Uint64
	received  atomic.Uint64
}

var _ bus.ShardCounter = (*Bus)(nil)

// initShards sets up the buckets' hash tags and points every bucket at its
// first shard: "single" off-cluster, "unknown" on a cluster until the first
// refresh.
func (b *Bus) initShards() {
	n, first := 1, ShardSingle
	if b.sharded {
		n, first = b.buckets, ShardUnknown
		b.tags = make([]string, n)
		for i := range b.tags {
			b.tags[i] = "{im" + strconv.Itoa(i) + "}"
		}
	}
	b.shardKick = make(chan struct{}, 1)
	b.bucketShard = make([]atomic.Pointer[shardCounter], n)
	sc := b.shard(first)
	for i := range b.bucketShard {
		b.bucketShard[i].Store(sc)
	}
}

// shard returns the counter of the shard called name, creating it; past
// maxShards names (not counting the fixed ones) it returns "other".
func (b *Bus) shard(name string) *shardCounter {
	b.shardMu.Lock()
	defer b.shardMu.Unlock()
	if sc := b.shards[name]; sc != nil {
		return sc
	}
	if len(b.shards) >= maxShards {
		name = ShardOther
		if sc := b.shards[name]; sc != nil {
			return sc
		}
	}
	sc := &shardCounter{name: name}
	b.shards[name] = sc
	return sc
}

// ShardCounts implements bus.ShardCounter: fn gets every shard seen (at
// most maxShards and the fixed names) with its message counts.
func (b *Bus) ShardCounts(fn func(shard string, published, received uint64)) {
	b.shardMu.Lock()
	all := make([]*shardCounter, 0, len(b.shards))
	for _, sc := range b.shards {
		all = append(all, sc)
	}
	b.shardMu.Unlock()
	for _, sc := range all {
		p, r := sc.published.Load(), sc.received.Load()
		if sc.name == ShardUnknown && p == 0 && r == 0 {
			continue // only a placeholder until the first refresh
		}
		fn(sc.name, p, r)
	}
}

// ShardOf returns the shard that channel's messages are counted to now.
func (b *Bus) ShardOf(channel string) string {
	return b.bucketShard[b.bucketOf(channel)].Load().name
}

// ShardMoves returns how many times a bucket was seen served by another
// primary than before (resharding, failover).
func (b *Bus) ShardMoves() uint64 { return b.shardMoves.Load() }

// RefreshShards re-reads at once which primary serves each bucket (after
// a known topology change; the bus also does it every ShardRefresh).
func (b *Bus) RefreshShards() { b.refreshShards() }

// kickShards asks the watcher to refresh soon; it never blocks.
func (b *Bus) kickShards() {
	select {
	case b.shardKick <- struct{}{}:
	default:
	}
}

// watchShards refreshes the bucket -> primary map every ShardRefresh and
// when kicked, until Close.
func (b *Bus) watchShards() {
	defer b.wg.Done()
	t := time.NewTicker(ShardRefresh)
	defer t.Stop()
	for {
		b.refreshShards()
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		case <-b.shardKick:
		}
	}
}

// refreshShards asks go-redis which primary it routes each bucket's slot
// to. go-redis answers from its slot map (reloaded after a MOVED or
// a failover), so this costs no round trip unless that map is stale.
func (b *Bus) refreshShards() {
	cc, ok := b.client.(*redis.ClusterClient)
	if !ok {
		return
	}
	moved := map[[2]string]int{}
	for i := range b.bucketShard {
		c, err := cc.MasterForKey(b.ctx, b.tags[i])
		if err != nil {
			// Not reported: the lanes report the outage, this would
			// repeat it every ShardRefresh. Keep the last known map.
			return
		}
		sc := b.shard(c.Options().Addr)
		if old := b.bucketShard[i].Swap(sc); old != sc && old.name != ShardUnknown {
			b.shardMoves.Add(1)
			moved[[2]string{old.name, sc.name}]++
		}
	}
	for m, n := range moved {
		b.reportError(fmt.Errorf("redisbus: %d bucket(s) moved from shard %s to %s", n, m[0], m[1]))
	}
}

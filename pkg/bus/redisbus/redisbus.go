// Package redisbus implements bus.Bus over Redis Pub/Sub with go-redis v9.
//
// Each Bus holds one Pub/Sub connection (a redis.PubSub) for the channels
// its node subscribed to, and publishes with PUBLISH through the client's
// pool. A reader goroutine receives from the connection and hands messages
// to a delivery goroutine through a bounded queue, so a slow Handler never
// stops the reader (Redis would otherwise disconnect a slow subscriber and
// every channel would lose messages). A full queue drops the message and
// counts it (Dropped); the bus is at-most-once by contract.
//
// Reconnects: go-redis redials a broken Pub/Sub connection and subscribes
// its channels again. The reader notices the new connection (a receive
// error, or a subscription confirmation that only a fresh connection can
// produce) and calls Handler.HandleResubscribed once per reconnect, before
// any message received on the new connection. On a cluster, where each slot
// has its own connection, a Handler implementing bus.ChannelsResubscriber
// gets HandleResubscribedChannels with the channels of the lane that
// reconnected instead: the other slots' channels lost nothing. When the
// connection is idle the reader sends PING every
// Options.HealthCheckInterval; without an answer for a whole further
// interval the connection is presumed dead (a half-open TCP connection
// never reports an error) and replaced.
//
// Channel names already carry a Redis Cluster hash tag (see bus.RoomChannel
// and bus.UserChannel), so moving to sharded Pub/Sub (SPUBLISH/SSUBSCRIBE on
// a cluster client) is a change local to this package.
//
// Shards: the bus counts the messages it publishes and receives per shard
// (bus.ShardCounter): on a cluster the primary that go-redis routes the
// channel's slot to, "single" otherwise. The bucket -> primary map is cached
// and refreshed every ShardRefresh and at once after a sign of a topology
// change (a publish error, a shard dropping a channel, a receive error), so
// the hot path only loads a pointer and adds to a counter.
package redisbus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
)

// Defaults for a zero Options.
const (
	DefaultQueueSize           = 4096
	DefaultHealthCheckInterval = 5 * time.Second
	// DefaultShardBuckets bounds a node's sharded Pub/Sub connections on a
	// cluster: channels are spread over this many hash tags, so a node
	// opens at most this many connections however many rooms it serves.
	DefaultShardBuckets = 256
	// ShardRefresh is how often a cluster bus re-reads which primary
	// serves each bucket (from go-redis' slot map, no round trip unless
	// go-redis reloads it) for its per-shard counts.
	ShardRefresh = time.Second
	// maxShards bounds the shard labels: more primaries than this over a
	// bus's life are counted as "other".
	maxShards = 64
)

// Shard names other than a primary's address.
const (
	ShardSingle  = "single"  // not a cluster: one shard
	ShardUnknown = "unknown" // a cluster bucket whose primary is not known yet
	ShardOther   = "other"   // past maxShards distinct primaries
)

const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = time.Second
)

// ErrClosed is returned by the methods of a closed Bus.
var ErrClosed = errors.New("redisbus: closed")

// Options configure a Bus. The zero value is usable.
type Options struct {
	// QueueSize bounds the messages waiting for the Handler; 0 means
	// DefaultQueueSize.
	QueueSize int
	// HealthCheckInterval is how long the Pub/Sub connection may stay
	// silent before the bus sends PING; a connection that then stays silent
	// for another interval is replaced. 0 means DefaultHealthCheckInterval,
	// a negative value turns the check off.
	HealthCheckInterval time.Duration
	// OnError, when set, is told about receive and reconnect errors (for
	// logging). It is called from the reader goroutine and must not block.
	OnError func(error)
	// Publisher, when set, carries the PUBLISH commands instead of the
	// bus's client (for example a go-redis AutoPipeliner, which batches
	// the publishes of concurrent senders).
	Publisher redis.Cmdable
	// ShardBuckets (cluster only) is how many hash tags the channels are
	// spread over: at most one connection each on every node. Every node
	// must use the same value (a channel's name on the wire depends on
	// it). 0 means DefaultShardBuckets.
	ShardBuckets int
}

// subscription is this node's state for one channel.
type subscription struct {
	id        uint64 // distinguishes a re-subscription from an earlier one
	lane      *lane
	confirmed bool // Redis confirmed it on the current connection
	waiters   []chan struct{}
}

// lane is one Pub/Sub connection and the channels it carries: the only one
// of a plain or sentinel client, or one per hash slot on a cluster (go-redis
// routes a sharded Pub/Sub connection by the slot of its channels, and
// subscribes them all again in one SSUBSCRIBE after a reconnect, which a
// cluster accepts only within one slot).
type lane struct {
	slot    int
	bucket  int           // the bucket of its channels (a slot may hold several; they share a primary)
	ps      *redis.PubSub // guarded by Bus.mu
	subs    map[string]*subscription
	retired chan struct{} // closed when the lane is given up (no channels left)
}

type item struct {
	resubscribed bool  // call HandleResubscribed(Channels)
	lane         *lane // the lane that reconnected, with resubscribed
	wake         bool  // only look at Bus.resubPending
	channel      string
	payload      []byte
	sub          uint64
}

// Bus is a bus.Bus over Redis Pub/Sub. Create it with New.
type Bus struct {
	client   redis.UniversalClient
	sharded  bool          // a cluster: SPUBLISH, SSUBSCRIBE, a lane per slot
	buckets  int           // a cluster: the hash tags the channels are spread over
	pub      redis.Cmdable // PUBLISH: Options.Publisher, else client
	handler  bus.Handler
	interval time.Duration
	onError  func(error)

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	queue  chan item
	wg     sync.WaitGroup

	dropped      atomic.Uint64
	resubPending atomic.Bool // HandleResubscribed is due; the queue was full
	lanesOpened  atomic.Uint64
	lanesRetired atomic.Uint64

	tags        []string // a cluster: bucket n's hash tag, "{im<n>}"
	bucketShard []atomic.Pointer[shardCounter]
	shardKick   chan struct{} // refresh bucketShard soon (cap 1)
	shardMu     sync.Mutex
	shards      map[string]*shardCounter // every shard seen, bounded by maxShards
	shardMoves  atomic.Uint64

	mu      sync.Mutex
	pending map[*lane]struct{} // lanes whose resubscribe waits for resubPending
	lanes   map[int]*lane
	subs    map[string]*subscription
	nextSub uint64
	closed  bool

	closeOnce sync.Once
	closeErr  error
}

var _ bus.Bus = (*Bus)(nil)

// New returns a Bus on c delivering to h, and starts its delivery
// goroutine; Close stops it. h may be nil for a bus that only publishes.
// Pub/Sub connections are opened by Subscribe. On a *redis.ClusterClient
// the bus uses sharded Pub/Sub (SPUBLISH, SSUBSCRIBE, SUNSUBSCRIBE: a
// channel's messages stay on the shard owning its slot); on any other
// client (single instance, sentinel failover client) plain Pub/Sub.
// Closing c is the caller's job, after Close.
func New(c redis.UniversalClient, h bus.Handler, opts Options) (*Bus, error) {
	if c == nil {
		return nil, errors.New("redisbus: nil redis client")
	}
	if h == nil {
		h = discard{}
	}
	size := opts.QueueSize
	if size <= 0 {
		size = DefaultQueueSize
	}
	interval := opts.HealthCheckInterval
	if interval == 0 {
		interval = DefaultHealthCheckInterval
	}
	pub := opts.Publisher
	if pub == nil {
		pub = c
	}
	_, sharded := c.(*redis.ClusterClient)
	buckets := opts.ShardBuckets
	if buckets <= 0 {
		buckets = DefaultShardBuckets
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Bus{
		client:   c,
		sharded:  sharded,
		buckets:  buckets,
		pub:      pub,
		handler:  h,
		interval: interval,
		onError:  opts.OnError,
		ctx:      ctx,
		cancel:   cancel,
		queue:    make(chan item, size),
		pending:  make(map[*lane]struct{}),
		lanes:    make(map[int]*lane),
		subs:     make(map[string]*subscription),
		shards:   make(map[string]*shardCounter),
	}
	b.initShards()
	b.wg.Add(1)
	go b.deliver()
	if b.sharded {
		b.wg.Add(1)
		go b.watchShards()
	}
	return b, nil
}

// Sharded reports whether the bus uses sharded Pub/Sub (a cluster client).
func (b *Bus) Sharded() bool { return b.sharded }

// Lanes returns how many Pub/Sub connections the bus opened and gave up
// (a cluster lane is given up when its slot's last channel is
// unsubscribed), for the subscription churn metrics.
func (b *Bus) Lanes() (opened, retired uint64) {
	return b.lanesOpened.Load(), b.lanesRetired.Load()
}

// laneLocked returns the lane of channel, opening it (and its reader)
// when needed. b.mu is held.
func (b *Bus) laneLocked(channel string) *lane {
	slot, bucket := 0, 0
	if b.sharded {
		bucket = b.bucketOf(channel)
		slot = slotOf(b.tags[bucket])
	}
	l := b.lanes[slot]
	if l == nil {
		l = &lane{slot: slot, bucket: bucket, ps: b.newPubSub(), subs: make(map[string]*subscription), retired: make(chan struct{})}
		b.lanes[slot] = l
		b.lanesOpened.Add(1)
		b.wg.Add(1)
		go b.read(l)
	}
	return l
}

// newPubSub returns a Pub/Sub with no channels (it does not connect yet).
func (b *Bus) newPubSub() *redis.PubSub {
	if b.sharded {
		return b.client.SSubscribe(b.ctx)
	}
	return b.client.Subscribe(b.ctx)
}

// wire is channel's name in Redis. On a cluster it is prefixed with the
// hash tag of its bucket ({im<n>}, n from the channel's own slot), so the
// channels of one bucket share a slot and one connection: go-redis
// subscribes a sharded connection's channels again in one SSUBSCRIBE
// after a reconnect, which a cluster takes only within one slot, so a
// connection cannot carry several slots.
func (b *Bus) wire(channel string) string {
	if !b.sharded {
		return channel
	}
	return b.tags[b.bucketOf(channel)] + channel
}

// bucketOf is the bucket of channel on a cluster (0 off-cluster).
func (b *Bus) bucketOf(channel string) int {
	if !b.sharded {
		return 0
	}
	return slotOf(channel) % b.buckets
}

// unwire is the inverse of wire.
func (b *Bus) unwire(name string) string {
	if b.sharded && strings.HasPrefix(name, "{im") {
		if i := strings.IndexByte(name, '}'); i > 0 {
			return name[i+1:]
		}
	}
	return name
}

func (b *Bus) wires(channels []string) []string {
	if !b.sharded {
		return channels
	}
	out := make([]string, len(channels))
	for i, c := range channels {
		out[i] = b.wire(c)
	}
	return out
}

func (b *Bus) sub(ctx context.Context, ps *redis.PubSub, channels []string) error {
	if b.sharded {
		return ps.SSubscribe(ctx, b.wires(channels)...)
	}
	return ps.Subscribe(ctx, channels...)
}

func (b *Bus) unsub(ctx context.Context, ps *redis.PubSub, channels []string) error {
	if b.sharded {
		return ps.SUnsubscribe(ctx, b.wires(channels)...)
	}
	return ps.Unsubscribe(ctx, channels...)
}

type discard struct{}

func (discard) HandleMessage(string, []byte) {}
func (discard) HandleResubscribed()          {}

// Publish sends payload to channel with PUBLISH (SPUBLISH on a cluster).
// Nodes not subscribed at that moment never see it.
func (b *Bus) Publish(ctx context.Context, channel string, payload []byte) error {
	if b.ctx.Err() != nil {
		return fmt.Errorf("redisbus: publish %q: %w", channel, ErrClosed)
	}
	var err error
	bucket := b.bucketOf(channel)
	if b.sharded {
		err = b.pub.SPublish(ctx, b.tags[bucket]+channel, payload).Err()
	} else {
		err = b.pub.Publish(ctx, channel, payload).Err()
	}
	if err != nil {
		b.kickShards() // the slot may have moved
		return fmt.Errorf("redisbus: publish %q: %w", channel, err)
	}
	b.bucketShard[bucket].Load().published.Add(1)
	return nil
}

// Subscribe subscribes channels and waits until Redis confirmed them, so a
// message published after Subscribe returns is delivered. Channels already
// subscribed are not sent again. On error (ctx done, connection down) the
// channels stay registered: they are subscribed when the connection comes
// back, and the caller may call Subscribe again or Unsubscribe them.
func (b *Bus) Subscribe(ctx context.Context, channels ...string) error {
	if len(channels) == 0 {
		return nil
	}
	waits := make([]chan struct{}, 0, len(channels))
	var order []*lane
	send := map[*lane][]string{}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return fmt.Errorf("redisbus: subscribe: %w", ErrClosed)
	}
	for _, c := range channels {
		s := b.subs[c]
		if s == nil {
			b.nextSub++
			l := b.laneLocked(c)
			s = &subscription{id: b.nextSub, lane: l}
			b.subs[c] = s
			l.subs[c] = s
			if send[l] == nil {
				order = append(order, l)
			}
			send[l] = append(send[l], c)
		}
		if !s.confirmed {
			w := make(chan struct{})
			s.waiters = append(s.waiters, w)
			waits = append(waits, w)
		}
	}
	// One command per lane (per slot on a cluster). Even on error the
	// channels are registered: the lane's reader subscribes them again
	// when the connection is back.
	var err error
	for _, l := range order {
		if e := b.sub(ctx, l.ps, send[l]); e != nil && err == nil {
			err = e
		}
	}
	b.mu.Unlock()

	if err == nil {
		err = b.wait(ctx, waits)
	}
	if err != nil {
		b.dropWaiters(channels, waits)
		return fmt.Errorf("redisbus: subscribe %v: %w", channels, err)
	}
	return nil
}

func (b *Bus) wait(ctx context.Context, waits []chan struct{}) error {
	for _, w := range waits {
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		case <-b.ctx.Done():
			return ErrClosed
		}
	}
	return nil
}

// dropWaiters forgets the waiters of a failed Subscribe.
func (b *Bus) dropWaiters(channels []string, waits []chan struct{}) {
	mine := make(map[chan struct{}]bool, len(waits))
	for _, w := range waits {
		mine[w] = true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range channels {
		s := b.subs[c]
		if s == nil {
			continue
		}
		kept := s.waiters[:0]
		for _, w := range s.waiters {
			if !mine[w] {
				kept = append(kept, w)
			}
		}
		s.waiters = kept
	}
}

// Unsubscribe unsubscribes channels. Messages of those channels that are
// still queued or in flight are discarded, so once Unsubscribe returns the
// Handler gets no more of them (except one whose delivery had already
// begun). Unknown channels are ignored. The channels are forgotten even when
// an error is returned (the connection was then lost, and will come back
// without them).
func (b *Bus) Unsubscribe(ctx context.Context, channels ...string) error {
	if len(channels) == 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("redisbus: unsubscribe: %w", ErrClosed)
	}
	var order []*lane
	send := map[*lane][]string{}
	for _, c := range channels {
		s := b.subs[c]
		if s == nil {
			continue
		}
		for _, w := range s.waiters {
			close(w) // a pending Subscribe of c is over
		}
		delete(b.subs, c)
		delete(s.lane.subs, c)
		if send[s.lane] == nil {
			order = append(order, s.lane)
		}
		send[s.lane] = append(send[s.lane], c)
	}
	var err error
	for _, l := range order {
		if b.sharded && len(l.subs) == 0 {
			// The slot's last channel: give the connection up.
			b.retireLocked(l)
			continue
		}
		// An empty list would unsubscribe everything.
		if e := b.unsub(ctx, l.ps, send[l]); e != nil && err == nil {
			err = fmt.Errorf("redisbus: unsubscribe %v: %w", send[l], e)
		}
	}
	return err
}

// retireLocked closes lane l, which carries no channel any more; its
// reader stops. b.mu is held.
func (b *Bus) retireLocked(l *lane) {
	if b.lanes[l.slot] == l {
		delete(b.lanes, l.slot)
	}
	close(l.retired)
	_ = l.ps.Close()
	b.lanesRetired.Add(1)
}

// Close stops the goroutines, closes the Pub/Sub connection and waits: no
// Handler call happens after Close returns. Queued messages are discarded.
// Close must not be called from the Handler. It is idempotent.
func (b *Bus) Close() error {
	b.closeOnce.Do(func() {
		b.cancel()
		b.mu.Lock()
		b.closed = true
		var errs []error
		for _, l := range b.lanes {
			if err := l.ps.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		b.mu.Unlock()
		if err := errors.Join(errs...); err != nil {
			b.closeErr = fmt.Errorf("redisbus: close: %w", err)
		}
	})
	b.wg.Wait()
	return b.closeErr
}

// Dropped returns how many received messages were discarded because the
// queue to the Handler was full.
func (b *Bus) Dropped() uint64 { return b.dropped.Load() }

func (b *Bus) reportError(err error) {
	if b.onError != nil && b.ctx.Err() == nil {
		b.onError(err)
	}
}

func (b *Bus) deliver() {
	defer b.wg.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case it := <-b.queue:
			// A reconnect noticed while the queue was full goes first.
			if b.resubPending.Swap(false) {
				b.mu.Lock()
				lanes := make([]*lane, 0, len(b.pending))
				for l := range b.pending {
					lanes = append(lanes, l)
				}
				clear(b.pending)
				b.mu.Unlock()
				if len(lanes) > 0 { // else taken with an earlier flag
					b.resubscribed(lanes...)
				}
			}
			switch {
			case it.wake:
			case it.resubscribed:
				b.resubscribed(it.lane)
			case b.current(it.channel, it.sub):
				b.handler.HandleMessage(it.channel, it.payload)
			}
		}
	}
}

// resubscribed tells the Handler that lanes reconnected. Off-cluster the
// only lane carries every channel: HandleResubscribed. On a cluster a
// Handler implementing bus.ChannelsResubscriber gets the lanes' channels
// (as they are now: one unsubscribed meanwhile needs no resync).
func (b *Bus) resubscribed(lanes ...*lane) {
	cr, ok := b.handler.(bus.ChannelsResubscriber)
	if !b.sharded || !ok {
		b.handler.HandleResubscribed()
		return
	}
	var channels []string
	b.mu.Lock()
	for _, l := range lanes {
		for c := range l.subs {
			channels = append(channels, c)
		}
	}
	b.mu.Unlock()
	if len(channels) > 0 {
		cr.HandleResubscribedChannels(channels)
	}
}

// current reports whether sub is still the live subscription of channel.
func (b *Bus) current(channel string, sub uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.subs[channel]
	return s != nil && s.id == sub
}

// reader is the state of one lane's read loop.
type reader struct {
	l        *lane
	ps       *redis.PubSub
	live     bool // something was received on the current connection
	lost     bool // a live connection failed; the next one is a reconnect
	pingSent bool // a PING is unanswered
	backoff  time.Duration
}

// stopped reports whether the lane's reader must end.
func (b *Bus) stopped(l *lane) bool {
	if b.ctx.Err() != nil {
		return true
	}
	select {
	case <-l.retired:
		return true
	default:
		return false
	}
}

func (b *Bus) read(l *lane) {
	defer b.wg.Done()
	b.mu.Lock()
	r := reader{l: l, ps: l.ps}
	b.mu.Unlock()
	timeout := b.interval
	if timeout < 0 {
		timeout = 0 // no deadline
	}
	for !b.stopped(l) {
		msg, err := r.ps.ReceiveTimeout(b.ctx, timeout)
		if err != nil {
			b.receiveFailed(&r, err)
			continue
		}
		r.backoff, r.pingSent = 0, false
		switch m := msg.(type) {
		case *redis.Subscription:
			m.Channel = b.unwire(m.Channel)
			switch m.Kind {
			case "subscribe", "ssubscribe":
				b.confirmed(&r, m)
			case "sunsubscribe":
				// A cluster node unsubscribes the channels of a slot it
				// no longer serves (resharding, demotion): go to its new
				// owner.
				if b.wanted(l, m.Channel) {
					b.kickShards()
					b.reportError(fmt.Errorf("redisbus: shard dropped %q (slot moved): reconnecting", m.Channel))
					r.live = true
					b.replace(&r)
					continue
				}
			}
		case *redis.Message:
			m.Channel = b.unwire(m.Channel)
			b.reconnected(&r)
			b.bucketShard[l.bucket].Load().received.Add(1)
			b.received(m)
		case *redis.Pong:
			b.reconnected(&r)
		}
		r.live = true
	}
}

// wanted reports whether channel is still subscribed on lane l.
func (b *Bus) wanted(l *lane, channel string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return l.subs[channel] != nil
}

func (b *Bus) receiveFailed(r *reader, err error) {
	if b.stopped(r.l) {
		return
	}
	var (
		ne net.Error
		oe *net.OpError
		re redis.Error
	)
	if errors.As(err, &ne) && ne.Timeout() && !(errors.As(err, &oe) && oe.Op == "dial") {
		// The connection was idle for a whole interval.
		if !r.pingSent {
			if err := r.ps.Ping(b.ctx); err != nil {
				// go-redis has dropped the connection and dials again.
				b.reportError(fmt.Errorf("redisbus: ping: %w", err))
				b.lose(r)
				return
			}
			r.pingSent = true
			return
		}
		b.reportError(errors.New("redisbus: no answer to PING: replacing the connection"))
		b.replace(r)
		return
	}
	b.reportError(fmt.Errorf("redisbus: receive: %w", err))
	if b.sharded {
		// The slot's owner may have changed (failover, resharding):
		// refresh go-redis' slot map before the next connection.
		if cc, ok := b.client.(*redis.ClusterClient); ok {
			cc.ReloadState(b.ctx)
		}
		b.kickShards()
	}
	b.lose(r)
	if r.backoff == 0 {
		r.backoff = minBackoff
	} else {
		r.backoff = min(2*r.backoff, maxBackoff)
	}
	t := time.NewTimer(r.backoff)
	defer t.Stop()
	select {
	case <-t.C:
	case <-b.ctx.Done():
	case <-r.l.retired:
	}
	if errors.As(err, &re) {
		// Redis refused on a live connection (MOVED after a failover,
		// a replica's READONLY...): that connection stays open and
		// subscribed to nothing, so open one to the slot's owner.
		b.replace(r)
	}
}

// lose marks the connection lost: every subscription of the lane waits for
// Redis to confirm it again. Losing a connection on which nothing was
// received yet loses no message, so the next one is not reported as a
// reconnect.
func (b *Bus) lose(r *reader) {
	r.lost = r.lost || r.live
	r.live, r.pingSent = false, false
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range r.l.subs {
		s.confirmed = false
	}
}

// replace closes a connection that stopped answering (or serves the
// wrong node) and opens a new PubSub with the lane's channels.
func (b *Bus) replace(r *reader) {
	b.lose(r)
	b.mu.Lock()
	if b.closed || b.stopped(r.l) {
		b.mu.Unlock()
		return
	}
	old := r.l.ps
	r.l.ps = b.newPubSub()
	r.ps = r.l.ps
	channels := make([]string, 0, len(r.l.subs))
	for c := range r.l.subs {
		channels = append(channels, c)
	}
	var err error
	if len(channels) > 0 {
		// Held under b.mu so a concurrent Unsubscribe cannot be undone.
		// A failure is retried by the read loop's next receive.
		err = b.sub(b.ctx, r.ps, channels)
	}
	b.mu.Unlock()
	if err != nil {
		b.reportError(fmt.Errorf("redisbus: resubscribe: %w", err))
	}
	_ = old.Close()
}

// reconnected queues HandleResubscribed once after a lost connection, in
// order with the messages. The reader never blocks: with the queue full
// (so the delivery goroutine is busy and will look soon) the call is
// flagged instead and made before the next queued message.
func (b *Bus) reconnected(r *reader) {
	if !r.lost {
		return
	}
	r.lost = false
	select {
	case b.queue <- item{resubscribed: true, lane: r.l}:
		return
	default:
	}
	b.mu.Lock()
	b.pending[r.l] = struct{}{} // bounded: one entry per lane
	b.mu.Unlock()
	b.resubPending.Store(true)
	// If the queue drained before the flag was set, wake the delivery
	// goroutine; if it is still full, the next dequeue sees the flag.
	select {
	case b.queue <- item{wake: true}:
	default:
	}
}

// confirmed handles Redis's confirmation of a subscription. A confirmation
// for a channel confirmed before, or a first channel (Count 1) while other
// channels of the lane were confirmed, can only come from a new
// connection: go-redis reconnected without the reader seeing an error.
func (b *Bus) confirmed(r *reader, m *redis.Subscription) {
	b.mu.Lock()
	if !r.lost {
		fresh := false
		if s := r.l.subs[m.Channel]; s != nil && s.confirmed {
			fresh = true
		} else if m.Count == 1 {
			for c, s := range r.l.subs {
				if s.confirmed && c != m.Channel {
					fresh = true
					break
				}
			}
		}
		if fresh {
			r.lost = true
			for _, s := range r.l.subs {
				s.confirmed = false
			}
		}
	}
	b.mu.Unlock()
	// Resubscribed goes before the waiters are released and before any
	// message of the new connection.
	b.reconnected(r)

	b.mu.Lock()
	defer b.mu.Unlock()
	if s := r.l.subs[m.Channel]; s != nil {
		s.confirmed = true
		for _, w := range s.waiters {
			close(w)
		}
		s.waiters = nil
	}
}

func (b *Bus) received(m *redis.Message) {
	b.mu.Lock()
	s := b.subs[m.Channel]
	var id uint64
	if s != nil {
		id = s.id
	}
	b.mu.Unlock()
	if s == nil {
		return // unsubscribed meanwhile
	}
	select {
	case b.queue <- item{channel: m.Channel, payload: []byte(m.Payload), sub: id}:
	default:
		b.dropped.Add(1)
	}
}

// slotOf is the Redis Cluster hash slot of a channel: CRC16 (XMODEM) of its
// hash tag (the part between the first { and the next }, when not empty),
// else of the whole name, modulo 16384. It only groups the channels into
// lanes; go-redis routes each lane's connection.
func slotOf(channel string) int {
	key := channel
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for k := 0; k < 8; k++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}

// Package membus implements bus.Bus inside one process, for standalone mode
// and tests. Buses created on the same Hub reach each other like nodes
// sharing one Redis, so a test can run several "nodes" in one process.
//
// Each Bus delivers to its Handler from one goroutine, through a bounded
// queue. Publish never waits for a subscriber: when a subscriber's queue is
// full the message is dropped for that subscriber and counted (Dropped), as
// the bus is at-most-once by contract. A payload is copied once by Publish
// and that copy is shared by every subscriber: handlers must not modify it.
// There is no connection to lose: a membus never calls HandleResubscribed
// (nor bus.ChannelsResubscriber's HandleResubscribedChannels).
package membus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
)

// DefaultQueueSize is the queue length used when Options.QueueSize is 0.
const DefaultQueueSize = 4096

// ErrClosed is returned by the methods of a closed Bus.
var ErrClosed = errors.New("membus: closed")

// Options configure a Bus. The zero value is usable.
type Options struct {
	// QueueSize bounds the messages waiting for the Handler; 0 means
	// DefaultQueueSize.
	QueueSize int
	// Hub is the set of buses that see each other's publishes. nil gives
	// the Bus a private hub (standalone mode: one node).
	Hub *Hub
}

// Hub connects the buses of simulated nodes in one process. The zero value
// is not usable; call NewHub.
type Hub struct {
	mu   sync.RWMutex
	subs map[string]map[*Bus]uint64 // channel -> subscriber -> subscription id
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{subs: make(map[string]map[*Bus]uint64)}
}

// Bus returns a new Bus on this hub with default options.
func (h *Hub) Bus(handler bus.Handler) *Bus {
	return New(handler, Options{Hub: h})
}

type discard struct{}

func (discard) HandleMessage(string, []byte) {}
func (discard) HandleResubscribed()          {}

type delivery struct {
	channel string
	payload []byte
	sub     uint64 // subscription the message was published to
}

// Bus is an in-process bus.Bus. Create it with New or Hub.Bus.
type Bus struct {
	hub     *Hub
	handler bus.Handler
	queue   chan delivery
	dropped atomic.Uint64

	mu      sync.Mutex
	closed  bool
	subs    map[string]uint64 // channel -> current subscription id
	nextSub uint64

	stop chan struct{}
	done chan struct{}
}

var _ bus.Bus = (*Bus)(nil)

// New returns a Bus delivering to h and starts its delivery goroutine;
// Close stops it. h may be nil for a bus that only publishes: what it
// subscribes to is then discarded.
func New(h bus.Handler, opts Options) *Bus {
	if h == nil {
		h = discard{}
	}
	size := opts.QueueSize
	if size <= 0 {
		size = DefaultQueueSize
	}
	hub := opts.Hub
	if hub == nil {
		hub = NewHub()
	}
	b := &Bus{
		hub:     hub,
		handler: h,
		queue:   make(chan delivery, size),
		subs:    make(map[string]uint64),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go b.run()
	return b
}

// Publish copies payload once and queues the copy for every bus on the hub
// subscribed to channel; all of them share that copy, so handlers must not
// modify it. Publish never blocks on a subscriber.
func (b *Bus) Publish(ctx context.Context, channel string, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("membus: publish %q: %w", channel, err)
	}
	if b.isClosed() {
		return fmt.Errorf("membus: publish %q: %w", channel, ErrClosed)
	}
	p := append([]byte(nil), payload...)
	h := b.hub
	h.mu.RLock()
	defer h.mu.RUnlock()
	for sub, id := range h.subs[channel] {
		sub.enqueue(delivery{channel: channel, payload: p, sub: id})
	}
	return nil
}

func (b *Bus) enqueue(d delivery) {
	select {
	case b.queue <- d:
	default:
		b.dropped.Add(1)
	}
}

// Subscribe starts delivering channels to the Handler. It takes effect
// before it returns: a later Publish on any bus of the hub reaches it.
// Subscribing a channel twice is the same as once.
func (b *Bus) Subscribe(ctx context.Context, channels ...string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("membus: subscribe: %w", err)
	}
	// Lock order: hub, then bus.
	b.hub.mu.Lock()
	defer b.hub.mu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("membus: subscribe: %w", ErrClosed)
	}
	for _, c := range channels {
		if _, ok := b.subs[c]; ok {
			continue
		}
		b.nextSub++
		b.subs[c] = b.nextSub
		m := b.hub.subs[c]
		if m == nil {
			m = make(map[*Bus]uint64)
			b.hub.subs[c] = m
		}
		m[b] = b.nextSub
	}
	return nil
}

// Unsubscribe stops delivering channels. Messages already queued for them
// are discarded, so once Unsubscribe returns the Handler gets no more of
// them (except one whose delivery had already begun on the delivery
// goroutine). Unknown channels are ignored.
func (b *Bus) Unsubscribe(ctx context.Context, channels ...string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("membus: unsubscribe: %w", err)
	}
	b.hub.mu.Lock()
	defer b.hub.mu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("membus: unsubscribe: %w", ErrClosed)
	}
	for _, c := range channels {
		b.unsubscribeLocked(c)
	}
	return nil
}

// unsubscribeLocked needs both b.hub.mu and b.mu.
func (b *Bus) unsubscribeLocked(c string) {
	delete(b.subs, c)
	if m := b.hub.subs[c]; m != nil {
		delete(m, b)
		if len(m) == 0 {
			delete(b.hub.subs, c)
		}
	}
}

// Close unsubscribes everything, stops the delivery goroutine and waits for
// it: no Handler call happens after Close returns. Queued messages are
// discarded. Close must not be called from the Handler. It is idempotent.
func (b *Bus) Close() error {
	b.hub.mu.Lock()
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		for c := range b.subs {
			b.unsubscribeLocked(c)
		}
		close(b.stop)
	}
	b.mu.Unlock()
	b.hub.mu.Unlock()
	<-b.done
	return nil
}

// Dropped returns how many messages were discarded because this bus's queue
// was full.
func (b *Bus) Dropped() uint64 { return b.dropped.Load() }

func (b *Bus) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// current reports whether d still belongs to a live subscription.
func (b *Bus) current(d delivery) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.closed && b.subs[d.channel] == d.sub
}

func (b *Bus) run() {
	defer close(b.done)
	for {
		select {
		case <-b.stop:
			return
		case d := <-b.queue:
			if b.current(d) {
				b.handler.HandleMessage(d.channel, d.payload)
			}
		}
	}
}

package webhook

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/pkg/outbox"
)

// DispatcherOptions tune Run; the zero value is the production setting.
type DispatcherOptions struct {
	// Concurrency bounds the calls in flight; default 8.
	Concurrency int
	// MaxAttempts is how many failed attempts move an entry to the dead
	// letters; default 15 (with the default backoff, about half an hour
	// to an hour of retries).
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape the wait before retry n:
	// min(MaxBackoff, BaseBackoff*2^(n-1)), of which a random half
	// (equal jitter); defaults 1s and 10m.
	BaseBackoff, MaxBackoff time.Duration
	// Poll is how often the outbox is read when idle (an Emit in this
	// process wakes the dispatcher at once); default 1s.
	Poll time.Duration
	// Lease is how long a claimed entry is held before another
	// dispatcher may take it; default three times the sender's timeout
	// (DefaultTimeout).
	Lease time.Duration
}

func (o *DispatcherOptions) defaults() {
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 15
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 3 * DefaultTimeout
	}
}

// Backoff is the wait before the next try after the n-th failed attempt
// (n >= 1): equal jitter over a doubling, capped delay.
func Backoff(n int, base, max time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// opTimeout bounds one outbox call of the dispatcher.
const opTimeout = 5 * time.Second

// Run delivers the outbox's entries until ctx ends, then waits for the
// calls in flight (each bounded by the sender's timeout). Every process
// with webhooks may run one: the outbox's leases share the work.
func (h *Hooks) Run(ctx context.Context, o DispatcherOptions) {
	if h == nil || h.ob == nil {
		return
	}
	o.defaults()
	sem := make(chan struct{}, o.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	var counted time.Time
	for ctx.Err() == nil {
		if now := time.Now(); now.Sub(counted) >= pendingEvery {
			counted = now
			h.countPending(ctx)
		}
		// Wait for a free slot, then claim as many entries as are free.
		select {
		case sem <- struct{}{}:
			<-sem
		case <-ctx.Done():
			return
		}
		free := o.Concurrency - len(sem)
		cctx, cancel := context.WithTimeout(ctx, opTimeout)
		es, err := h.ob.Claim(cctx, free, o.Lease)
		cancel()
		if err != nil && ctx.Err() == nil {
			h.log.Warn("webhook outbox: claim failed", zap.Error(err))
		}
		if len(es) == 0 {
			select {
			case <-ctx.Done():
			case <-h.wake:
			case <-time.After(o.Poll):
			}
			continue
		}
		for _, e := range es {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				h.deliver(context.WithoutCancel(ctx), e, o)
			}()
		}
	}
}

// pendingEvery is how often the dispatcher reads the outbox's depth for
// im_webhook_outbox_pending.
const pendingEvery = 10 * time.Second

// countPending sets the outbox depth gauge.
func (h *Hooks) countPending(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if n, err := h.ob.Pending(ctx); err == nil {
		h.m.pending.Set(float64(n))
	}
}

// deliver makes one attempt at e and records its outcome.
func (h *Hooks) deliver(ctx context.Context, e outbox.Entry, o DispatcherOptions) {
	ep, ok := h.byName[e.Endpoint]
	var err error
	if !ok {
		err = errors.New("endpoint no longer configured")
	} else {
		_, err = h.send.Post(ctx, ep, e.EventID, e.Event, e.Payload)
	}
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if err == nil {
		h.m.delivered.WithLabelValues(e.Endpoint).Inc()
		h.m.latency.WithLabelValues(e.Endpoint).Observe(h.now().Sub(e.CreatedAt).Seconds())
		if aerr := h.ob.Ack(octx, e.ID); aerr != nil {
			// Delivered, but it will be delivered again when the lease
			// lapses: receivers de-duplicate by id.
			h.log.Warn("webhook outbox: ack failed", zap.String("id", e.ID), zap.Error(aerr))
		}
		return
	}
	h.m.failed.WithLabelValues(e.Endpoint).Inc()
	msg := clip(err.Error(), 500)
	attempts := e.Attempts + 1
	if !ok || attempts >= o.MaxAttempts {
		h.m.dead.WithLabelValues(e.Endpoint).Inc()
		h.log.Warn("webhook dead-lettered", zap.String("id", e.ID), zap.String("event", e.Event),
			zap.Int("attempts", attempts), zap.String("error", msg))
		if kerr := h.ob.Kill(octx, e.ID, msg); kerr != nil {
			h.log.Warn("webhook outbox: kill failed", zap.String("id", e.ID), zap.Error(kerr))
		}
		return
	}
	at := h.now().Add(Backoff(attempts, o.BaseBackoff, o.MaxBackoff))
	if rerr := h.ob.Retry(octx, e.ID, at, msg); rerr != nil {
		h.log.Warn("webhook outbox: retry failed (the lease will bring it back)", zap.String("id", e.ID), zap.Error(rerr))
	}
}

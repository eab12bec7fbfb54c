// Package admission bounds the store operations a process lets in at once
// and sheds the rest early with `unavailable` (see Gate). The gateway gates
// its frames with one, the REST API its message writes with another.
package admission

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// Gate bounds the store operations in flight in one process. An
// operation that finds no free slot within its short wait is refused at
// once with `unavailable`: under overload a client hears it early and
// retries with backoff, instead of its request queueing into a timeout
// while it holds a gateway frame worker or an API request.
//
// Two classes share the slots. New sends are the load a process may shed;
// recovery (syncs, read marks, gap fills) is how connected members get
// what was already acknowledged, so sends never hold more than a share of
// the slots (all but an eighth: a store with group commit needs many sends
// in flight to fill its batches), and that share adapts to the store: a
// send that held its slot longer than the latency target cuts the share by
// a tenth (at most once per target), a faster one raises it by 1/share
// (additive increase, multiplicative decrease). The target sits well below
// the store timeout. A store that slows down under load, or whose cost
// grows with its data, then gets as many sends at once as it answers
// within the target, instead of so many that they time out: work that
// timed out was wasted and is done again by the retry, and that spiral is
// how a saturated store collapses below its own capacity.
type Gate struct {
	wait   time.Duration
	target time.Duration
	maxAge time.Duration

	mu      sync.Mutex
	size    int     // slots, all classes
	used    int     // slots in use
	sends   int     // of which sends
	sendMax float64 // upper bound of sendCap
	sendCap float64 // adaptive bound on sends in flight, in [1, sendMax]
	lastCut time.Time
	waiters []*waiter // acquirers waiting for a slot, oldest first

	inflight prometheus.Gauge
	capGauge prometheus.Gauge
	shed     *prometheus.CounterVec
}

var errBusy = errors.New("too many store operations in flight")

// OpSend is the class of new sends (and other new writes a client retries);
// every other op is recovery.
const OpSend = "send"

// Options configure a Gate. Size is required.
type Options struct {
	Size   int           // slots, all classes
	Wait   time.Duration // longest wait for a slot; default 100ms
	Target time.Duration // latency target of a send; default 1s
	// MaxAge: a send that already waited this long before asking (see
	// AcquireAged) is refused at once when no send slot is free, instead
	// of waiting Wait for one. Zero: off.
	MaxAge time.Duration
	// Metrics are where the gate reports; nil ones are kept unregistered
	// (the caller names and registers them: see NewMetrics).
	Metrics Metrics
}

// Metrics are a gate's gauges and counter: operations in flight, the send
// limit now, and refusals by operation (label "op").
type Metrics struct {
	InFlight  prometheus.Gauge
	SendLimit prometheus.Gauge
	Shed      *prometheus.CounterVec
}

// NewMetrics makes a gate's metrics with the caller's names and help.
func NewMetrics(inflight, sendLimit, shed prometheus.Opts) Metrics {
	return Metrics{
		InFlight:  prometheus.NewGauge(prometheus.GaugeOpts(inflight)),
		SendLimit: prometheus.NewGauge(prometheus.GaugeOpts(sendLimit)),
		Shed:      prometheus.NewCounterVec(prometheus.CounterOpts(shed), []string{"op"}),
	}
}

// Collectors are the metrics, to register.
func (m Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.InFlight, m.SendLimit, m.Shed}
}

// New returns a gate with o.Size slots.
func New(o Options) *Gate {
	if o.Wait <= 0 {
		o.Wait = 100 * time.Millisecond
	}
	if o.Target <= 0 {
		o.Target = time.Second
	}
	m := o.Metrics
	if m.InFlight == nil || m.SendLimit == nil || m.Shed == nil {
		m = NewMetrics(prometheus.Opts{Name: "store_inflight"}, prometheus.Opts{Name: "store_send_limit"}, prometheus.Opts{Name: "shed_total"})
	}
	size := max(1, o.Size)
	sendMax := float64(max(1, size-max(1, size/8)))
	g := &Gate{
		wait: o.Wait, target: o.Target, maxAge: o.MaxAge, size: size, sendMax: sendMax, sendCap: sendMax,
		inflight: m.InFlight, capGauge: m.SendLimit, shed: m.Shed,
	}
	g.capGauge.Set(sendMax)
	return g
}

// Collectors are the gate's metrics, to register.
func (g *Gate) Collectors() []prometheus.Collector {
	return Metrics{InFlight: g.inflight, SendLimit: g.capGauge, Shed: g.shed}.Collectors()
}

// Acquire takes a slot for op, waiting at most the gate's wait; release
// gives it back. A refusal is an `unavailable` protocol error.
func (g *Gate) Acquire(op string) (release func(), err error) {
	return g.AcquireAged(op, 0)
}

// AcquireAged is Acquire for a request that already waited age in the
// process before it asked (a frame waiting for a free worker, behind its
// connection's earlier frames). A send older than the gate's MaxAge that
// finds no free slot is refused at once: the process is behind, its
// waiting frames are answered at the rate they can be read instead of one
// per wait per worker, and the senders hear it while their requests are
// still young (the queue stops standing, as in CoDel).
func (g *Gate) AcquireAged(op string, age time.Duration) (release func(), err error) {
	send := op == OpSend
	g.mu.Lock()
	if g.free(send) {
		g.take(send)
		g.mu.Unlock()
	} else {
		if send && g.maxAge > 0 && age >= g.maxAge {
			g.mu.Unlock()
			return nil, g.refuse(op)
		}
		w := &waiter{send: send, granted: make(chan struct{})}
		g.waiters = append(g.waiters, w)
		g.mu.Unlock()
		timer := time.NewTimer(g.wait)
		select {
		case <-w.granted:
			timer.Stop()
		case <-timer.C:
			g.mu.Lock()
			if !w.ok {
				g.waiters = slices.DeleteFunc(g.waiters, func(x *waiter) bool { return x == w })
				g.mu.Unlock()
				return nil, g.refuse(op)
			}
			g.mu.Unlock() // handed a slot as the wait ended: keep it
		}
	}
	g.inflight.Inc()
	start := time.Now()
	return func() { g.release(send, time.Since(start)) }, nil
}

// waiter is an acquirer waiting for a slot. Slots are handed over in
// arrival order (grant), so a connection whose next frame comes right
// after its own release cannot take the slot again and again while older
// frames of other connections wait.
type waiter struct {
	send    bool
	granted chan struct{} // closed when a slot is handed over
	ok      bool          // a slot was handed over; guarded by Gate.mu
}

// take books a slot of op's class; g.mu is held.
func (g *Gate) take(send bool) {
	g.used++
	if send {
		g.sends++
	}
}

// grant hands the free slots to the oldest waiters that may use them;
// g.mu is held. Afterwards no waiter could take a free slot, so a new
// acquirer that finds one free takes it from nobody.
func (g *Gate) grant() {
	for i := 0; i < len(g.waiters); {
		w := g.waiters[i]
		if !g.free(w.send) {
			i++
			continue
		}
		g.take(w.send)
		w.ok = true
		close(w.granted)
		g.waiters = slices.Delete(g.waiters, i, i+1)
	}
}

// refuse counts a refusal of op and returns it.
func (g *Gate) refuse(op string) error {
	g.shed.WithLabelValues(op).Inc()
	return g.busy()
}

// busy is the refusal: unavailable, with a hint to retry after the
// latency target (clients back off at least that long, so that resends do
// not take the capacity they wait for).
func (g *Gate) busy() error {
	e := protocol.Unavailable(errBusy)
	e.RetryAfter = max(g.target, time.Second)
	return e
}

// free reports whether a slot of op's class is free; g.mu is held.
func (g *Gate) free(send bool) bool {
	return g.used < g.size && (!send || float64(g.sends) < g.sendCap)
}

func (g *Gate) release(send bool, held time.Duration) {
	g.inflight.Dec()
	g.mu.Lock()
	g.used--
	if send {
		g.sends--
		g.adapt(held)
	}
	g.grant()
	g.mu.Unlock()
}

// adapt moves the send share after a send that held its slot for held;
// g.mu is held.
func (g *Gate) adapt(held time.Duration) {
	was := g.sendCap
	if held > g.target {
		if now := time.Now(); now.Sub(g.lastCut) >= g.target {
			g.sendCap = max(1, g.sendCap*0.9)
			g.lastCut = now
		}
	} else {
		g.sendCap = min(g.sendMax, g.sendCap+1/g.sendCap)
	}
	if int(was) != int(g.sendCap) {
		g.capGauge.Set(float64(int(g.sendCap)))
	}
}

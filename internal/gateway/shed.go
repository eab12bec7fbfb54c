package gateway

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// storeGate bounds the store operations in flight on one node. An
// operation that finds no free slot within its short wait is refused at
// once with `unavailable`: under overload a client hears it early and
// retries with backoff, instead of its request queueing into a timeout
// while it holds one of the node's frame workers.
//
// Two classes share the slots. New sends are the load a node may shed;
// recovery (syncs, read marks, gap fills) is how connected members get what
// was already acknowledged, so sends never hold more than a share of the
// slots, and that share adapts to the store: a send that held its slot
// longer than the latency target cuts the share by a tenth (at most once
// per target), a faster one raises it by 1/share (additive increase,
// multiplicative decrease). The target sits well below the store timeout. A store that slows down under load, or whose
// cost grows with its data, then gets as many sends at once as it answers
// within the target, instead of so many that they time out: work that
// timed out was wasted and is done again by the retry, and that spiral is
// how a saturated store collapses below its own capacity.
type storeGate struct {
	wait   time.Duration
	target time.Duration

	mu       sync.Mutex
	size     int     // slots, all classes
	used     int     // slots in use
	sends    int     // of which sends
	sendMax  float64 // upper bound of sendCap
	sendCap  float64 // adaptive bound on sends in flight, in [1, sendMax]
	lastCut  time.Time
	waiting  int           // acquirers waiting for a slot
	released chan struct{} // closed (and replaced) when a slot frees and someone waits

	inflight prometheus.Gauge
	capGauge prometheus.Gauge
	shed     *prometheus.CounterVec
}

var errBusy = errors.New("gateway: too many store operations in flight")

// opSend is the class of new sends; every other op is recovery.
const opSend = "send"

func newStoreGate(size int, wait, target time.Duration) *storeGate {
	sendMax := max(1, float64(size)*3/4)
	g := &storeGate{
		wait: wait, target: target, size: size, sendMax: sendMax, sendCap: sendMax,
		released: make(chan struct{}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "im_gateway_store_inflight", Help: "Store operations in flight on this node (sends, syncs, read marks, gap fills)."}),
		capGauge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "im_gateway_store_send_limit", Help: "Sends this node lets into the store at once now (adapts to the store's latency)."}),
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "im_gateway_shed_total", Help: "Operations refused with unavailable because the node's store operations were all in flight, by operation."},
			[]string{"op"}),
	}
	g.capGauge.Set(sendMax)
	return g
}

// acquire takes a slot for op, waiting at most the gate's wait; release
// gives it back. A refusal is an `unavailable` protocol error.
func (g *storeGate) acquire(op string) (release func(), err error) {
	send := op == opSend
	var timer *time.Timer
	g.mu.Lock()
	for !g.free(send) {
		if timer == nil {
			timer = time.NewTimer(g.wait)
			defer timer.Stop()
		}
		ch := g.released
		g.waiting++
		g.mu.Unlock()
		select {
		case <-ch:
			g.mu.Lock()
			g.waiting--
		case <-timer.C:
			g.mu.Lock()
			g.waiting--
			g.mu.Unlock()
			g.shed.WithLabelValues(op).Inc()
			return nil, protocol.Unavailable(errBusy)
		}
	}
	g.used++
	if send {
		g.sends++
	}
	g.mu.Unlock()
	g.inflight.Inc()
	start := time.Now()
	return func() { g.release(send, time.Since(start)) }, nil
}

// free reports whether a slot of op's class is free; g.mu is held.
func (g *storeGate) free(send bool) bool {
	return g.used < g.size && (!send || float64(g.sends) < g.sendCap)
}

func (g *storeGate) release(send bool, held time.Duration) {
	g.inflight.Dec()
	g.mu.Lock()
	g.used--
	if send {
		g.sends--
		g.adapt(held)
	}
	if g.waiting > 0 {
		close(g.released)
		g.released = make(chan struct{})
	}
	g.mu.Unlock()
}

// adapt moves the send share after a send that held its slot for held;
// g.mu is held.
func (g *storeGate) adapt(held time.Duration) {
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

package gateway

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// storeGate bounds the store operations in flight on one node (sends,
// syncs, read marks). An operation that finds no free slot within its short
// wait is refused at once with `unavailable`: under overload a client hears
// it early and retries with backoff, instead of its request queueing into
// a timeout while it holds one of the node's frame workers.
type storeGate struct {
	slots    chan struct{}
	wait     time.Duration
	inflight prometheus.Gauge
	shed     *prometheus.CounterVec
}

var errBusy = errors.New("gateway: too many store operations in flight")

func newStoreGate(size int, wait time.Duration) *storeGate {
	return &storeGate{
		slots: make(chan struct{}, size),
		wait:  wait,
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "im_gateway_store_inflight", Help: "Store operations in flight on this node (sends, syncs, read marks)."}),
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "im_gateway_shed_total", Help: "Operations refused with unavailable because the node's store operations were all in flight, by operation."},
			[]string{"op"}),
	}
}

// acquire takes a slot for op, waiting at most the gate's wait; release
// gives it back. A refusal is an `unavailable` protocol error.
func (g *storeGate) acquire(op string) (release func(), err error) {
	select {
	case g.slots <- struct{}{}:
	default:
		t := time.NewTimer(g.wait)
		defer t.Stop()
		select {
		case g.slots <- struct{}{}:
		case <-t.C:
			g.shed.WithLabelValues(op).Inc()
			return nil, protocol.Unavailable(errBusy)
		}
	}
	g.inflight.Inc()
	return func() { g.inflight.Dec(); <-g.slots }, nil
}

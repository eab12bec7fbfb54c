package gateway

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/im-websocket-go/im-websocket-go/internal/admission"
	"github.com/im-websocket-go/im-websocket-go/internal/wsnet"
)

type metrics struct {
	conns         prometheus.GaugeFunc
	framesIn      prometheus.Counter
	framesOut     prometheus.Counter
	stored        prometheus.Counter
	deliveries    prometheus.Counter
	publishLat    prometheus.Histogram
	deliverLat    prometheus.Histogram
	slowDropped   prometheus.CounterFunc
	busResub      prometheus.Counter
	gapsAbandoned prometheus.Counter
	revoked       prometheus.Counter
	rejected      *prometheus.CounterVec
	closed        *prometheus.CounterVec
	// presence and typing
	presenceEvents  *prometheus.CounterVec
	presenceDropped prometheus.Counter
	typing          *prometheus.CounterVec

	busChurn    *prometheus.CounterVec
	busChannels prometheus.Gauge
	busShards   *busShardCollector
}

// Per-shard bus counts, read from the bus (bus.ShardCounter) at scrape
// time: nothing on the message path.
var (
	busPublishedOpts = prometheus.CounterOpts{
		Name: "im_gateway_bus_published_total", Help: "Messages this node published on the bus, by shard (the Redis Cluster primary serving the channel's slot, or single)."}
	busReceivedOpts = prometheus.CounterOpts{
		Name: "im_gateway_bus_received_total", Help: "Messages this node received from the bus, by shard (the Redis Cluster primary serving the channel's slot, or single)."}
)

// busShardCollector exports the bus's per-shard counts.
type busShardCollector struct {
	g         *Gateway
	published *prometheus.Desc
	received  *prometheus.Desc
}

func newBusShardCollector(g *Gateway) *busShardCollector {
	return &busShardCollector{g: g,
		published: prometheus.NewDesc(busPublishedOpts.Name, busPublishedOpts.Help, []string{"shard"}, nil),
		received:  prometheus.NewDesc(busReceivedOpts.Name, busReceivedOpts.Help, []string{"shard"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *busShardCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.published
	ch <- c.received
}

// Collect implements prometheus.Collector.
func (c *busShardCollector) Collect(ch chan<- prometheus.Metric) {
	sc := c.g.shards.Load()
	if sc == nil {
		return
	}
	(*sc).ShardCounts(func(shard string, published, received uint64) {
		ch <- prometheus.MustNewConstMetric(c.published, prometheus.CounterValue, float64(published), shard)
		ch <- prometheus.MustNewConstMetric(c.received, prometheus.CounterValue, float64(received), shard)
	})
}

func newMetrics(reg prometheus.Registerer, g *Gateway) *metrics {
	m := &metrics{
		conns: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "im_gateway_connections", Help: "Open WebSocket connections on this node.",
		}, func() float64 { return float64(g.ws.Len()) }),
		framesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "im_gateway_frames_in_total", Help: "Client frames received."}),
		framesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "im_gateway_frames_out_total", Help: "Frames queued to clients."}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "im_gateway_messages_stored_total", Help: "Messages stored and acked by this node."}),
		deliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "im_gateway_deliveries_total", Help: "Room messages queued to local connections."}),
		publishLat: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "im_gateway_send_seconds", Help: "Time from a send frame to its ack (store and publish).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		deliverLat: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "im_gateway_delivery_seconds", Help: "Time from a message's publication to its hand-off to local connections' write queues.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		slowDropped: prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "im_gateway_slow_consumers_total", Help: "Connections closed because their write queue overflowed.",
		}, func() float64 { return float64(g.ws.Stats().SlowConsumers) }),
		busResub: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "im_gateway_bus_reconnects_total", Help: "Times the bus reconnected and resubscribed."}),
		gapsAbandoned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "im_gateway_gaps_abandoned_total", Help: "Delivery gaps the node could not fill from the store; the room's members were told to sync it."}),
		revoked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "im_gateway_sessions_closed_total", Help: "Connections closed because their session was revoked (close 4001)."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "im_gateway_upgrades_rejected_total", Help: "WebSocket upgrades refused, by reason."}, []string{"reason"}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "im_gateway_disconnects_total", Help: "Connections ended, by reason."}, []string{"reason"}),
		presenceEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "im_gateway_presence_transitions_total", Help: "Presence transitions this node announced, by state (online, offline)."}, []string{"state"}),
		presenceDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "im_gateway_presence_dropped_total", Help: "Presence transitions not announced because the node's queue was full."}),
		typing: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "im_gateway_typing_total", Help: "Typing frames relayed or dropped (over the rate), by outcome."}, []string{"outcome"}),
		busChurn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "im_gateway_bus_channel_changes_total", Help: "Bus channels (rooms with local members, local users) subscribed or unsubscribed, by op."}, []string{"op"}),
		busChannels: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "im_gateway_bus_channels", Help: "Bus channels this node is subscribed to."}),
		busShards: newBusShardCollector(g),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.conns, m.framesIn, m.framesOut, m.stored, m.deliveries,
			m.publishLat, m.deliverLat, m.slowDropped, m.busResub, m.rejected, m.closed,
			m.gapsAbandoned, m.revoked, m.presenceEvents, m.presenceDropped, m.typing,
			m.busChurn, m.busChannels, m.busShards} {
			_ = reg.Register(c)
		}
		for _, c := range g.gate.Collectors() {
			_ = reg.Register(c)
		}
		for _, c := range wireCounters(g) {
			_ = reg.Register(c)
		}
	}
	return m
}

// wireCounters export the transport's byte and compression counters
// (wsnet.Stats), read when Prometheus scrapes: what permessage-deflate
// saves shows as bytes out against frames compressed.
func wireCounters(g *Gateway) []prometheus.Collector {
	counter := func(name, help string, v func(st wsnet.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v(g.ws.Stats())) })
	}
	return []prometheus.Collector{
		counter("im_gateway_ws_bytes_out_total", "Bytes written to WebSocket connections after the handshake.",
			func(st wsnet.Stats) uint64 { return st.BytesOut }),
		counter("im_gateway_ws_bytes_in_total", "Bytes read from WebSocket connections after the handshake.",
			func(st wsnet.Stats) uint64 { return st.BytesIn }),
		counter("im_gateway_ws_writes_total", "Socket writes of WebSocket frames (frames out / writes is how many frames a write carries).",
			func(st wsnet.Stats) uint64 { return st.Writes }),
		counter("im_gateway_ws_deflate_connections_total", "Connections that negotiated permessage-deflate.",
			func(st wsnet.Stats) uint64 { return st.Deflate }),
		counter("im_gateway_ws_compressions_total", "Frames compressed (once per frame for all its deflate connections).",
			func(st wsnet.Stats) uint64 { return st.Compressions }),
		counter("im_gateway_ws_frames_compressed_out_total", "Frames written compressed.",
			func(st wsnet.Stats) uint64 { return st.CompressedOut }),
		counter("im_gateway_ws_messages_inflated_total", "Compressed client messages received and inflated.",
			func(st wsnet.Stats) uint64 { return st.InflatedIn }),
	}
}

// newGateMetrics are the store gate's metrics (admission.Gate).
func newGateMetrics() admission.Metrics {
	return admission.NewMetrics(
		prometheus.Opts{Name: "im_gateway_store_inflight", Help: "Store operations in flight on this node (sends, syncs, read marks, gap fills)."},
		prometheus.Opts{Name: "im_gateway_store_send_limit", Help: "Sends this node lets into the store at once now (adapts to the store's latency)."},
		prometheus.Opts{Name: "im_gateway_shed_total", Help: "Operations refused with unavailable because the node's store operations were all in flight, by operation."})
}

package webhook

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the webhook counters; a nil *Metrics counts nothing.
type Metrics struct {
	queued     *prometheus.CounterVec
	delivered  *prometheus.CounterVec
	failed     *prometheus.CounterVec
	dead       *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	beforeSend *prometheus.CounterVec
	pending    prometheus.Gauge
}

// NewMetrics registers the metrics on reg (nil: not registered, still
// counted).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		queued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "im_webhook_queued_total", Help: "Webhook deliveries written to the outbox, by event."}, []string{"event"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "im_webhook_delivered_total", Help: "Webhook deliveries answered 2xx, by endpoint."}, []string{"endpoint"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "im_webhook_failed_total", Help: "Failed webhook delivery attempts (each is retried or dead-lettered), by endpoint."}, []string{"endpoint"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "im_webhook_dead_total", Help: "Webhook deliveries moved to the dead letters, by endpoint."}, []string{"endpoint"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "im_webhook_latency_seconds", Help: "Time from an event's enqueueing to its successful delivery, by endpoint.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800}}, []string{"endpoint"}),
		beforeSend: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "im_webhook_before_send_total", Help: "before_send calls by result: allow, reject, replace, error (then the fail-open policy decides)."}, []string{"result"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "im_webhook_outbox_pending", Help: "Deliveries queued in the outbox (shared by every process on Redis: take the max across processes), read by the dispatcher every 10s."}),
	}
	if reg != nil {
		reg.MustRegister(m.queued, m.delivered, m.failed, m.dead, m.latency, m.beforeSend, m.pending)
	}
	return m
}

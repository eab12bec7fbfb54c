package gateway_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/gateway"
)

// metricValue sums the samples of a counter or gauge family in reg.
func metricValue(t *testing.T, reg *prometheus.Registry, name, op string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := op == ""
			for _, l := range m.GetLabel() {
				match = match || (l.GetName() == "op" && l.GetValue() == op)
			}
			if !match {
				continue
			}
			if m.Counter != nil {
				v += m.Counter.GetValue()
			}
			if m.Gauge != nil {
				v += m.Gauge.GetValue()
			}
		}
	}
	return v
}

// The node subscribes its local users' channels and their rooms when they
// connect and unsubscribes them when the last one leaves; the churn and
// the subscribed count are exported.
func TestBusChurnMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	cl := apitest.NewCluster(t, 1, apitest.Options{}, func(o *gateway.Options) { o.Registry = reg })
	a, b := cl.Register("ch"), cl.Register("ch")
	cl.Befriend(a, b)
	wa := apitest.DialWS(t, cl.Nodes[0].URL, a.Token)
	cl.Settle()
	// a's user channel and the 1:1 room.
	if got := metricValue(t, reg, "im_gateway_bus_channels", ""); got != 2 {
		t.Fatalf("im_gateway_bus_channels = %v, want 2", got)
	}
	if got := metricValue(t, reg, "im_gateway_bus_channel_changes_total", "subscribe"); got != 2 {
		t.Fatalf("subscribed %v channels, want 2", got)
	}
	_ = wa.Conn.Close()
	for end := time.Now().Add(wait); ; time.Sleep(10 * time.Millisecond) {
		if metricValue(t, reg, "im_gateway_bus_channel_changes_total", "unsubscribe") == 2 &&
			metricValue(t, reg, "im_gateway_bus_channels", "") == 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("after the last connection left: unsubscribed %v, subscribed %v",
				metricValue(t, reg, "im_gateway_bus_channel_changes_total", "unsubscribe"),
				metricValue(t, reg, "im_gateway_bus_channels", ""))
		}
	}
}

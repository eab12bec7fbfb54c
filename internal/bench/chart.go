package bench

import (
	"fmt"
)

// The charts of BENCHMARKS.md built from results (drawn in plot.go).

// IdleAnchors are the published memory per connection of other systems.
func IdleAnchors() []RefLine {
	return []RefLine{
		{Y: 30 * 1000, Label: "Centrifugo ~30 KB", Color: palette[5]},
		{Y: 27 * 1000, Label: "Open-IM gateway ~27 KB", Color: palette[4]},
		{Y: 8 * 1000, Label: "gobwas/ws+epoll (Mail.Ru) ~8 KB", Color: palette[2]},
		{Y: 2 * 1000, Label: "nbio ~2 KB", Color: palette[3]},
	}
}

// RSSChart plots RSS per connection against the number of connections
// for idle results.
func RSSChart(results []*Result, labels []string) *Chart {
	c := &Chart{Title: "Idle gateway memory per WebSocket connection", XLabel: "open connections (one gateway)",
		YLabel: "gateway RSS over baseline per connection (bytes)", LogX: true, LogY: true, Refs: IdleAnchors()}
	for i, r := range results {
		var s Series
		s.Name = fmt.Sprintf("im-websocket-go (%d conns)", r.Connections)
		if len(results) == 1 {
			s.Name = "im-websocket-go"
		}
		if i < len(labels) && labels[i] != "" {
			s.Name = labels[i]
		}
		s.Color = palette[i%len(palette)]
		for _, p := range r.RSSCurve {
			s.X = append(s.X, float64(p.Conns))
			s.Y = append(s.Y, p.PerConn)
		}
		c.Series = append(c.Series, s)
	}
	c.Refs = append(c.Refs, RefLine{Y: 8192, Label: "target at 10k: 8 KiB", Color: lightGrey},
		RefLine{Y: 2048, Label: "target at 100k: 2 KiB", Color: lightGrey})
	c.Notes = []string{"Anchors are published figures of other systems, measured elsewhere, shown for scale only."}
	if len(results) > 0 {
		m := results[0].Machine
		c.Notes = append(c.Notes, fmt.Sprintf("This machine: %d CPUs %s, %d MiB, %s.", m.NProc, m.CPUModel, m.MemTotalMB, m.GoVersion))
	}
	return c
}

// LatencyChart plots latency percentiles against the offered rate of
// ramp results.
func LatencyChart(results []*Result, labels []string) *Chart {
	c := &Chart{Title: "Latency vs offered rate", XLabel: "offered deliveries per second", YLabel: "latency (ms)",
		LogX: true, LogY: true}
	for i, r := range results {
		members := float64(max(1, r.Setup.Group-1))
		what := "send→deliver"
		if r.RampOf == ScenarioDirect {
			members = 1
		}
		var p50, p99, p999 Series
		tag := fmt.Sprintf(" (%s, %d gw)", r.RampOf, len(r.Setup.Gateways))
		if i < len(labels) && labels[i] != "" {
			tag = " (" + labels[i] + ")"
		}
		p50.Name, p99.Name, p999.Name = what+" p50"+tag, what+" p99"+tag, what+" p99.9"+tag
		p999.Dash = true
		for _, s := range r.Steps {
			l := s.DeliverLatency
			xv := s.Rate * members
			p50.X, p99.X, p999.X = append(p50.X, xv), append(p99.X, xv), append(p999.X, xv)
			p50.Y, p99.Y, p999.Y = append(p50.Y, l.P50MS), append(p99.Y, l.P99MS), append(p999.Y, l.P999MS)
		}
		col := palette[i%len(palette)]
		p50.Color, p99.Color, p999.Color = col, col, col
		p50.Dash = true
		p999.Dash = false
		p50.Name, p99.Name, p999.Name = "p50"+tag, "p99"+tag, "p99.9"+tag
		if len(results) > 1 {
			c.Series = append(c.Series, p50, p99)
		} else {
			p999.Color = palette[(i+1)%len(palette)]
			c.Series = append(c.Series, p50, p99, p999)
		}
	}
	c.Refs = []RefLine{{Y: 50, Label: "target p99 50 ms", Color: palette[1]},
		{Y: 200, Label: "Open-IM avg 0.2-0.9 s (16 cores)", Color: palette[4]}}
	c.Notes = []string{"Centrifugo publishes 500,000 deliveries/s on ~40 CPUs (about 12,500 per core);",
		"Open-IM ~3,000 stored 1:1 msgs/s on 16 cores with 0.2-0.9 s average latency. Measured elsewhere."}
	return c
}

// TimelineChart plots acked and delivered messages per second over a run.
func TimelineChart(r *Result) *Chart {
	c := &Chart{Title: fmt.Sprintf("%s over time", r.Scenario), XLabel: "seconds", YLabel: "per second"}
	var a, d Series
	a.Name, d.Name = "acked/s", "delivered/s"
	var pa, pd int64
	var pt float64
	for _, s := range r.Timeline {
		dt := s.T - pt
		if dt <= 0 {
			continue
		}
		a.X, d.X = append(a.X, s.T), append(d.X, s.T)
		a.Y, d.Y = append(a.Y, float64(s.Acked-pa)/dt), append(d.Y, float64(s.Delivered-pd)/dt)
		pa, pd, pt = s.Acked, s.Delivered, s.T
	}
	c.Series = []Series{d, a}
	return c
}

// PerCoreChart compares throughput per CPU core with the anchors:
// fan-out results count deliveries, direct ones acked (stored) messages.
func PerCoreChart(rs []*Result, labels []string) *BarChart {
	c := &BarChart{Title: "Throughput per CPU core (this machine's 2 cores; anchors measured elsewhere)", Unit: "/s/core",
		XLabel: "deliveries or stored messages per second per CPU core (log scale)", Log: true}
	add := func(i int, r *Result, kind string) {
		n := float64(max(1, r.Machine.NProc))
		label := "im-websocket-go " + kind
		if i < len(labels) && labels[i] != "" {
			label = labels[i]
		}
		v, what := r.DeliveredPS, "deliveries/s"
		if kind == ScenarioDirect {
			v, what = r.AckedPerS, "stored msgs/s"
		}
		c.Bars = append(c.Bars, Bar{Label: label, Value: v / n, Ours: true,
			Note: fmt.Sprintf("(%s %s on %d CPUs)", fmtNum(v), what, int(n))})
	}
	for i, r := range rs {
		if r.Scenario == ScenarioFanout || r.RampOf == ScenarioFanout {
			add(i, r, ScenarioFanout)
		}
	}
	c.Bars = append(c.Bars, Bar{Label: "Centrifugo fan-out", Value: 500000.0 / 40, Note: "(500k deliveries/s, ~40 CPUs)"})
	for i, r := range rs {
		if r.Scenario == ScenarioDirect || r.RampOf == ScenarioDirect {
			add(i, r, ScenarioDirect)
		}
	}
	c.Bars = append(c.Bars, Bar{Label: "Open-IM stored 1:1", Value: 3000.0 / 16, Note: "(~3,000 msgs/s, 16 cores)"})
	return c
}

// WriteRunSVG writes the chart that fits a single result, as SVG (or PNG
// for a .png path).
func WriteRunSVG(path string, r *Result) error {
	switch {
	case r.Scenario == ScenarioIdle:
		return writeFigure(path, RSSChart([]*Result{r}, nil))
	case r.Scenario == ScenarioRamp:
		return writeFigure(path, LatencyChart([]*Result{r}, nil))
	default:
		return writeFigure(path, TimelineChart(r))
	}
}

// WriteChart writes a chart of kind rss, latency or percore from results,
// as SVG (or PNG for a .png path); labels (optional) name their series.
func WriteChart(kind, path string, rs []*Result, labels []string) error {
	switch kind {
	case "rss":
		return writeFigure(path, RSSChart(rs, labels))
	case "latency":
		return writeFigure(path, LatencyChart(rs, labels))
	case "percore":
		return writeFigure(path, PerCoreChart(rs, labels))
	default:
		return fmt.Errorf("unknown chart %q (rss, latency, percore)", kind)
	}
}

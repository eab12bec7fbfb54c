package bench

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"os"
	"sort"
	"strings"
)

// Small, dependency-free SVG charts for BENCHMARKS.md: line charts with
// optional log axes and labelled reference lines (the published figures
// of other systems), and horizontal bar charts.

// Series is one line of a chart.
type Series struct {
	Name  string
	X, Y  []float64
	Color string
	Dash  bool
}

// RefLine is a labelled horizontal reference line.
type RefLine struct {
	Y     float64
	Label string
	Color string
}

// Chart is a line chart.
type Chart struct {
	Title, XLabel, YLabel string
	LogX, LogY            bool
	Series                []Series
	Refs                  []RefLine
	Notes                 []string // lines of text under the plot
	W, H                  int
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"}

type axis struct {
	lo, hi float64
	log    bool
	p0, p1 float64 // pixel range
}

func (a axis) px(v float64) float64 {
	if a.log {
		v, lo, hi := math.Log10(math.Max(v, 1e-12)), math.Log10(a.lo), math.Log10(a.hi)
		return a.p0 + (v-lo)/(hi-lo)*(a.p1-a.p0)
	}
	return a.p0 + (v-a.lo)/(a.hi-a.lo)*(a.p1-a.p0)
}

// ticks returns tick values for the axis.
func (a axis) ticks() []float64 {
	var out []float64
	if a.log {
		for e := math.Floor(math.Log10(a.lo)); e <= math.Ceil(math.Log10(a.hi)); e++ {
			for _, m := range []float64{1, 2, 5} {
				v := m * math.Pow(10, e)
				if v >= a.lo*0.999 && v <= a.hi*1.001 {
					out = append(out, v)
				}
			}
		}
		return out
	}
	span := a.hi - a.lo
	step := math.Pow(10, math.Floor(math.Log10(span/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if span/(step*m) <= 7 {
			step *= m
			break
		}
	}
	for v := math.Ceil(a.lo/step) * step; v <= a.hi+step/1e6; v += step {
		out = append(out, v)
	}
	return out
}

func fmtNum(v float64) string {
	av := math.Abs(v)
	switch {
	case av >= 1e6:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v/1e6), ".0") + "M"
	case av >= 1e3:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v/1e3), ".0") + "k"
	case av >= 10 || av == 0:
		return fmt.Sprintf("%.0f", v)
	case av >= 1:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0")
	default:
		return fmt.Sprintf("%.2g", v)
	}
}

func span(vals []float64, log bool) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if log && v <= 0 {
			continue
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if math.IsInf(lo, 0) {
		return 1, 10
	}
	if log {
		lo = math.Pow(10, math.Floor(math.Log10(lo)))
		hi = math.Pow(10, math.Ceil(math.Log10(hi)))
		if lo == hi {
			hi = lo * 10
		}
		return lo, hi
	}
	if lo > 0 {
		lo = 0
	}
	if hi == lo {
		hi = lo + 1
	}
	return lo, hi * 1.08
}

// SVG renders the chart.
func (c *Chart) SVG() []byte {
	if c.W == 0 {
		c.W = 760
	}
	if c.H == 0 {
		c.H = 400 + 16*(len(c.Series)+len(c.Notes))
	}
	left, right, top := 80.0, 230.0, 40.0
	bottom := 60.0 + 16*float64(len(c.Series)+len(c.Notes))
	var xs, ys []float64
	for _, s := range c.Series {
		xs = append(xs, s.X...)
		ys = append(ys, s.Y...)
	}
	for _, r := range c.Refs {
		ys = append(ys, r.Y)
	}
	x := axis{log: c.LogX, p0: left, p1: float64(c.W) - right}
	x.lo, x.hi = span(xs, c.LogX)
	if !c.LogX && x.lo >= 0 {
		x.hi = x.hi / 1.08 // no headroom needed on x
	}
	y := axis{log: c.LogY, p0: float64(c.H) - bottom, p1: top}
	y.lo, y.hi = span(ys, c.LogY)

	var b bytes.Buffer
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	w(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", c.W, c.H, c.W, c.H)
	w(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	w(`<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", int(left), html.EscapeString(c.Title))
	// grid and ticks
	for _, t := range x.ticks() {
		px := x.px(t)
		w(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", px, y.p0, px, y.p1)
		w(`<text x="%.1f" y="%.1f" text-anchor="middle" fill="#444">%s</text>`+"\n", px, y.p0+16, fmtNum(t))
	}
	for _, t := range y.ticks() {
		py := y.px(t)
		w(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", x.p0, py, x.p1, py)
		w(`<text x="%.1f" y="%.1f" text-anchor="end" fill="#444">%s</text>`+"\n", x.p0-6, py+4, fmtNum(t))
	}
	w(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#888"/>`+"\n", x.p0, y.p1, x.p1-x.p0, y.p0-y.p1)
	w(`<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", (x.p0+x.p1)/2, y.p0+36, html.EscapeString(c.XLabel))
	w(`<text transform="translate(18,%.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", (y.p0+y.p1)/2, html.EscapeString(c.YLabel))
	// reference lines, their labels pushed apart so they stay readable
	type lab struct {
		y         float64
		text, col string
	}
	var labs []lab
	for _, r := range c.Refs {
		col := r.Color
		if col == "" {
			col = "#999"
		}
		py := y.px(r.Y)
		w(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="6,4"/>`+"\n", x.p0, py, x.p1, py, col)
		labs = append(labs, lab{py + 4, r.Label, col})
	}
	sort.Slice(labs, func(i, j int) bool { return labs[i].y < labs[j].y })
	for i := 1; i < len(labs); i++ {
		if labs[i].y < labs[i-1].y+13 {
			labs[i].y = labs[i-1].y + 13
		}
	}
	for _, l := range labs {
		w(`<text x="%.1f" y="%.1f" fill="%s">%s</text>`+"\n", x.p1+6, l.y, l.col, html.EscapeString(l.text))
	}
	// series, with the legend under the plot
	ly := y.p0 + 56
	for i, s := range c.Series {
		col := s.Color
		if col == "" {
			col = palette[i%len(palette)]
		}
		var pts []string
		for k := range s.X {
			if k >= len(s.Y) || (c.LogY && s.Y[k] <= 0) || (c.LogX && s.X[k] <= 0) {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x.px(s.X[k]), y.px(s.Y[k])))
		}
		dash := ""
		if s.Dash {
			dash = ` stroke-dasharray="3,3"`
		}
		if len(pts) > 1 {
			w(`<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", col, dash, strings.Join(pts, " "))
		}
		for _, p := range pts {
			xy := strings.Split(p, ",")
			w(`<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", xy[0], xy[1], col)
		}
		w(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n", x.p0, ly, x.p0+20, ly, col, dash)
		w(`<text x="%.1f" y="%.1f">%s</text>`+"\n", x.p0+26, ly+4, html.EscapeString(s.Name))
		ly += 16
	}
	for _, n := range c.Notes {
		w(`<text x="%d" y="%.1f" fill="#333">%s</text>`+"\n", int(left), ly+4, html.EscapeString(n))
		ly += 16
	}
	w("</svg>\n")
	return b.Bytes()
}

// Bar is one bar of a BarChart.
type Bar struct {
	Label string
	Value float64
	Note  string
	Ours  bool
}

// BarChart is a horizontal bar chart (log scale when values span decades).
type BarChart struct {
	Title, Unit string
	Bars        []Bar
	Log         bool
	W           int
}

// SVG renders the bar chart.
func (c *BarChart) SVG() []byte {
	if c.W == 0 {
		c.W = 900
	}
	rowH, top, labelW, noteW := 26.0, 40.0, 250.0, 330.0
	h := int(top + rowH*float64(len(c.Bars)) + 40)
	maxV := 0.0
	minV := math.Inf(1)
	for _, b := range c.Bars {
		maxV = math.Max(maxV, b.Value)
		if b.Value > 0 {
			minV = math.Min(minV, b.Value)
		}
	}
	x := axis{lo: 0, hi: maxV * 1.05, log: c.Log, p0: labelW, p1: float64(c.W) - noteW}
	if c.Log {
		x.lo, x.hi = span([]float64{minV, maxV}, true)
	}
	var b bytes.Buffer
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	w(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", c.W, h, c.W, h)
	w(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	w(`<text x="10" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", html.EscapeString(c.Title))
	for i, bar := range c.Bars {
		y := top + rowH*float64(i)
		col := "#9aa7b8"
		if bar.Ours {
			col = "#1f77b4"
		}
		x0 := x.px(x.lo)
		if !c.Log {
			x0 = x.px(0)
		}
		wd := math.Max(1, x.px(math.Max(bar.Value, x.lo))-x0)
		w(`<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", labelW-8, y+15, html.EscapeString(bar.Label))
		w(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x0, y+3, wd, rowH-8, col)
		w(`<text x="%.1f" y="%.1f" fill="#222">%s %s %s</text>`+"\n", x0+wd+6, y+15, fmtNum(bar.Value), html.EscapeString(c.Unit), html.EscapeString(bar.Note))
	}
	w("</svg>\n")
	return b.Bytes()
}

// Anchors: published figures of other systems, for the charts.
var (
	IdleAnchors = []RefLine{
		{Y: 30 * 1000, Label: "Centrifugo ~30 KB", Color: "#8c564b"},
		{Y: 27 * 1000, Label: "Open-IM gateway ~27 KB", Color: "#ff7f0e"},
		{Y: 8 * 1000, Label: "gobwas/ws+epoll (Mail.Ru) ~8 KB", Color: "#2ca02c"},
		{Y: 2 * 1000, Label: "nbio ~2 KB", Color: "#9467bd"},
	}
)

// RSSChart plots RSS per connection against the number of connections
// for idle results.
func RSSChart(results []*Result, labels []string) *Chart {
	c := &Chart{Title: "Idle gateway memory per WebSocket connection", XLabel: "open connections (one gateway)",
		YLabel: "gateway RSS over baseline per connection (bytes)", LogX: true, LogY: true, Refs: IdleAnchors}
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
	c.Refs = append(c.Refs, RefLine{Y: 8192, Label: "target at 10k: 8 KiB", Color: "#bbb"},
		RefLine{Y: 2048, Label: "target at 100k: 2 KiB", Color: "#bbb"})
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
	c.Refs = []RefLine{{Y: 50, Label: "target p99 50 ms", Color: "#d62728"},
		{Y: 200, Label: "Open-IM avg 0.2-0.9 s (16 cores)", Color: "#ff7f0e"}}
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
	c := &BarChart{Title: "Throughput per CPU core (this machine's 2 cores; anchors measured elsewhere)", Unit: "/s/core", Log: true}
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

// WriteRunSVG writes the chart that fits a single result.
func WriteRunSVG(path string, r *Result) error {
	var c *Chart
	switch {
	case r.Scenario == ScenarioIdle:
		c = RSSChart([]*Result{r}, nil)
	case r.Scenario == ScenarioRamp:
		c = LatencyChart([]*Result{r}, nil)
	default:
		c = TimelineChart(r)
	}
	return os.WriteFile(path, c.SVG(), 0o644)
}

// WriteChart writes a chart of kind rss, latency or percore from results;
// labels (optional) name their series.
func WriteChart(kind, path string, rs []*Result, labels []string) error {
	var svg []byte
	switch kind {
	case "rss":
		svg = RSSChart(rs, labels).SVG()
	case "latency":
		svg = LatencyChart(rs, labels).SVG()
	case "percore":
		svg = PerCoreChart(rs, labels).SVG()
	default:
		return fmt.Errorf("unknown chart %q (rss, latency, percore)", kind)
	}
	return os.WriteFile(path, svg, 0o644)
}

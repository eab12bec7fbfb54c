package bench

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Charts for BENCHMARKS.md, drawn with gonum.org/v1/plot: line charts with
// optional log axes, labelled reference lines (the published figures of
// other systems) and notes under the legend, and horizontal bar charts.
// They are written as SVG or PNG (by the file name's extension) on a white
// background, so they read the same in light and dark page themes.

// Series is one line of a chart.
type Series struct {
	Name  string
	X, Y  []float64
	Color color.Color // nil: the palette's colour for its place
	Dash  bool
}

// RefLine is a labelled horizontal reference line.
type RefLine struct {
	Y     float64
	Label string
	Color color.Color // nil: grey
}

// Chart is a line chart.
type Chart struct {
	Title, XLabel, YLabel string
	LogX, LogY            bool
	Series                []Series
	Refs                  []RefLine
	Notes                 []string // lines of text under the legend
	W                     int      // width in CSS pixels; 0: 760
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
	XLabel      string
	Bars        []Bar
	Log         bool
	W           int // width in CSS pixels; 0: 900
}

// px is one CSS pixel: SVG sizes are written in points, 96 pixels an inch.
const px = vg.Length(0.75)

func rgb(v uint32) color.Color {
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xff}
}

var (
	palette = []color.Color{rgb(0x1f77b4), rgb(0xd62728), rgb(0x2ca02c), rgb(0x9467bd),
		rgb(0xff7f0e), rgb(0x8c564b), rgb(0xe377c2), rgb(0x7f7f7f)}
	grey      = rgb(0x999999)
	lightGrey = rgb(0xbbbbbb)
	gridGrey  = rgb(0xe8e8e8)
	noteGrey  = rgb(0x333333)
	ourBar    = rgb(0x1f77b4)
	otherBar  = rgb(0x9aa7b8)
)

// figure is a chart that can be drawn on a canvas of its size.
type figure interface {
	size() (w, h vg.Length)
	draw(c draw.Canvas) error
}

// writeFigure draws f and writes it to path as SVG or PNG, chosen by the
// extension.
func writeFigure(path string, f figure) error {
	w, h := f.size()
	var cw vg.CanvasWriterTo
	ext := strings.ToLower(filepath.Ext(path))
	switch ext {
	case ".svg":
		cw = vgsvg.New(w, h)
	case ".png":
		cw = vgimg.PngCanvas{Canvas: vgimg.New(w, h)}
	default:
		return fmt.Errorf("chart %s: unknown format %q (.svg or .png)", path, ext)
	}
	c := draw.New(cw)
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	if err := f.draw(c); err != nil {
		return fmt.Errorf("chart %s: %w", path, err)
	}
	var b bytes.Buffer
	if _, err := cw.WriteTo(&b); err != nil {
		return fmt.Errorf("chart %s: %w", path, err)
	}
	out := b.Bytes()
	if ext == ".svg" {
		// The text is laid out with Liberation Sans, which the SVG names
		// without embedding it: fall back to the fonts that share its
		// metrics (Arial, Helvetica), then to any sans-serif.
		out = bytes.ReplaceAll(out, []byte("font-family:Liberation Sans;"),
			[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}

// textStyle is the default text of the charts at size pt points.
func textStyle(pt float64) text.Style {
	s := plot.NewLegend().TextStyle
	s.Font.Variant, s.Font.Size = "Sans", vg.Length(pt)
	s.Color = color.Black
	return s
}

// newPlot is a plot with the charts' font sizes and a light grid (on x
// only when a bar chart's categories are on y).
func newPlot(title, xlabel, ylabel string, gridY bool) *plot.Plot {
	p := plot.New()
	p.BackgroundColor = nil // writeFigure paints the whole canvas white
	p.Title.Text = title
	p.Title.TextStyle.Font.Variant, p.Title.TextStyle.Font.Size = "Sans", 11.5
	p.Title.Padding = 8 * px
	p.X.Label.Text, p.Y.Label.Text = xlabel, ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Variant, a.Label.TextStyle.Font.Size = "Sans", 9.5
		a.Tick.Label.Font.Variant, a.Tick.Label.Font.Size = "Sans", 9
		a.Tick.Label.Color = rgb(0x444444)
		a.Color, a.Tick.Color = rgb(0x888888), rgb(0x888888)
	}
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = gridGrey, gridGrey
	if !gridY {
		g.Horizontal.Color = nil
	}
	p.Add(g)
	return p
}

// drawPlot draws p on c and returns its data area. It draws the axis
// labels itself, centred on the data area: gonum's plot pads a log axis as
// if its label sat at the value halfway between the ends.
func drawPlot(p *plot.Plot, c draw.Canvas) draw.Canvas {
	xl, yl := p.X.Label, p.Y.Label
	p.X.Label.Text, p.Y.Label.Text = "", ""
	inner := c
	if yl.Text != "" {
		inner = draw.Crop(inner, yl.TextStyle.Height(yl.Text)+yl.Padding, 0, 0, 0)
	}
	if xl.Text != "" {
		inner = draw.Crop(inner, 0, 0, xl.TextStyle.Height(xl.Text)+xl.Padding, 0)
	}
	p.Draw(inner)
	data := p.DataCanvas(inner)
	if xl.Text != "" {
		sty := xl.TextStyle
		sty.XAlign, sty.YAlign = text.XCenter, text.YBottom
		c.FillText(sty, vg.Point{X: data.Center().X, Y: c.Min.Y + sty.FontExtents().Descent}, xl.Text)
	}
	if yl.Text != "" {
		sty := yl.TextStyle
		sty.Rotation += math.Pi / 2
		sty.XAlign, sty.YAlign = text.XCenter, text.YBottom
		c.FillText(sty, vg.Point{X: c.Min.X + sty.Height(yl.Text) - sty.FontExtents().Descent, Y: data.Center().Y}, yl.Text)
	}
	return data
}

// ticks marks an axis with labels from fmtNum: 1, 2 and 5 in each decade
// (and the other digits unlabelled) on a log axis, a 1-2-5 step on a
// linear one.
type ticks struct{ log bool }

func (t ticks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	if t.log {
		for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
			for m := 1; m <= 9; m++ {
				v := float64(m) * math.Pow(10, e)
				if v < lo*0.999 || v > hi*1.001 {
					continue
				}
				tk := plot.Tick{Value: v}
				if m == 1 || m == 2 || m == 5 {
					tk.Label = fmtNum(v)
				}
				out = append(out, tk)
			}
		}
		return out
	}
	span := hi - lo
	step := math.Pow(10, math.Floor(math.Log10(span/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if span/(step*m) <= 7 {
			step *= m
			break
		}
	}
	for i := math.Ceil(lo / step); i*step <= hi+step/1e6; i++ {
		out = append(out, plot.Tick{Value: i * step, Label: fmtNum(i * step)})
	}
	return out
}

// setAxis gives the axis its range, scale and ticks.
func setAxis(a *plot.Axis, lo, hi float64, log bool) {
	a.Min, a.Max = lo, hi
	a.Tick.Marker = ticks{log: log}
	if log {
		a.Scale = floorLog{}
	}
}

// floorLog is a log scale that puts values at or below zero at the axis
// minimum, where a bar starts on a log axis.
type floorLog struct{}

func (floorLog) Normalize(lo, hi, x float64) float64 {
	return plot.LogScale{}.Normalize(lo, hi, math.Max(x, lo))
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

// span is the range an axis shows for vals: whole decades on a log axis
// (values at or below zero left out), from zero with some headroom on a
// linear one.
func span(vals []float64, log bool) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if (log && v <= 0) || math.IsNaN(v) || math.IsInf(v, 0) {
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

// points are the series' points a chart can show: finite, and positive
// on a log axis.
func (c *Chart) points(s Series) plotter.XYs {
	var xys plotter.XYs
	for k := range min(len(s.X), len(s.Y)) {
		x, y := s.X[k], s.Y[k]
		if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) ||
			(c.LogX && x <= 0) || (c.LogY && y <= 0) {
			continue
		}
		xys = append(xys, plotter.XY{X: x, Y: y})
	}
	return xys
}

const (
	chartPlotH   = 420 * px // the plot: title, axes and data
	chartRow     = 16 * px  // a legend entry or a line of notes
	chartRefGap  = 12 * px  // between the plot and the reference labels
	chartMargin  = 12 * px
	chartNotePts = 9
)

// shownRefs are the reference lines the chart can show (positive on a
// log axis), each with its colour.
func (c *Chart) shownRefs() []RefLine {
	var out []RefLine
	for _, r := range c.Refs {
		if c.LogY && r.Y <= 0 {
			continue
		}
		if r.Color == nil {
			r.Color = grey
		}
		out = append(out, r)
	}
	return out
}

func (c *Chart) width() vg.Length {
	if c.W > 0 {
		return vg.Length(c.W) * px
	}
	return 760 * px
}

func (c *Chart) size() (w, h vg.Length) {
	rows := len(c.Series) + len(c.Notes)
	return c.width(), chartPlotH + chartRow*vg.Length(rows) + 2*chartMargin
}

// draw lays out the plot at the top, the reference lines' labels on its
// right, and the legend then the notes under it.
func (c *Chart) draw(dc draw.Canvas) error {
	p := newPlot(c.Title, c.XLabel, c.YLabel, true)
	var xs, ys []float64
	for _, s := range c.Series {
		xs, ys = append(xs, s.X...), append(ys, s.Y...)
	}
	for _, r := range c.Refs {
		ys = append(ys, r.Y)
	}
	xlo, xhi := span(xs, c.LogX)
	if !c.LogX && xlo >= 0 {
		xhi /= 1.08 // no headroom needed on x
	}
	ylo, yhi := span(ys, c.LogY)

	labelStyle := textStyle(chartNotePts)
	labelW := vg.Length(0)
	refs := c.shownRefs()
	for _, r := range refs {
		l, err := plotter.NewLine(plotter.XYs{{X: xlo, Y: r.Y}, {X: xhi, Y: r.Y}})
		if err != nil {
			return fmt.Errorf("reference %q: %w", r.Label, err)
		}
		l.Color, l.Width, l.Dashes = r.Color, 1*px, []vg.Length{6 * px, 4 * px}
		p.Add(l)
		labelW = max(labelW, labelStyle.Width(r.Label)*1.2+chartRefGap) // room for a wider fallback font
	}

	legend := plot.NewLegend()
	legend.TextStyle = textStyle(chartNotePts)
	legend.Top, legend.Left, legend.Padding = true, true, 4*px
	legend.ThumbnailWidth = 20 * px
	for i, s := range c.Series {
		col := s.Color
		if col == nil {
			col = palette[i%len(palette)]
		}
		xys := c.points(s)
		l := &plotter.Line{XYs: xys, LineStyle: plotter.DefaultLineStyle}
		l.Color, l.Width = col, 2*px
		if s.Dash {
			l.Dashes = []vg.Length{3 * px, 3 * px}
		}
		dots := &plotter.Scatter{XYs: xys, GlyphStyle: draw.GlyphStyle{Color: col, Radius: 3 * px, Shape: draw.CircleGlyph{}}}
		if len(xys) > 1 {
			p.Add(l)
		}
		p.Add(dots)
		legend.Add(s.Name, l)
	}
	setAxis(&p.X, xlo, xhi, c.LogX)
	setAxis(&p.Y, ylo, yhi, c.LogY)

	_, h := c.size()
	top := draw.Crop(dc, chartMargin, -chartMargin-labelW, h-chartMargin-chartPlotH, -chartMargin)
	data := drawPlot(p, top)

	// reference labels beside their lines, pushed apart to stay readable
	_, ty := p.Transforms(&data)
	type label struct {
		y   vg.Length
		txt string
		col color.Color
	}
	var labels []label
	for _, r := range refs {
		labels = append(labels, label{ty(r.Y), r.Label, r.Color})
	}
	sort.Slice(labels, func(i, j int) bool { return labels[i].y > labels[j].y })
	for i := 1; i < len(labels); i++ {
		labels[i].y = min(labels[i].y, labels[i-1].y-labelStyle.Height("M")-1*px)
	}
	labelStyle.YAlign = text.YCenter
	for _, l := range labels {
		labelStyle.Color = l.col
		dc.FillText(labelStyle, vg.Point{X: data.Max.X + chartRefGap/2, Y: l.y}, l.txt)
	}

	// the legend, then the notes, from the plot's left edge
	below := draw.Crop(dc, data.Min.X, 0, chartMargin, -(chartMargin + chartPlotH + 4*px))
	legend.Draw(below)
	note := textStyle(chartNotePts)
	note.Color, note.YAlign = noteGrey, text.YTop
	y := below.Max.Y - chartRow*vg.Length(len(c.Series))
	for _, n := range c.Notes {
		dc.FillText(note, vg.Point{X: data.Min.X, Y: y}, n)
		y -= chartRow
	}
	return nil
}

func (c *BarChart) size() (w, h vg.Length) {
	w = 900 * px
	if c.W > 0 {
		w = vg.Length(c.W) * px
	}
	return w, 90*px + 26*px*vg.Length(len(c.Bars))
}

// draw puts the first bar on top, each labelled on the left and with its
// value, unit and note on the right.
func (c *BarChart) draw(dc draw.Canvas) error {
	n := len(c.Bars)
	if n == 0 {
		return fmt.Errorf("no bars")
	}
	p := newPlot(c.Title, c.XLabel, "", false)
	names := make([]string, n)
	var vals []float64
	for i, b := range c.Bars {
		if math.IsNaN(b.Value) || math.IsInf(b.Value, 0) {
			return fmt.Errorf("bar %q: value %v", b.Label, b.Value)
		}
		pos := n - 1 - i // the first bar on top
		names[pos] = b.Label
		vals = append(vals, b.Value)
		bar, err := plotter.NewBarChart(plotter.Values{b.Value}, 18*px)
		if err != nil {
			return fmt.Errorf("bar %q: %w", b.Label, err)
		}
		bar.Horizontal, bar.XMin, bar.LineStyle.Width = true, float64(pos), 0
		bar.Color = otherBar
		if b.Ours {
			bar.Color = ourBar
		}
		p.Add(bar)
	}
	lo, hi := 0.0, 1.0
	for _, v := range vals {
		hi = math.Max(hi, v*1.05)
	}
	if c.Log {
		lo, hi = span(vals, true)
	}
	var notes plotter.XYLabels
	for i, b := range c.Bars {
		notes.XYs = append(notes.XYs, plotter.XY{X: math.Max(b.Value, lo), Y: float64(n - 1 - i)})
		notes.Labels = append(notes.Labels, strings.TrimSpace(fmtNum(b.Value)+" "+c.Unit+" "+b.Note))
	}
	lab, err := plotter.NewLabels(notes)
	if err != nil {
		return fmt.Errorf("bar notes: %w", err)
	}
	for i := range lab.TextStyle {
		lab.TextStyle[i] = textStyle(chartNotePts)
		lab.TextStyle[i].YAlign = text.YCenter
	}
	lab.Offset = vg.Point{X: 6 * px}
	p.Add(lab)
	p.NominalY(make([]string, n)...) // the bars' names are drawn below
	p.Y.Padding = 0
	setAxis(&p.X, lo, hi, c.Log)

	// Text is placed with Liberation Sans metrics; a viewer without it or
	// Arial may use a wider font. So the names start at the left edge and
	// the notes at their bars, each with room to grow by a fifth.
	nameStyle := textStyle(9.5)
	nameStyle.YAlign = text.YCenter
	var nameW, noteW vg.Length
	for i, b := range c.Bars {
		nameW = max(nameW, nameStyle.Width(b.Label))
		noteW = max(noteW, lab.TextStyle[0].Width(notes.Labels[i]))
	}
	left := 10*px + nameW*1.2
	data := drawPlot(p, draw.Crop(dc, left, -10*px-noteW/5, 8*px, -10*px))
	_, ty := p.Transforms(&data)
	for i, name := range names {
		dc.FillText(nameStyle, vg.Point{X: dc.Min.X + 10*px, Y: ty(float64(i))}, name)
	}
	return nil
}

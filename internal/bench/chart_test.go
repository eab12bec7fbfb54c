package bench

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// svgText parses an SVG file as XML and returns its root element's name
// and all its text, one text element a line.
func svgText(t *testing.T, path string) (root string, texts string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	var sb strings.Builder
	inText := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", path, err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tk.Name.Local
			}
			if tk.Name.Local == "text" {
				inText++
			}
		case xml.EndElement:
			if tk.Name.Local == "text" {
				inText--
				sb.WriteByte('\n')
			}
		case xml.CharData:
			if inText > 0 {
				sb.Write(tk)
			}
		}
	}
	return root, sb.String()
}

func chartFixtures() map[string][]*Result {
	idle := &Result{Scenario: ScenarioIdle, Connections: 1000, Machine: Machine{NProc: 2, CPUModel: "test CPU", GoVersion: "go1.x"},
		RSSCurve: []RSSPoint{{Conns: 100, PerConn: 9000}, {Conns: 500, PerConn: 0}, {Conns: 1000, PerConn: 3000}}}
	ramp := &Result{Scenario: ScenarioRamp, RampOf: ScenarioFanout, Setup: Setup{Group: 100, Gateways: []string{"a", "b"}},
		Steps: []StepResult{{Rate: 10, DeliverLatency: Percentiles{P50MS: 1, P99MS: 3, P999MS: 5}},
			{Rate: 20, DeliverLatency: Percentiles{P50MS: 2, P99MS: 9, P999MS: 20}}}}
	direct := &Result{Scenario: ScenarioRamp, RampOf: ScenarioDirect, Setup: Setup{Gateways: []string{"a"}},
		Steps: []StepResult{{Rate: 100, DeliverLatency: Percentiles{P50MS: 0.5, P99MS: 2}}}}
	return map[string][]*Result{
		"rss":     {idle},
		"latency": {ramp, direct},
		"percore": {{Scenario: ScenarioFanout, DeliveredPS: 1e5, Machine: Machine{NProc: 2}}, {Scenario: ScenarioDirect, AckedPerS: 900, Machine: Machine{NProc: 2}}},
	}
}

// TestCharts writes every kind of chart from a small fixture through the
// entry point of `imbench chart` and checks that each is an SVG document
// that shows its title, axis labels, series and reference lines.
func TestCharts(t *testing.T) {
	dir := t.TempDir()
	labels := map[string][]string{
		"rss":     {"idle <1k> & more"}, // must come out escaped
		"latency": {"group run", "pairs run"},
		"percore": {"ours: fan-out", "ours: 1:1"},
	}
	want := map[string][]string{
		"rss": {"Idle gateway memory per WebSocket connection", "open connections (one gateway)",
			"gateway RSS over baseline per connection (bytes)", "idle <1k> & more", "Centrifugo ~30 KB",
			"target at 10k: 8 KiB", "This machine: 2 CPUs test CPU", "1k", "10k"},
		"latency": {"Latency vs offered rate", "offered deliveries per second", "latency (ms)",
			"p50 (group run)", "p99 (group run)", "p50 (pairs run)", "p99 (pairs run)", "target p99 50 ms", "Centrifugo publishes"},
		"percore": {"Throughput per CPU core", "ours: fan-out", "ours: 1:1", "Centrifugo fan-out", "Open-IM stored 1:1",
			"50k /s/core (100k deliveries/s on 2 CPUs)", "450 /s/core (900 stored msgs/s on 2 CPUs)"},
	}
	for kind, rs := range chartFixtures() {
		p := filepath.Join(dir, kind+".svg")
		if err := WriteChart(kind, p, rs, labels[kind]); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		root, texts := svgText(t, p)
		if root != "svg" {
			t.Fatalf("%s: root element %q", kind, root)
		}
		for _, w := range want[kind] {
			if !strings.Contains(texts, w) {
				t.Errorf("%s: no text %q in\n%s", kind, w, texts)
			}
		}
		b, _ := os.ReadFile(p)
		if !bytes.Contains(b, []byte("fill:#FFFFFF")) || !bytes.Contains(b, []byte("sans-serif")) {
			t.Errorf("%s: no white background or no sans-serif fallback", kind)
		}
	}
}

// TestRunChart checks the chart a run writes (-svg): a timeline for a
// fan-out run, a latency chart for a ramp; and a PNG for a .png name.
func TestRunChart(t *testing.T) {
	dir := t.TempDir()
	fan := &Result{Scenario: ScenarioFanout, Timeline: []Second{{T: 1, Acked: 10, Delivered: 90}, {T: 2, Acked: 30, Delivered: 270}}}
	p := filepath.Join(dir, "run.svg")
	if err := WriteRunSVG(p, fan); err != nil {
		t.Fatal(err)
	}
	if _, texts := svgText(t, p); !strings.Contains(texts, "fanout over time") || !strings.Contains(texts, "delivered/s") ||
		!strings.Contains(texts, "acked/s") || !strings.Contains(texts, "seconds") {
		t.Fatalf("timeline texts:\n%s", texts)
	}
	p = filepath.Join(dir, "ramp.png")
	if err := WriteRunSVG(p, chartFixtures()["latency"][0]); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("png: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 760 || b.Dy() < 400 {
		t.Fatalf("png size %v", b)
	}
}

func TestChartBadInput(t *testing.T) {
	dir := t.TempDir()
	rs := chartFixtures()["rss"]
	if err := WriteChart("pie", filepath.Join(dir, "x.svg"), rs, nil); err == nil || !strings.Contains(err.Error(), "unknown chart") {
		t.Fatalf("unknown kind: %v", err)
	}
	if err := WriteChart("rss", filepath.Join(dir, "x.gif"), rs, nil); err == nil || !strings.Contains(err.Error(), "unknown format") {
		t.Fatalf("unknown format: %v", err)
	}
	if err := WriteChart("rss", filepath.Join(dir, "missing", "x.svg"), rs, nil); err == nil {
		t.Fatal("writing into a missing folder: no error")
	}
	// a result without points still draws its axes and legend
	p := filepath.Join(dir, "empty.svg")
	if err := WriteChart("latency", p, []*Result{{Scenario: ScenarioRamp, RampOf: ScenarioFanout}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, texts := svgText(t, p); !strings.Contains(texts, "p99 (fanout, 0 gw)") {
		t.Fatalf("empty latency chart texts:\n%s", texts)
	}
}

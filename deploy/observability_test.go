package deploy_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"sigs.k8s.io/yaml"
)

// exportedMetrics is every metric name the binaries can export: the im_
// metrics defined in the sources (histograms with their series suffixes)
// and the Go and process collectors the API and the gateways register.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{"up": true} // written by Prometheus per target
	for _, dir := range []string{"internal", "pkg", "cmd"} {
		err := filepath.WalkDir(repoPath(dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, m := range metricName.FindAllStringSubmatch(string(b), -1) {
				for _, suf := range []string{"", "_bucket", "_sum", "_count"} {
					out[m[1]+suf] = true
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		out[mf.GetName()] = true
	}
	if !out["im_gateway_connections"] || !out["process_resident_memory_bytes"] {
		t.Fatalf("the exported metrics look incomplete: %d names", len(out))
	}
	return out
}

// metricRef finds the metric names a PromQL expression uses.
var metricRef = regexp.MustCompile(`\b(?:im|process|go)_[a-z0-9_]+\b|\bup\b`)

func checkExpr(t *testing.T, where, expr string, known map[string]bool) {
	t.Helper()
	refs := metricRef.FindAllString(expr, -1)
	if len(refs) == 0 {
		t.Errorf("%s: %q names no metric", where, expr)
	}
	for _, r := range refs {
		if !known[r] {
			t.Errorf("%s: %q uses %s, which no binary exports", where, expr, r)
		}
	}
}

type ruleGroups struct {
	Groups []struct {
		Name  string
		Rules []struct {
			Alert       string
			Expr        string
			For         string
			Labels      map[string]string
			Annotations map[string]string
		}
	}
}

// The alert rules name only metrics the binaries export, each has a
// severity and a summary, and the Prometheus Operator copy holds exactly
// the same groups.
func TestAlertRules(t *testing.T) {
	known := exportedMetrics(t)
	raw := readFile(t, "deploy", "prometheus", "alerts.yml")
	var rules ruleGroups
	if err := yaml.UnmarshalStrict(raw, &rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	n := 0
	names := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" || names[r.Alert] {
				t.Errorf("alerts.yml: a rule without a name or named twice: %q", r.Alert)
			}
			names[r.Alert] = true
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q", r.Alert, s)
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("%s: no summary", r.Alert)
			}
			checkExpr(t, r.Alert, r.Expr, known)
		}
	}
	// What the issue asks to be alerted on, by the metric that shows it.
	for _, want := range []string{"im_gateway_bus_reconnects_total", "im_gateway_shed_total", "im_http_requests_total",
		"im_gateway_gaps_abandoned_total", "im_gateway_delivery_seconds_bucket", "im_gateway_upgrades_rejected_total", "im_gateway_redis_up", "up"} {
		found := false
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				found = found || slicesContains(metricRef.FindAllString(r.Expr, -1), want)
			}
		}
		if !found {
			t.Errorf("no alert on %s", want)
		}
	}
	if n < 8 {
		t.Fatalf("only %d rules", n)
	}

	var pr struct {
		APIVersion string `json:"apiVersion"`
		Kind       string
		Metadata   map[string]any
		Spec       json.RawMessage
	}
	if err := yaml.Unmarshal(readFile(t, "deploy", "k8s", "monitoring", "prometheusrule.yaml"), &pr); err != nil {
		t.Fatal(err)
	}
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" {
		t.Fatalf("prometheusrule.yaml: %s %s", pr.APIVersion, pr.Kind)
	}
	var a, b any
	j, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(j, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(pr.Spec, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Error("deploy/k8s/monitoring/prometheusrule.yaml's spec differs from deploy/prometheus/alerts.yml")
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// The dashboard's queries name only exported metrics and use the
// provisioned data source; docker-compose mounts what Grafana and
// Prometheus read.
func TestGrafanaDashboard(t *testing.T) {
	known := exportedMetrics(t)
	var d struct {
		UID    string
		Panels []struct {
			Title      string
			Datasource struct{ UID string }
			Targets    []struct {
				Expr       string
				Datasource struct{ UID string }
			}
		}
	}
	if err := json.Unmarshal(readFile(t, "deploy", "grafana", "dashboards", "im-websocket-go.json"), &d); err != nil {
		t.Fatal(err)
	}
	var ds struct {
		Datasources []struct{ UID, Type, URL string }
	}
	if err := yaml.Unmarshal(readFile(t, "deploy", "grafana", "provisioning", "datasources", "prometheus.yml"), &ds); err != nil {
		t.Fatal(err)
	}
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" {
		t.Fatalf("datasources: %+v", ds.Datasources)
	}
	uid := ds.Datasources[0].UID
	if d.UID == "" || len(d.Panels) < 8 {
		t.Fatalf("dashboard: uid %q, %d panels", d.UID, len(d.Panels))
	}
	for _, p := range d.Panels {
		if p.Datasource.UID != uid || len(p.Targets) == 0 {
			t.Errorf("panel %q: data source %q (want %q), %d queries", p.Title, p.Datasource.UID, uid, len(p.Targets))
		}
		for _, q := range p.Targets {
			checkExpr(t, "panel "+p.Title, q.Expr, known)
		}
	}
	c := loadCompose(t)
	for svc, files := range map[string][]string{
		"prometheus": {"./deploy/prometheus/prometheus.yml", "./deploy/prometheus/alerts.yml"},
		"grafana":    {"./deploy/grafana/provisioning", "./deploy/grafana/dashboards"},
	} {
		s, ok := c.Services[svc]
		if !ok {
			t.Errorf("docker-compose has no %s service", svc)
			continue
		}
		for _, f := range files {
			mounted := false
			for _, v := range s.Volumes {
				src, _, _ := composeVolume(v)
				mounted = mounted || src == f
			}
			if !mounted {
				t.Errorf("docker-compose %s does not mount %s", svc, f)
			}
		}
	}
}

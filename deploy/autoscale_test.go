package deploy_test

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const connectionsOverlay = "overlays/connections-hpa" // relative to this package

// connectionsPatch decodes the overlay's HPA patch strictly.
func connectionsPatch(t *testing.T) *autoscalingv2.HorizontalPodAutoscaler {
	t.Helper()
	docs := yamlDocs(t, "gateway-hpa.yaml", readFile(t, "deploy", "overlays", "connections-hpa", "gateway-hpa.yaml"))
	if len(docs) != 1 {
		t.Fatalf("%s/gateway-hpa.yaml: %d documents, want 1", connectionsOverlay, len(docs))
	}
	var h autoscalingv2.HorizontalPodAutoscaler
	if err := decodeStrict(docs[0], &h); err != nil {
		t.Fatalf("%s/gateway-hpa.yaml: %v", connectionsOverlay, err)
	}
	if h.APIVersion != "autoscaling/v2" || h.Kind != "HorizontalPodAutoscaler" {
		t.Fatalf("%s/gateway-hpa.yaml: apiVersion/kind %q %q", connectionsOverlay, h.APIVersion, h.Kind)
	}
	return &h
}

// checkConnectionsMetrics checks an HPA scales on the base's CPU target and
// on a Pods metric the gateway exports, and returns that metric's name.
func checkConnectionsMetrics(t *testing.T, where string, h, base *autoscalingv2.HorizontalPodAutoscaler, exported map[string]bool) string {
	t.Helper()
	var cpu *autoscalingv2.MetricSpec
	for i, mt := range base.Spec.Metrics {
		if mt.Type == autoscalingv2.ResourceMetricSourceType && mt.Resource != nil && mt.Resource.Name == corev1.ResourceCPU {
			cpu = &base.Spec.Metrics[i]
		}
	}
	if cpu == nil {
		t.Fatalf("the base HPA %s scales on no CPU", base.Name)
	}
	var pods []string
	sameCPU := false
	for _, mt := range h.Spec.Metrics {
		switch mt.Type {
		case autoscalingv2.ResourceMetricSourceType:
			if mt.Resource != nil && mt.Resource.Name == corev1.ResourceCPU && mt.Resource.Target.AverageUtilization != nil &&
				*mt.Resource.Target.AverageUtilization == *cpu.Resource.Target.AverageUtilization {
				sameCPU = true
			}
		case autoscalingv2.PodsMetricSourceType:
			if mt.Pods == nil {
				t.Errorf("%s: Pods metric without pods", where)
				continue
			}
			name := mt.Pods.Metric.Name
			if !exported[name] || !strings.HasPrefix(name, "im_gateway_") {
				t.Errorf("%s: Pods metric %q is not a metric the gateway exports", where, name)
			}
			if mt.Pods.Target.Type != autoscalingv2.AverageValueMetricType || mt.Pods.Target.AverageValue == nil || mt.Pods.Target.AverageValue.Sign() <= 0 {
				t.Errorf("%s: Pods metric %s: want a positive AverageValue target (per pod)", where, name)
			}
			pods = append(pods, name)
		default:
			t.Errorf("%s: unexpected metric type %s", where, mt.Type)
		}
	}
	if !sameCPU {
		t.Errorf("%s: does not keep the base's CPU target (%d %%)", where, *cpu.Resource.Target.AverageUtilization)
	}
	if len(pods) != 1 {
		t.Fatalf("%s: Pods metrics %v, want exactly one (connections per pod)", where, pods)
	}
	return pods[0]
}

// TestK8sConnectionsAutoscaler checks the opt-in overlay that scales the
// gateways on connections per pod as well as CPU: it patches the base's
// gateway HPA with a Pods metric the gateway exports, and the
// prometheus-adapter values expose exactly that metric per pod.
func TestK8sConnectionsAutoscaler(t *testing.T) {
	m := loadManifests(t)
	base, ok := m.hpas["im-gateway"]
	if !ok {
		t.Fatal("deploy/k8s defines no HPA im-gateway")
	}
	exported := exportedMetrics(t)

	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
		Patches    []struct {
			Path   string `json:"path"`
			Target struct {
				Group, Version, Kind, Name string
			} `json:"target"`
		} `json:"patches"`
	}
	if err := yaml.UnmarshalStrict(readFile(t, "deploy", "overlays", "connections-hpa", "kustomization.yaml"), &k); err != nil {
		t.Fatalf("%s/kustomization.yaml: %v", connectionsOverlay, err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" || !slices.Equal(k.Resources, []string{"../../k8s"}) {
		t.Errorf("%s/kustomization.yaml: want a Kustomization of ../../k8s, got %q %q %v", connectionsOverlay, k.APIVersion, k.Kind, k.Resources)
	}
	if len(k.Patches) != 1 || k.Patches[0].Path != "gateway-hpa.yaml" || k.Patches[0].Target.Kind != "HorizontalPodAutoscaler" ||
		k.Patches[0].Target.Name != base.Name || k.Patches[0].Target.Group != "autoscaling" || k.Patches[0].Target.Version != "v2" {
		t.Errorf("%s/kustomization.yaml: want one patch gateway-hpa.yaml on autoscaling/v2 HorizontalPodAutoscaler %s: %+v", connectionsOverlay, base.Name, k.Patches)
	}
	patch := connectionsPatch(t)
	if patch.Name != base.Name {
		t.Errorf("the patch names HPA %q, the base's is %q", patch.Name, base.Name)
	}
	metric := checkConnectionsMetrics(t, connectionsOverlay+"/gateway-hpa.yaml", patch, base, exported)

	// prometheus-adapter: a rule whose series is that metric with the
	// namespace and pod labels mapped to their resources, named as the HPA asks.
	var v struct {
		Prometheus struct {
			URL  string `json:"url"`
			Port int    `json:"port"`
		} `json:"prometheus"`
		Rules struct {
			Default bool `json:"default"`
			Custom  []struct {
				SeriesQuery string `json:"seriesQuery"`
				Resources   struct {
					Overrides map[string]struct {
						Resource string `json:"resource"`
					} `json:"overrides"`
				} `json:"resources"`
				Name struct {
					Matches string `json:"matches"`
					As      string `json:"as"`
				} `json:"name"`
				MetricsQuery string `json:"metricsQuery"`
			} `json:"custom"`
		} `json:"rules"`
	}
	if err := yaml.UnmarshalStrict(readFile(t, "deploy", "k8s", "monitoring", "prometheus-adapter-values.yaml"), &v); err != nil {
		t.Fatalf("prometheus-adapter-values.yaml: %v", err)
	}
	if v.Prometheus.URL == "" || v.Prometheus.Port <= 0 {
		t.Errorf("prometheus-adapter-values.yaml: no Prometheus URL and port")
	}
	series := regexp.MustCompile(`^([a-z_:][a-z0-9_:]*)\{`)
	found := false
	for _, r := range v.Rules.Custom {
		if r.Name.As != metric {
			continue
		}
		found = true
		if s := series.FindStringSubmatch(r.SeriesQuery); s == nil || s[1] != metric || !exported[s[1]] {
			t.Errorf("adapter rule %s: seriesQuery %q is not the exported %s", metric, r.SeriesQuery, metric)
		}
		if re, err := regexp.Compile(r.Name.Matches); err != nil || !re.MatchString(metric) {
			t.Errorf("adapter rule %s: name.matches %q does not match it (%v)", metric, r.Name.Matches, err)
		}
		if r.Resources.Overrides["namespace"].Resource != "namespace" || r.Resources.Overrides["pod"].Resource != "pod" {
			t.Errorf("adapter rule %s: want the namespace and pod labels mapped to namespace and pod: %+v", metric, r.Resources.Overrides)
		}
		for _, want := range []string{"<<.Series>>", "<<.LabelMatchers>>", "<<.GroupBy>>"} {
			if !strings.Contains(r.MetricsQuery, want) {
				t.Errorf("adapter rule %s: metricsQuery %q lacks %s", metric, r.MetricsQuery, want)
			}
		}
	}
	if !found {
		t.Errorf("prometheus-adapter-values.yaml: no rule exposes %s (the HPA's Pods metric)", metric)
	}

	// The overlay builds, and its gateway HPA is the base's with both metrics.
	t.Run("kustomize", func(t *testing.T) {
		kubectl, err := exec.LookPath("kubectl")
		if err != nil {
			if strings.EqualFold(os.Getenv("CI"), "true") {
				t.Fatal("kubectl not found: cannot build the overlay")
			}
			t.Skip("kubectl not found: the overlay is not built")
		}
		out, err := exec.Command(kubectl, "kustomize", connectionsOverlay).Output()
		if err != nil {
			t.Fatalf("kubectl kustomize %s: %v", connectionsOverlay, err)
		}
		var built *autoscalingv2.HorizontalPodAutoscaler
		for i, j := range yamlDocs(t, "kustomize output", out) {
			var h autoscalingv2.HorizontalPodAutoscaler
			if !strings.Contains(string(j), `"HorizontalPodAutoscaler"`) {
				continue
			}
			if err := decodeStrict(j, &h); err != nil {
				t.Fatalf("kustomize output #%d: %v", i, err)
			}
			if h.Name == base.Name {
				built = &h
			}
		}
		if built == nil {
			t.Fatalf("the overlay's output has no HPA %s", base.Name)
		}
		if built.Namespace != "im" || built.Spec.ScaleTargetRef != base.Spec.ScaleTargetRef || built.Spec.MaxReplicas != base.Spec.MaxReplicas ||
			built.Spec.Behavior == nil || *built.Spec.Behavior.ScaleDown.StabilizationWindowSeconds != *base.Spec.Behavior.ScaleDown.StabilizationWindowSeconds {
			t.Errorf("the built HPA lost the base's target, limits or behaviour: %+v", built.Spec)
		}
		if got := checkConnectionsMetrics(t, "built HPA", built, base, exported); got != metric {
			t.Errorf("built HPA scales on %s, the patch on %s", got, metric)
		}
	})
}

package deploy_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

const k8sDir = "k8s" // relative to this package: deploy/k8s

// manifests is every object under deploy/k8s, decoded strictly by kind.
type manifests struct {
	files       []string // manifest files (not kustomization.yaml)
	namespaces  []*corev1.Namespace
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	services    map[string]*corev1.Service
	deployments map[string]*appsv1.Deployment
	hpas        map[string]*autoscalingv2.HorizontalPodAutoscaler
	pdbs        map[string]*policyv1.PodDisruptionBudget
	ingresses   map[string]*networkingv1.Ingress
}

// newObject returns the typed struct for apiVersion and kind, or nil.
func newObject(apiVersion, kind string) any {
	switch apiVersion + " " + kind {
	case "v1 Namespace":
		return &corev1.Namespace{}
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}
	case "v1 Secret":
		return &corev1.Secret{}
	case "v1 Service":
		return &corev1.Service{}
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	case "networking.k8s.io/v1 Ingress":
		return &networkingv1.Ingress{}
	}
	return nil
}

func loadManifests(t *testing.T) *manifests {
	t.Helper()
	m := &manifests{
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		services: map[string]*corev1.Service{}, deployments: map[string]*appsv1.Deployment{},
		hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{}, pdbs: map[string]*policyv1.PodDisruptionBudget{},
		ingresses: map[string]*networkingv1.Ingress{},
	}
	entries, err := os.ReadDir(k8sDir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		if name == "kustomization.yaml" || name == "kustomization.yml" {
			continue
		}
		m.files = append(m.files, name)
		data, err := os.ReadFile(filepath.Join(k8sDir, name))
		if err != nil {
			t.Fatal(err)
		}
		docs := yamlDocs(t, name, data)
		if len(docs) == 0 {
			t.Errorf("%s: no object", name)
		}
		for i, j := range docs {
			var tm metav1.TypeMeta
			if err := json.Unmarshal(j, &tm); err != nil {
				t.Errorf("%s #%d: %v", name, i, err)
				continue
			}
			obj := newObject(tm.APIVersion, tm.Kind)
			if obj == nil {
				t.Errorf("%s #%d: unexpected apiVersion/kind %q %q (add it to newObject if it is right)", name, i, tm.APIVersion, tm.Kind)
				continue
			}
			if err := decodeStrict(j, obj); err != nil {
				t.Errorf("%s #%d (%s): %v", name, i, tm.Kind, err)
				continue
			}
			meta := obj.(metav1.Object)
			where := fmt.Sprintf("%s: %s %q", name, tm.Kind, meta.GetName())
			if meta.GetName() == "" {
				t.Errorf("%s #%d: %s without a name", name, i, tm.Kind)
			}
			if ns := meta.GetNamespace(); ns != "" {
				t.Errorf("%s: sets namespace %q; kustomization.yaml sets it", where, ns)
			}
			if meta.GetLabels()["app.kubernetes.io/name"] != "im-websocket-go" {
				t.Errorf("%s: no label app.kubernetes.io/name=im-websocket-go", where)
			}
			key := tm.Kind + "/" + meta.GetName()
			if prev, dup := seen[key]; dup {
				t.Errorf("%s: %s is also defined in %s", where, key, prev)
			}
			seen[key] = name
			switch o := obj.(type) {
			case *corev1.Namespace:
				m.namespaces = append(m.namespaces, o)
			case *corev1.ConfigMap:
				m.configMaps[o.Name] = o
			case *corev1.Secret:
				m.secrets[o.Name] = o
			case *corev1.Service:
				m.services[o.Name] = o
			case *appsv1.Deployment:
				m.deployments[o.Name] = o
			case *autoscalingv2.HorizontalPodAutoscaler:
				m.hpas[o.Name] = o
			case *policyv1.PodDisruptionBudget:
				m.pdbs[o.Name] = o
			case *networkingv1.Ingress:
				m.ingresses[o.Name] = o
			}
		}
	}
	if len(m.deployments) == 0 || len(m.services) == 0 {
		t.Fatalf("no Deployments or Services decoded from %s", k8sDir)
	}
	return m
}

// kustomization holds the fields deploy/k8s/kustomization.yaml uses; it is
// decoded strictly so a misspelt field fails.
type kustomization struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Labels     []struct {
		Pairs            map[string]string `json:"pairs"`
		IncludeSelectors bool              `json:"includeSelectors"`
		IncludeTemplates bool              `json:"includeTemplates"`
	} `json:"labels"`
	Resources []string `json:"resources"`
	Images    []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
		Digest  string `json:"digest"`
	} `json:"images"`
}

// binaryOf tells which command a container runs from its image name
// (im-websocket-go/api:tag -> "api").
func binaryOf(c corev1.Container) string {
	img := c.Image
	if i := strings.LastIndex(img, "@"); i >= 0 {
		img = img[:i]
	}
	if i := strings.LastIndex(img, ":"); i > strings.LastIndex(img, "/") {
		img = img[:i]
	}
	return path.Base(img)
}

func imageName(img string) string {
	if i := strings.LastIndex(img, "@"); i >= 0 {
		img = img[:i]
	}
	if i := strings.LastIndex(img, ":"); i > strings.LastIndex(img, "/") {
		img = img[:i]
	}
	return img
}

// containerEnv resolves the IM_ environment of a container the way the
// kubelet does: envFrom sources in order, then env (which wins). Values
// from fieldRef/resourceFieldRef are "<fieldRef>".
func (m *manifests) containerEnv(t *testing.T, where string, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm, ok := m.configMaps[ef.ConfigMapRef.Name]
			if !ok {
				if ef.ConfigMapRef.Optional == nil || !*ef.ConfigMapRef.Optional {
					t.Errorf("%s: envFrom ConfigMap %q is not defined", where, ef.ConfigMapRef.Name)
				}
				continue
			}
			for k, v := range cm.Data {
				env[ef.Prefix+k] = v
			}
		case ef.SecretRef != nil:
			s, ok := m.secrets[ef.SecretRef.Name]
			if !ok {
				if ef.SecretRef.Optional == nil || !*ef.SecretRef.Optional {
					t.Errorf("%s: envFrom Secret %q is not defined", where, ef.SecretRef.Name)
				}
				continue
			}
			for k, v := range s.StringData {
				env[ef.Prefix+k] = v
			}
			for k, v := range s.Data {
				env[ef.Prefix+k] = string(v)
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.ConfigMapKeyRef != nil:
			r := e.ValueFrom.ConfigMapKeyRef
			cm, ok := m.configMaps[r.Name]
			if !ok || cm.Data[r.Key] == "" {
				t.Errorf("%s: %s: ConfigMap key %s/%s is not defined", where, e.Name, r.Name, r.Key)
			}
			if ok {
				env[e.Name] = cm.Data[r.Key]
			}
		case e.ValueFrom.SecretKeyRef != nil:
			r := e.ValueFrom.SecretKeyRef
			var inStr, inData bool
			s, ok := m.secrets[r.Name]
			if ok {
				_, inStr = s.StringData[r.Key]
				_, inData = s.Data[r.Key]
			}
			if !ok || !(inStr || inData) {
				t.Errorf("%s: %s: Secret key %s/%s is not defined", where, e.Name, r.Name, r.Key)
			}
			env[e.Name] = "<secret>"
		default:
			env[e.Name] = "<fieldRef>"
		}
	}
	return env
}

func probePort(t *testing.T, where string, c corev1.Container, p intstr.IntOrString) int {
	t.Helper()
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return int(cp.ContainerPort)
		}
	}
	t.Errorf("%s: port %s is not a port of container %s", where, p.String(), c.Name)
	return 0
}

func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// deploymentsSelected returns the Deployments whose pods sel matches.
func (m *manifests) deploymentsSelected(sel map[string]string) []string {
	var names []string
	for n, d := range m.deployments {
		if selects(sel, d.Spec.Template.Labels) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// deploymentOf returns the Deployment running binary ("api", "gateway").
func (m *manifests) deploymentOf(t *testing.T, binary string) (*appsv1.Deployment, corev1.Container) {
	t.Helper()
	for _, d := range m.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			if binaryOf(c) == binary {
				return d, c
			}
		}
	}
	t.Fatalf("no Deployment runs the %s image", binary)
	return nil, corev1.Container{}
}

func TestK8sManifestsDecodeStrictly(t *testing.T) {
	m := loadManifests(t)
	if len(m.namespaces) != 1 {
		t.Errorf("want one Namespace, got %d", len(m.namespaces))
	}
	for _, kind := range []struct {
		name string
		n    int
	}{{"ConfigMap", len(m.configMaps)}, {"Secret", len(m.secrets)}, {"Deployment", len(m.deployments)},
		{"HorizontalPodAutoscaler", len(m.hpas)}, {"PodDisruptionBudget", len(m.pdbs)}, {"Ingress", len(m.ingresses)}} {
		if kind.n == 0 {
			t.Errorf("no %s in %s", kind.name, k8sDir)
		}
	}
	t.Logf("%d files: %d Deployments, %d Services, %d HPAs, %d PDBs, %d Ingresses, %d ConfigMaps, %d Secrets",
		len(m.files), len(m.deployments), len(m.services), len(m.hpas), len(m.pdbs), len(m.ingresses), len(m.configMaps), len(m.secrets))
}

func TestK8sKustomizationListsEveryManifest(t *testing.T) {
	m := loadManifests(t)
	var k kustomization
	if err := yaml.UnmarshalStrict(readFile(t, "deploy", "k8s", "kustomization.yaml"), &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml: apiVersion/kind %q %q", k.APIVersion, k.Kind)
	}
	listed := map[string]bool{}
	for _, r := range k.Resources {
		if listed[r] {
			t.Errorf("kustomization.yaml lists %s twice", r)
		}
		listed[r] = true
		if !slices.Contains(m.files, r) {
			t.Errorf("kustomization.yaml lists %s, which is not a manifest in %s", r, k8sDir)
		}
	}
	for _, f := range m.files {
		if !listed[f] {
			t.Errorf("%s is not listed in kustomization.yaml resources", f)
		}
	}
	if len(m.namespaces) == 1 && m.namespaces[0].Name != k.Namespace {
		t.Errorf("kustomization namespace %q, Namespace object %q", k.Namespace, m.namespaces[0].Name)
	}
	images := map[string]bool{}
	for _, im := range k.Images {
		images[im.Name] = true
	}
	for _, d := range m.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			if !images[imageName(c.Image)] {
				t.Errorf("Deployment %s: image %s has no entry in kustomization.yaml images", d.Name, c.Image)
			}
		}
	}
}

func TestK8sServicesMatchDeployments(t *testing.T) {
	m := loadManifests(t)
	for _, s := range m.services {
		where := "Service " + s.Name
		if s.Spec.Type == corev1.ServiceTypeExternalName {
			if s.Spec.ExternalName == "" || len(s.Spec.Selector) > 0 {
				t.Errorf("%s: ExternalName needs externalName and no selector", where)
			}
			continue
		}
		ds := m.deploymentsSelected(s.Spec.Selector)
		if len(ds) != 1 {
			t.Errorf("%s: selector %v matches Deployments %v, want exactly one", where, s.Spec.Selector, ds)
			continue
		}
		d := m.deployments[ds[0]]
		for _, sp := range s.Spec.Ports {
			target := sp.TargetPort
			if target.Type == intstr.Int && target.IntVal == 0 {
				target = intstr.FromInt32(sp.Port)
			}
			found := false
			for _, c := range d.Spec.Template.Spec.Containers {
				for _, cp := range c.Ports {
					if (target.Type == intstr.String && cp.Name == target.StrVal) ||
						(target.Type == intstr.Int && cp.ContainerPort == target.IntVal) {
						found = true
					}
				}
			}
			if !found {
				t.Errorf("%s: port %q targets %s, which no container of Deployment %s exposes", where, sp.Name, target.String(), d.Name)
			}
		}
	}
	for _, d := range m.deployments {
		if !selects(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) || len(d.Spec.Selector.MatchExpressions) > 0 {
			t.Errorf("Deployment %s: selector %v does not match its pod labels %v", d.Name, d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
		}
		for o, od := range m.deployments {
			if o != d.Name && selects(d.Spec.Selector.MatchLabels, od.Spec.Template.Labels) {
				t.Errorf("Deployment %s: selector also matches the pods of %s", d.Name, o)
			}
		}
		served := false
		for _, s := range m.services {
			if selects(s.Spec.Selector, d.Spec.Template.Labels) {
				served = true
			}
		}
		if !served {
			t.Errorf("Deployment %s: no Service selects it", d.Name)
		}
	}
}

// TestK8sContainers checks each container against what its binary does:
// listen addresses and ports, probes on the real endpoints, every IM_
// variable known, security context, resources and the shutdown budget.
func TestK8sContainers(t *testing.T) {
	m := loadManifests(t)
	known := knownEnv(t)
	for _, d := range m.deployments {
		ps := d.Spec.Template.Spec
		where := "Deployment " + d.Name
		if len(ps.Containers) != 1 {
			t.Errorf("%s: want one container, got %d", where, len(ps.Containers))
		}
		// Pod-level hardening.
		if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
			t.Errorf("%s: automountServiceAccountToken should be false (the pods never call the API server)", where)
		}
		if ps.EnableServiceLinks == nil || *ps.EnableServiceLinks {
			t.Errorf("%s: enableServiceLinks should be false (Service env vars would add IM_*_SERVICE_HOST names)", where)
		}
		psc := ps.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil ||
			psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
			t.Errorf("%s: pod securityContext needs runAsNonRoot, a non-zero runAsUser and seccompProfile RuntimeDefault", where)
		}
		if d.Spec.Replicas != nil {
			t.Errorf("%s: sets replicas; with an HPA leave it unset or every apply resets the scale", where)
		}
		for _, c := range ps.Containers {
			cw := fmt.Sprintf("%s container %s", where, c.Name)
			bin := binaryOf(c)
			csc := c.SecurityContext
			if csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
				csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem ||
				csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") {
				t.Errorf("%s: securityContext needs allowPrivilegeEscalation false, readOnlyRootFilesystem true, drop ALL", cw)
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, okReq := c.Resources.Requests[r]
				lim, okLim := c.Resources.Limits[r]
				if !okReq || !okLim {
					t.Errorf("%s: needs %s request and limit", cw, r)
				} else if req.Cmp(lim) > 0 {
					t.Errorf("%s: %s request %s above limit %s", cw, r, req.String(), lim.String())
				}
			}

			// Environment: every IM_ name known; listen addresses match
			// the container ports.
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil {
					if cm, ok := m.configMaps[ef.ConfigMapRef.Name]; ok {
						for k := range cm.Data {
							checkIMName(t, known, cw+" envFrom ConfigMap "+cm.Name, ef.Prefix+k)
						}
					}
				}
				if ef.SecretRef != nil {
					if s, ok := m.secrets[ef.SecretRef.Name]; ok {
						for k := range s.StringData {
							checkIMName(t, known, cw+" envFrom Secret "+s.Name, ef.Prefix+k)
						}
						for k := range s.Data {
							checkIMName(t, known, cw+" envFrom Secret "+s.Name, ef.Prefix+k)
						}
					}
				}
			}
			for _, e := range c.Env {
				checkIMName(t, known, cw+" env", e.Name, "GOMEMLIMIT", "GOMAXPROCS", "GOGC")
			}
			env := m.containerEnv(t, cw, c)
			ports := map[string]int{}
			for _, cp := range c.Ports {
				ports[cp.Name] = int(cp.ContainerPort)
			}
			var healthPort int // the port of /healthz and /readyz
			switch bin {
			case "api":
				p := listenPort(t, cw+" IM_HTTP_ADDR", env["IM_HTTP_ADDR"])
				if p != ports["http"] {
					t.Errorf("%s: IM_HTTP_ADDR port %d, container port http %d", cw, p, ports["http"])
				}
				healthPort = p
				m.checkKeyFile(t, cw, c, env["IM_JWT_PRIVATE_KEY_FILE"])
			case "gateway":
				ws := listenPort(t, cw+" IM_WS_ADDR", env["IM_WS_ADDR"])
				admin := listenPort(t, cw+" IM_ADMIN_ADDR", env["IM_ADMIN_ADDR"])
				if ws != ports["ws"] || admin != ports["admin"] || ws == admin {
					t.Errorf("%s: IM_WS_ADDR/IM_ADMIN_ADDR ports %d/%d, container ports ws/admin %d/%d", cw, ws, admin, ports["ws"], ports["admin"])
				}
				healthPort = admin
				if env["IM_JWKS_URL"] == "" && env["IM_JWT_PUBLIC_KEY_FILE"] == "" {
					t.Errorf("%s: needs IM_JWKS_URL or IM_JWT_PUBLIC_KEY_FILE", cw)
				}
				if u := env["IM_JWKS_URL"]; u != "" {
					m.checkJWKSURL(t, cw, u)
				}
			default:
				t.Errorf("%s: image %s: want an api or gateway image", cw, c.Image)
				continue
			}
			for _, k := range []string{"IM_MONGO_URI", "IM_REDIS_URL"} {
				m.checkBackendURL(t, cw+" "+k, env[k])
			}

			// Probes on the real endpoints and port.
			for _, p := range []struct {
				name  string
				probe *corev1.Probe
				paths []string
			}{
				{"readinessProbe", c.ReadinessProbe, []string{"/readyz"}},
				{"livenessProbe", c.LivenessProbe, []string{"/healthz"}},
				{"startupProbe", c.StartupProbe, []string{"/healthz", "/readyz"}},
			} {
				pw := cw + " " + p.name
				if p.probe == nil {
					if p.name != "startupProbe" {
						t.Errorf("%s: missing", pw)
					}
					continue
				}
				if p.probe.HTTPGet == nil {
					t.Errorf("%s: want an httpGet probe", pw)
					continue
				}
				if !slices.Contains(p.paths, p.probe.HTTPGet.Path) {
					t.Errorf("%s: path %q, want one of %v", pw, p.probe.HTTPGet.Path, p.paths)
				}
				if got := probePort(t, pw, c, p.probe.HTTPGet.Port); got != healthPort {
					t.Errorf("%s: port %d, but %s serves /healthz and /readyz on %d", pw, got, bin, healthPort)
				}
			}

			// Shutdown: preStop sleep + IM_SHUTDOWN_GRACE < terminationGracePeriodSeconds.
			grace := 20 * time.Second // config default
			if g, ok := env["IM_SHUTDOWN_GRACE"]; ok {
				grace = parseDuration(t, cw+" IM_SHUTDOWN_GRACE", g)
			}
			var preStop time.Duration
			if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
				h := c.Lifecycle.PreStop
				if h.Exec != nil {
					t.Errorf("%s: preStop exec: the distroless image has no shell or sleep; use the sleep action", cw)
				}
				if h.Sleep != nil {
					preStop = time.Duration(h.Sleep.Seconds) * time.Second
				}
			}
			if bin == "gateway" && preStop <= 0 {
				t.Errorf("%s: needs a preStop sleep so endpoints update before the drain", cw)
			}
			tgps := 30 * time.Second
			if ps.TerminationGracePeriodSeconds != nil {
				tgps = time.Duration(*ps.TerminationGracePeriodSeconds) * time.Second
			}
			if tgps <= grace+preStop {
				t.Errorf("%s: terminationGracePeriodSeconds %v must exceed preStop %v + IM_SHUTDOWN_GRACE %v", cw, tgps, preStop, grace)
			}
		}
	}
}

// checkKeyFile checks that the API's key file is in a mounted Secret that
// holds it.
func (m *manifests) checkKeyFile(t *testing.T, where string, c corev1.Container, file string) {
	t.Helper()
	if file == "" {
		t.Errorf("%s: IM_JWT_PRIVATE_KEY_FILE unset: the API would sign with an ephemeral key per pod", where)
		return
	}
	var pod *appsv1.Deployment
	for _, d := range m.deployments {
		for _, dc := range d.Spec.Template.Spec.Containers {
			if dc.Name == c.Name && dc.Image == c.Image {
				pod = d
			}
		}
	}
	for _, vm := range c.VolumeMounts {
		rel, err := filepath.Rel(vm.MountPath, file)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		for _, v := range pod.Spec.Template.Spec.Volumes {
			if v.Name != vm.Name || v.Secret == nil {
				continue
			}
			s, ok := m.secrets[v.Secret.SecretName]
			if !ok {
				t.Errorf("%s: volume %s: Secret %q is not defined", where, v.Name, v.Secret.SecretName)
				return
			}
			key := rel
			for _, it := range v.Secret.Items {
				if it.Path == rel {
					key = it.Key
				}
			}
			_, inStr := s.StringData[key]
			_, inData := s.Data[key]
			if !inStr && !inData {
				t.Errorf("%s: %s: Secret %s has no key %q", where, file, s.Name, key)
			}
			if !vm.ReadOnly {
				t.Errorf("%s: mount the key read-only", where)
			}
			return
		}
	}
	t.Errorf("%s: IM_JWT_PRIVATE_KEY_FILE %s is not inside a mounted Secret volume", where, file)
}

// checkJWKSURL checks that the gateways' JWKS URL names the API's Service.
func (m *manifests) checkJWKSURL(t *testing.T, where, raw string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" {
		t.Errorf("%s: IM_JWKS_URL %q is not an http(s) URL", where, raw)
		return
	}
	if u.Path != "/.well-known/jwks.json" {
		t.Errorf("%s: IM_JWKS_URL path %q, the API serves /.well-known/jwks.json", where, u.Path)
	}
	host, _, _ := strings.Cut(u.Hostname(), ".")
	s, ok := m.services[host]
	if !ok {
		t.Errorf("%s: IM_JWKS_URL host %q is not a Service", where, u.Hostname())
		return
	}
	ds := m.deploymentsSelected(s.Spec.Selector)
	if len(ds) != 1 || binaryOf(m.deployments[ds[0]].Spec.Template.Spec.Containers[0]) != "api" {
		t.Errorf("%s: IM_JWKS_URL Service %s does not select the API", where, s.Name)
	}
	port := 80
	if u.Port() != "" {
		port, _ = strconv.Atoi(u.Port())
	}
	found := false
	for _, sp := range s.Spec.Ports {
		if int(sp.Port) == port {
			found = true
		}
	}
	if !found {
		t.Errorf("%s: IM_JWKS_URL port %d is not a port of Service %s", where, port, s.Name)
	}
}

// checkBackendURL checks that a MongoDB or Redis URL's host without a dot
// is a Service defined here (an ExternalName one, typically).
func (m *manifests) checkBackendURL(t *testing.T, where, raw string) {
	t.Helper()
	if raw == "" {
		t.Errorf("%s: unset", where)
		return
	}
	if raw == "<secret>" {
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Errorf("%s: %q: %v", where, raw, err)
		return
	}
	for _, h := range strings.Split(u.Host, ",") {
		name := h
		if i := strings.LastIndex(h, ":"); i >= 0 {
			name = h[:i]
		}
		if !strings.Contains(name, ".") {
			if _, ok := m.services[name]; !ok {
				t.Errorf("%s: host %q is neither a Service here nor a fully qualified name", where, name)
			}
		}
	}
}

func TestK8sAutoscalersAndBudgets(t *testing.T) {
	m := loadManifests(t)
	scaled := map[string]bool{}
	for _, h := range m.hpas {
		where := "HorizontalPodAutoscaler " + h.Name
		ref := h.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" {
			t.Errorf("%s: scaleTargetRef %s %s, want apps/v1 Deployment", where, ref.APIVersion, ref.Kind)
		}
		if _, ok := m.deployments[ref.Name]; !ok {
			t.Errorf("%s: targets Deployment %q, which is not defined", where, ref.Name)
		}
		if scaled[ref.Name] {
			t.Errorf("%s: Deployment %s has two HPAs", where, ref.Name)
		}
		scaled[ref.Name] = true
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
			t.Errorf("%s: want 2 <= minReplicas <= maxReplicas", where)
		}
		cpu := false
		for _, mt := range h.Spec.Metrics {
			if mt.Type == autoscalingv2.ResourceMetricSourceType && mt.Resource != nil && mt.Resource.Name == corev1.ResourceCPU &&
				mt.Resource.Target.Type == autoscalingv2.UtilizationMetricType && mt.Resource.Target.AverageUtilization != nil {
				cpu = true
			}
			if mt.Type == autoscalingv2.PodsMetricSourceType && (mt.Pods == nil || mt.Pods.Metric.Name != "im_gateway_connections") {
				t.Errorf("%s: Pods metric other than im_gateway_connections", where)
			}
		}
		if !cpu {
			t.Errorf("%s: no CPU utilization metric", where)
		}
	}
	budgeted := map[string]bool{}
	for _, p := range m.pdbs {
		where := "PodDisruptionBudget " + p.Name
		if p.Spec.Selector == nil {
			t.Errorf("%s: no selector", where)
			continue
		}
		ds := m.deploymentsSelected(p.Spec.Selector.MatchLabels)
		if len(ds) != 1 {
			t.Errorf("%s: selector matches Deployments %v, want exactly one", where, ds)
			continue
		}
		budgeted[ds[0]] = true
		if (p.Spec.MinAvailable == nil) == (p.Spec.MaxUnavailable == nil) {
			t.Errorf("%s: set exactly one of minAvailable and maxUnavailable", where)
		}
	}
	for name := range m.deployments {
		if !scaled[name] {
			t.Errorf("Deployment %s has no HorizontalPodAutoscaler", name)
		}
		if !budgeted[name] {
			t.Errorf("Deployment %s has no PodDisruptionBudget", name)
		}
	}
}

func TestK8sIngress(t *testing.T) {
	m := loadManifests(t)
	gw, gwc := m.deploymentOf(t, "gateway")
	api, _ := m.deploymentOf(t, "api")
	for _, ing := range m.ingresses {
		where := "Ingress " + ing.Name
		if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" {
			t.Errorf("%s: want ingressClassName nginx", where)
		}
		for _, a := range []string{"nginx.ingress.kubernetes.io/proxy-read-timeout", "nginx.ingress.kubernetes.io/proxy-send-timeout"} {
			v, err := strconv.Atoi(ing.Annotations[a])
			if err != nil || v < 600 {
				t.Errorf("%s: %s = %q: WebSockets need a long timeout (>= 600 s)", where, a, ing.Annotations[a])
			}
		}
		routes := map[string]string{} // path -> Deployment behind it
		for _, r := range ing.Spec.Rules {
			if r.HTTP == nil {
				t.Errorf("%s: rule without http", where)
				continue
			}
			for _, p := range r.HTTP.Paths {
				pw := fmt.Sprintf("%s path %s", where, p.Path)
				if p.PathType == nil {
					t.Errorf("%s: no pathType", pw)
				}
				b := p.Backend.Service
				if b == nil {
					t.Errorf("%s: not a Service backend", pw)
					continue
				}
				s, ok := m.services[b.Name]
				if !ok {
					t.Errorf("%s: Service %q is not defined", pw, b.Name)
					continue
				}
				var sp *corev1.ServicePort
				for i := range s.Spec.Ports {
					x := &s.Spec.Ports[i]
					if (b.Port.Name != "" && x.Name == b.Port.Name) || (b.Port.Number != 0 && x.Port == b.Port.Number) {
						sp = x
					}
				}
				if sp == nil {
					t.Errorf("%s: Service %s has no port %q/%d", pw, s.Name, b.Port.Name, b.Port.Number)
					continue
				}
				ds := m.deploymentsSelected(s.Spec.Selector)
				if len(ds) == 1 {
					routes[p.Path] = ds[0]
				}
				if p.Path == "/ws" {
					// The port must reach the gateway's WebSocket listener.
					got := probePort(t, pw, gwc, sp.TargetPort)
					want := listenPort(t, pw, m.containerEnv(t, pw, gwc)["IM_WS_ADDR"])
					if got != want {
						t.Errorf("%s: reaches container port %d, the gateway listens for /ws on %d", pw, got, want)
					}
				}
			}
		}
		if routes["/ws"] != gw.Name {
			t.Errorf("%s: /ws goes to %q, want the gateway Deployment %s", where, routes["/ws"], gw.Name)
		}
		if routes["/"] != api.Name {
			t.Errorf("%s: / goes to %q, want the API Deployment %s", where, routes["/"], api.Name)
		}
	}
}

// TestK8sSecretTemplate checks the Secret template holds placeholders only,
// clearly marked, never a real key.
func TestK8sSecretTemplate(t *testing.T) {
	m := loadManifests(t)
	for _, s := range m.secrets {
		if len(s.Data) > 0 {
			t.Errorf("Secret %s: use stringData placeholders in the template, not data", s.Name)
		}
		for k, v := range s.StringData {
			if !strings.Contains(v, "PLACEHOLDER") {
				t.Errorf("Secret %s key %s: template value is not marked PLACEHOLDER", s.Name, k)
			}
		}
	}
}

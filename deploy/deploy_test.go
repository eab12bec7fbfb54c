// Package deploy_test checks the deployment files against the code: the
// Kubernetes manifests in deploy/k8s (decoded strictly into the typed
// k8s.io/api structs), docker-compose.yml with deploy/nginx/nginx.conf, the
// Dockerfile, and the gateway binary's drain on SIGTERM as a real process.
//
//	k8s_test.go      manifests and their cross-references
//	compose_test.go  docker-compose.yml, nginx.conf, Dockerfile, .dockerignore
//	drain_test.go    cmd/gateway built and run, SIGTERM with clients connected
//	observability_test.go  alert rules and the Grafana dashboard name exported metrics
package deploy_test

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// root is the repository root, relative to this package's folder (go test
// runs in it).
const root = ".."

func repoPath(elem ...string) string { return filepath.Join(append([]string{root}, elem...)...) }

func readFile(t *testing.T, elem ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(repoPath(elem...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// knownEnv is the set of environment variables the binaries read.
func knownEnv(t *testing.T) map[string]bool {
	t.Helper()
	names := config.Env()
	if len(names) < 20 || !slices.Contains(names, "IM_SHUTDOWN_GRACE") || !slices.Contains(names, "IM_WS_ADDR") {
		t.Fatalf("config.Env() = %v: too short to check against", names)
	}
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// checkIMName fails the test unless name is a variable the binaries read.
// Names without the IM_ prefix are only allowed in allow (e.g. GOMEMLIMIT).
func checkIMName(t *testing.T, known map[string]bool, where, name string, allow ...string) {
	t.Helper()
	if slices.Contains(allow, name) {
		return
	}
	if !strings.HasPrefix(name, "IM_") {
		t.Errorf("%s: variable %q is not an IM_ setting", where, name)
		return
	}
	if !known[name] {
		t.Errorf("%s: %s is not read by the binaries (config.Env)", where, name)
	}
}

// listenPort checks that addr is a listen address reachable from outside
// the container (0.0.0.0:port or :port) and returns the port.
func listenPort(t *testing.T, where, addr string) int {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Errorf("%s: listen address %q: %v", where, addr, err)
		return 0
	}
	if host != "0.0.0.0" && host != "" && host != "::" {
		t.Errorf("%s: listen address %q: in a container listen on 0.0.0.0, not %q", where, addr, host)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		t.Errorf("%s: listen address %q: bad port", where, addr)
		return 0
	}
	return p
}

func parseDuration(t *testing.T, where, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Errorf("%s: %q is not a duration: %v", where, s, err)
	}
	return d
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// yamlDocs splits a multi-document YAML file and converts each non-empty
// document to JSON, rejecting duplicate keys.
func yamlDocs(t *testing.T, file string, data []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for i, doc := range docSep.Split(string(data), -1) {
		j, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			t.Errorf("%s: document %d: %v", file, i, err)
			continue
		}
		if s := string(bytes.TrimSpace(j)); s == "null" || s == "" {
			continue // only comments
		}
		out = append(out, j)
	}
	return out
}

// decodeStrict decodes JSON into v, failing on unknown fields and trailing
// data.
func decodeStrict(j []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errTrailing
	}
	return nil
}

type decodeError string

func (e decodeError) Error() string { return string(e) }

const errTrailing = decodeError("trailing data after the object")

var metricName = regexp.MustCompile(`Name:\s*"(im_[a-z0-9_]+)"`)

// TestOperationsDoc keeps docs/operations.md in step with the code: every
// variable the binaries read and every im_ metric they export is described.
func TestOperationsDoc(t *testing.T) {
	doc := string(readFile(t, "docs", "operations.md"))
	for name := range knownEnv(t) {
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("docs/operations.md does not describe %s", name)
		}
	}
	var metrics []string
	for _, src := range [][]string{{"internal", "gateway", "metrics.go"}, {"internal", "httpapi", "middleware.go"}} {
		for _, m := range metricName.FindAllStringSubmatch(string(readFile(t, src...)), -1) {
			metrics = append(metrics, m[1])
		}
	}
	if len(metrics) < 5 {
		t.Fatalf("found only %v in the metrics sources", metrics)
	}
	for _, m := range metrics {
		if !strings.Contains(doc, m) {
			t.Errorf("docs/operations.md does not describe the metric %s", m)
		}
	}
}

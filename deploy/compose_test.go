package deploy_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// composeFile is the part of the Compose specification docker-compose.yml
// uses, decoded strictly (top-level x- extension keys are dropped first) so
// a misspelt key fails here rather than being ignored by docker compose.
type composeFile struct {
	Name     string                    `json:"name"`
	Services map[string]composeService `json:"services"`
	Volumes  map[string]*struct {
		Driver     string            `json:"driver"`
		DriverOpts map[string]string `json:"driver_opts"`
		External   bool              `json:"external"`
		Name       string            `json:"name"`
		Labels     map[string]string `json:"labels"`
	} `json:"volumes"`
	Networks map[string]any `json:"networks"`
	Secrets  map[string]any `json:"secrets"`
	Configs  map[string]any `json:"configs"`
}

type composeService struct {
	Image string `json:"image"`
	Build *struct {
		Context    string            `json:"context"`
		Dockerfile string            `json:"dockerfile"`
		Target     string            `json:"target"`
		Args       map[string]string `json:"args"`
	} `json:"build"`
	Command     []string       `json:"command"`
	Entrypoint  []string       `json:"entrypoint"`
	Environment map[string]any `json:"environment"`
	Ports       []string       `json:"ports"`
	Expose      []string       `json:"expose"`
	Volumes     []string       `json:"volumes"`
	DependsOn   map[string]struct {
		Condition string `json:"condition"`
		Restart   bool   `json:"restart"`
		Required  *bool  `json:"required"`
	} `json:"depends_on"`
	Healthcheck *struct {
		Test          []string `json:"test"`
		Interval      string   `json:"interval"`
		Timeout       string   `json:"timeout"`
		Retries       int      `json:"retries"`
		StartPeriod   string   `json:"start_period"`
		StartInterval string   `json:"start_interval"`
		Disable       bool     `json:"disable"`
	} `json:"healthcheck"`
	Restart         string            `json:"restart"`
	StopGracePeriod string            `json:"stop_grace_period"`
	StopSignal      string            `json:"stop_signal"`
	ReadOnly        bool              `json:"read_only"`
	Tmpfs           []string          `json:"tmpfs"`
	CapDrop         []string          `json:"cap_drop"`
	CapAdd          []string          `json:"cap_add"`
	SecurityOpt     []string          `json:"security_opt"`
	Ulimits         map[string]any    `json:"ulimits"`
	Sysctls         map[string]string `json:"sysctls"`
	Networks        any               `json:"networks"`
	Labels          map[string]string `json:"labels"`
	Profiles        []string          `json:"profiles"`
	EnvFile         any               `json:"env_file"`
	User            string            `json:"user"`
	WorkingDir      string            `json:"working_dir"`
	Hostname        string            `json:"hostname"`
	ContainerName   string            `json:"container_name"`
	Init            *bool             `json:"init"`
	ExtraHosts      []string          `json:"extra_hosts"`
	Logging         any               `json:"logging"`
	Deploy          any               `json:"deploy"`
	PullPolicy      string            `json:"pull_policy"`
	Platform        string            `json:"platform"`
	Secrets         any               `json:"secrets"`
	Configs         any               `json:"configs"`
}

func (s composeService) binary() string {
	if s.Build == nil {
		return ""
	}
	if s.Build.Target != "" && s.Build.Target != s.Build.Args["BINARY"] {
		return s.Build.Target // e.g. the keygen's "base"
	}
	return s.Build.Args["BINARY"]
}

func (s composeService) env(name string) string {
	v, ok := s.Environment[name]
	if !ok || v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func loadCompose(t *testing.T) *composeFile {
	t.Helper()
	j, err := yaml.YAMLToJSONStrict(readFile(t, "docker-compose.yml"))
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(j, &top); err != nil {
		t.Fatal(err)
	}
	for k := range top {
		if strings.HasPrefix(k, "x-") {
			delete(top, k)
		}
	}
	j, _ = json.Marshal(top)
	var c composeFile
	if err := decodeStrict(j, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if len(c.Services) == 0 {
		t.Fatal("docker-compose.yml: no services")
	}
	return &c
}

// composeVolume splits a short volume syntax "src:dst[:mode]".
func composeVolume(v string) (src, dst string, ro bool) {
	parts := strings.Split(v, ":")
	switch len(parts) {
	case 1:
		return "", parts[0], false
	case 2:
		return parts[0], parts[1], false
	default:
		return parts[0], parts[1], strings.Contains(parts[2], "ro")
	}
}

func isNamedVolume(src string) bool {
	return src != "" && !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") && !strings.HasPrefix(src, "~")
}

// mountedFile finds which named volume holds file in s, and the path inside.
func (s composeService) mountedFile(file string) (volume, rel string, ro bool) {
	for _, v := range s.Volumes {
		src, dst, r := composeVolume(v)
		if !isNamedVolume(src) {
			continue
		}
		if x, err := filepath.Rel(dst, file); err == nil && !strings.HasPrefix(x, "..") {
			return src, x, r
		}
	}
	return "", "", false
}

func composePort(t *testing.T, where, raw string) int {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Errorf("%s: %q: %v", where, raw, err)
		return 0
	}
	p, _ := strconv.Atoi(u.Port())
	return p
}

func TestComposeCrossReferences(t *testing.T) {
	c := loadCompose(t)
	known := knownEnv(t)
	stages := dockerfileStages(t)
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range c.Services {
			if !yield(n) {
				return
			}
		}
	})
	var apis, gateways []string
	for _, name := range names {
		s := c.Services[name]
		where := "service " + name
		if s.Image == "" && s.Build == nil {
			t.Errorf("%s: neither image nor build", where)
		}
		if s.Build != nil {
			bin := s.Build.Args["BINARY"]
			if !slices.Contains([]string{"api", "gateway", "standalone"}, bin) {
				t.Errorf("%s: build arg BINARY %q, want api, gateway or standalone", where, bin)
			}
			if s.Build.Target != "" && stages[s.Build.Target] == nil {
				t.Errorf("%s: build target %q is not a Dockerfile stage", where, s.Build.Target)
			}
			if s.Build.Context != "." || (s.Build.Dockerfile != "" && s.Build.Dockerfile != "Dockerfile") {
				t.Errorf("%s: build the repository's Dockerfile from its root", where)
			}
			// The project's containers run hardened.
			if !s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") || !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
				t.Errorf("%s: want read_only, cap_drop ALL and no-new-privileges", where)
			}
			switch s.binary() {
			case "api":
				apis = append(apis, name)
			case "gateway":
				gateways = append(gateways, name)
			}
		}
		for k := range s.Environment {
			if s.Build != nil || strings.HasPrefix(k, "IM_") { // third-party images have their own settings
				checkIMName(t, known, where+" environment", k)
			}
		}
		for dep, d := range s.DependsOn {
			ds, ok := c.Services[dep]
			if !ok {
				t.Errorf("%s: depends_on %q, which is not a service", where, dep)
				continue
			}
			switch d.Condition {
			case "service_healthy":
				if ds.Healthcheck == nil || len(ds.Healthcheck.Test) == 0 {
					t.Errorf("%s: waits for %s to be healthy, which has no healthcheck", where, dep)
				}
			case "service_completed_successfully":
				if ds.Restart != "no" && ds.Restart != "" {
					t.Errorf("%s: waits for %s to complete, but it restarts (%q)", where, dep, ds.Restart)
				}
			case "service_started", "":
			default:
				t.Errorf("%s: depends_on %s: unknown condition %q", where, dep, d.Condition)
			}
		}
		for _, v := range s.Volumes {
			src, dst, _ := composeVolume(v)
			switch {
			case isNamedVolume(src):
				if _, ok := c.Volumes[src]; !ok {
					t.Errorf("%s: volume %q is not declared under volumes", where, src)
				}
			case strings.HasPrefix(src, "."):
				if _, err := os.Stat(repoPath(src)); err != nil {
					t.Errorf("%s: bind mount %s: %v", where, src, err)
				}
			}
			if !path.IsAbs(dst) {
				t.Errorf("%s: volume target %q is not absolute", where, dst)
			}
		}
		if s.Restart != "no" && (s.Healthcheck == nil || len(s.Healthcheck.Test) == 0) {
			t.Errorf("%s: a long-running service needs a healthcheck", where)
		}
	}
	if len(apis) != 1 {
		t.Fatalf("want one api service, got %v", apis)
	}
	if len(gateways) < 2 {
		t.Errorf("want at least two gateway services, got %v", gateways)
	}
	api := c.Services[apis[0]]
	apiPort := listenPort(t, "api IM_HTTP_ADDR", api.env("IM_HTTP_ADDR"))

	// Health checks probe the real endpoints on the real ports, with the
	// probe the images carry.
	checkProbe := func(name string, port int) {
		h := c.Services[name].Healthcheck
		if h == nil || len(h.Test) < 2 {
			return
		}
		if h.Test[0] != "CMD" || h.Test[1] != "/usr/local/bin/imkeygen" || len(h.Test) != 4 || h.Test[2] != "-probe" {
			t.Errorf("service %s: healthcheck %q: want [CMD /usr/local/bin/imkeygen -probe URL] (the image has no shell)", name, h.Test)
			return
		}
		u, err := url.Parse(h.Test[3])
		if err != nil || u.Path != "/readyz" || u.Hostname() != "127.0.0.1" {
			t.Errorf("service %s: healthcheck URL %q: want http://127.0.0.1:<port>/readyz", name, h.Test[3])
		}
		if p := composePort(t, name, h.Test[3]); p != port {
			t.Errorf("service %s: healthcheck on port %d, readiness is served on %d", name, p, port)
		}
	}
	checkProbe(apis[0], apiPort)
	apiGrace := parseDuration(t, "api IM_SHUTDOWN_GRACE", api.env("IM_SHUTDOWN_GRACE"))
	if sg := parseDuration(t, "api stop_grace_period", api.StopGracePeriod); sg <= apiGrace {
		t.Errorf("api: stop_grace_period %v must exceed IM_SHUTDOWN_GRACE %v", sg, apiGrace)
	}

	// The signing key: written by a one-shot service into a named volume
	// that the api mounts read-only at the path IM_JWT_PRIVATE_KEY_FILE.
	keyFile := api.env("IM_JWT_PRIVATE_KEY_FILE")
	vol, rel, ro := api.mountedFile(keyFile)
	if keyFile == "" || vol == "" || !ro {
		t.Errorf("api: IM_JWT_PRIVATE_KEY_FILE %q must be in a named volume mounted read-only", keyFile)
	} else {
		writer := ""
		for _, name := range names {
			s := c.Services[name]
			i := slices.Index(s.Command, "-out")
			if len(s.Entrypoint) == 0 || path.Base(s.Entrypoint[0]) != "imkeygen" || i < 0 || i+1 >= len(s.Command) {
				continue
			}
			if v, r, _ := s.mountedFile(s.Command[i+1]); v == vol && r == rel {
				writer = name
				if s.Restart != "no" || !slices.Contains(s.Command, "-if-missing") {
					t.Errorf("service %s: the key writer must be one-shot (restart: \"no\") and idempotent (-if-missing)", name)
				}
			}
		}
		if writer == "" {
			t.Errorf("api: no imkeygen service writes %s/%s", vol, rel)
		} else if api.DependsOn[writer].Condition != "service_completed_successfully" {
			t.Errorf("api: must wait for %s with service_completed_successfully", writer)
		}
	}

	// Backends: the URIs name services; the replica set matches.
	mongoURI, err := url.Parse(api.env("IM_MONGO_URI"))
	if err != nil {
		t.Fatalf("IM_MONGO_URI: %v", err)
	}
	mongo, ok := c.Services[mongoURI.Hostname()]
	if !ok {
		t.Errorf("IM_MONGO_URI host %q is not a service", mongoURI.Hostname())
	} else {
		rs := mongoURI.Query().Get("replicaSet")
		if i := slices.Index(mongo.Command, "--replSet"); rs == "" || i < 0 || i+1 >= len(mongo.Command) || mongo.Command[i+1] != rs {
			t.Errorf("IM_MONGO_URI replicaSet %q does not match the mongo service's --replSet (%q)", rs, mongo.Command)
		}
		if mongo.Healthcheck == nil || !strings.Contains(strings.Join(mongo.Healthcheck.Test, " "),
			fmt.Sprintf("_id:'%s',members:[{_id:0,host:'%s'}]", rs, mongoURI.Host)) {
			t.Errorf("mongo: the healthcheck must initiate replica set %s with the member %s", rs, mongoURI.Host)
		}
	}
	redisURL, err := url.Parse(api.env("IM_REDIS_URL"))
	if err != nil || c.Services[redisURL.Hostname()].Image == "" {
		t.Errorf("IM_REDIS_URL %q does not name the redis service", api.env("IM_REDIS_URL"))
	}
	for _, name := range append([]string{apis[0]}, gateways...) {
		s := c.Services[name]
		for _, k := range []string{"IM_MONGO_URI", "IM_MONGO_DB", "IM_REDIS_URL", "IM_JWT_ISSUER", "IM_JWT_AUDIENCE"} {
			if s.env(k) != api.env(k) {
				t.Errorf("service %s: %s %q differs from the api's %q", name, k, s.env(k), api.env(k))
			}
		}
		for _, dep := range []string{mongoURI.Hostname(), redisURL.Hostname()} {
			if s.DependsOn[dep].Condition != "service_healthy" {
				t.Errorf("service %s: should wait for %s to be healthy", name, dep)
			}
		}
	}

	// Gateways: distinct node ids, the api's JWKS, drain time.
	nodeIDs := map[string]string{}
	for _, name := range gateways {
		g := c.Services[name]
		where := "service " + name
		ws := listenPort(t, where+" IM_WS_ADDR", g.env("IM_WS_ADDR"))
		admin := listenPort(t, where+" IM_ADMIN_ADDR", g.env("IM_ADMIN_ADDR"))
		if ws == admin {
			t.Errorf("%s: IM_WS_ADDR and IM_ADMIN_ADDR share port %d", where, ws)
		}
		checkProbe(name, admin)
		id := g.env("IM_NODE_ID")
		if id == "" {
			t.Errorf("%s: set IM_NODE_ID", where)
		} else if other, dup := nodeIDs[id]; dup {
			t.Errorf("%s: IM_NODE_ID %q is also %s's", where, id, other)
		}
		nodeIDs[id] = name
		u, err := url.Parse(g.env("IM_JWKS_URL"))
		if err != nil || u.Hostname() != apis[0] || u.Path != "/.well-known/jwks.json" || composePort(t, where, u.String()) != apiPort {
			t.Errorf("%s: IM_JWKS_URL %q, want http://%s:%d/.well-known/jwks.json", where, g.env("IM_JWKS_URL"), apis[0], apiPort)
		}
		if g.DependsOn[apis[0]].Condition != "service_healthy" {
			t.Errorf("%s: must wait for the api to be healthy (it fetches the JWKS)", where)
		}
		grace := parseDuration(t, where+" IM_SHUTDOWN_GRACE", g.env("IM_SHUTDOWN_GRACE"))
		if sg := parseDuration(t, where+" stop_grace_period", g.StopGracePeriod); sg <= grace {
			t.Errorf("%s: stop_grace_period %v must exceed IM_SHUTDOWN_GRACE %v or docker kills the drain", where, sg, grace)
		}
		if g.StopSignal != "" && g.StopSignal != "SIGTERM" {
			t.Errorf("%s: stop_signal %q: the gateway drains on SIGTERM", where, g.StopSignal)
		}
	}

	checkNginx(t, c, apis, gateways)
}

// nginx.conf, parsed just enough to follow its references.

type ngx struct {
	name     string
	args     []string
	children []*ngx
}

func (n *ngx) all(name string) []*ngx {
	var out []*ngx
	for _, c := range n.children {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

func (n *ngx) first(name string) *ngx {
	if a := n.all(name); len(a) > 0 {
		return a[0]
	}
	return nil
}

func (n *ngx) has(name string, args ...string) bool {
	for _, c := range n.all(name) {
		if slices.Equal(c.args, args) {
			return true
		}
	}
	return false
}

var ngxToken = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|#[^\n]*|[{};]|[^\s{};"'#]+`)

func parseNginx(t *testing.T, src string) *ngx {
	t.Helper()
	root := &ngx{}
	stack := []*ngx{root}
	var cur *ngx
	for _, tok := range ngxToken.FindAllString(src, -1) {
		switch {
		case strings.HasPrefix(tok, "#"):
		case tok == "{":
			if cur == nil {
				t.Fatal("nginx.conf: block without a name")
			}
			stack = append(stack, cur)
			cur = nil
		case tok == ";":
			if cur == nil {
				t.Fatal("nginx.conf: empty directive")
			}
			cur = nil
		case tok == "}":
			if cur != nil || len(stack) < 2 {
				t.Fatal("nginx.conf: unbalanced }")
			}
			stack = stack[:len(stack)-1]
		default:
			if cur == nil {
				cur = &ngx{name: tok}
				p := stack[len(stack)-1]
				p.children = append(p.children, cur)
			} else {
				if len(tok) >= 2 && (tok[0] == '"' || tok[0] == '\'') {
					tok = tok[1 : len(tok)-1]
				}
				cur.args = append(cur.args, tok)
			}
		}
	}
	if len(stack) != 1 || cur != nil {
		t.Fatal("nginx.conf: unterminated block or directive")
	}
	return root
}

func ngxSeconds(s string) time.Duration {
	if s != "" && s[len(s)-1] >= '0' && s[len(s)-1] <= '9' {
		s += "s"
	}
	d, _ := time.ParseDuration(s)
	return d
}

func checkNginx(t *testing.T, c *composeFile, apis, gateways []string) {
	t.Helper()
	var proxy string
	for name, s := range c.Services {
		if strings.HasPrefix(s.Image, "nginx:") {
			proxy = name
		}
	}
	if proxy == "" {
		t.Fatal("no nginx service")
	}
	ps := c.Services[proxy]
	mounted := false
	for _, v := range ps.Volumes {
		if src, dst, ro := composeVolume(v); src == "./deploy/nginx/nginx.conf" && dst == "/etc/nginx/nginx.conf" && ro {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("nginx: mount ./deploy/nginx/nginx.conf read-only at /etc/nginx/nginx.conf")
	}
	conf := parseNginx(t, string(readFile(t, "deploy", "nginx", "nginx.conf")))
	http := conf.first("http")
	if http == nil {
		t.Fatal("nginx.conf: no http block")
	}
	// Where each service listens for proxied traffic.
	servicePort := map[string]int{}
	for _, a := range apis {
		servicePort[a] = listenPort(t, a, c.Services[a].env("IM_HTTP_ADDR"))
	}
	for _, g := range gateways {
		servicePort[g] = listenPort(t, g, c.Services[g].env("IM_WS_ADDR"))
	}
	upstreams := map[string][]string{} // name -> services
	for _, u := range http.all("upstream") {
		if len(u.args) != 1 {
			t.Errorf("nginx.conf: upstream %v", u.args)
			continue
		}
		for _, srv := range u.all("server") {
			host, port, ok := strings.Cut(srv.args[0], ":")
			p, _ := strconv.Atoi(port)
			if _, isSvc := c.Services[host]; !ok || !isSvc {
				t.Errorf("nginx.conf: upstream %s: server %s is not a compose service host:port", u.args[0], srv.args[0])
				continue
			}
			if want, ok := servicePort[host]; !ok || p != want {
				t.Errorf("nginx.conf: upstream %s: server %s, but %s listens on %d", u.args[0], srv.args[0], host, want)
			}
			if ps.DependsOn[host].Condition != "service_healthy" {
				t.Errorf("nginx: should wait for %s to be healthy", host)
			}
			if slices.Contains(srv.args[1:], "resolve") && u.first("zone") == nil {
				t.Errorf("nginx.conf: upstream %s: resolve needs a zone", u.args[0])
			}
			upstreams[u.args[0]] = append(upstreams[u.args[0]], host)
		}
		sort.Strings(upstreams[u.args[0]])
	}
	if len(upstreams) == 0 {
		t.Fatal("nginx.conf: no upstream")
	}
	servers := http.all("server")
	if len(servers) != 1 {
		t.Fatalf("nginx.conf: want one server block, got %d", len(servers))
	}
	srv := servers[0]
	listen := srv.first("listen")
	published := false
	for _, p := range ps.Ports {
		if listen != nil && strings.HasSuffix(p, ":"+listen.args[0]) {
			published = true
		}
	}
	if !published {
		t.Errorf("nginx: ports %v do not publish the listen port %v", ps.Ports, listen)
	}
	locs := map[string]*ngx{}
	for _, l := range srv.all("location") {
		locs[strings.Join(l.args, " ")] = l
	}
	upstreamOf := func(l *ngx) []string {
		pp := l.first("proxy_pass")
		if pp == nil {
			return nil
		}
		return upstreams[strings.TrimPrefix(pp.args[0], "http://")]
	}
	ws := locs["/ws"]
	if ws == nil {
		t.Fatal("nginx.conf: no location /ws")
	}
	if got := upstreamOf(ws); !slices.Equal(got, slices.Sorted(slices.Values(gateways))) {
		t.Errorf("nginx.conf: /ws proxies to %v, want every gateway %v", got, gateways)
	}
	if !ws.has("proxy_http_version", "1.1") || !ws.has("proxy_set_header", "Upgrade", "$http_upgrade") ||
		!(ws.has("proxy_set_header", "Connection", "$connection_upgrade") || ws.has("proxy_set_header", "Connection", "upgrade")) {
		t.Errorf("nginx.conf: /ws needs proxy_http_version 1.1 and the Upgrade and Connection headers")
	}
	if ws.has("proxy_set_header", "Connection", "$connection_upgrade") && len(http.all("map")) == 0 {
		t.Errorf("nginx.conf: $connection_upgrade needs its map")
	}
	for _, d := range []string{"proxy_read_timeout", "proxy_send_timeout"} {
		if x := ws.first(d); x == nil || ngxSeconds(x.args[0]) < 10*time.Minute {
			t.Errorf("nginx.conf: /ws needs a long %s", d)
		}
	}
	root := locs["/"]
	if root == nil || !slices.Equal(upstreamOf(root), apis) {
		t.Errorf("nginx.conf: location / must proxy to the api")
	}
	if h := ps.Healthcheck; h != nil {
		u, err := url.Parse(h.Test[len(h.Test)-1])
		if err != nil || locs["= "+u.Path] == nil {
			t.Errorf("nginx: healthcheck %v does not hit a location of nginx.conf", h.Test)
		}
	}
	// The gateways' and the api's logs never see tokens, and nginx's must
	// not either: its log format must not use $request or $args.
	for _, lf := range http.all("log_format") {
		for _, a := range lf.args {
			if strings.Contains(a, "$request ") || strings.Contains(a, "$request\"") || strings.Contains(a, "$args") ||
				strings.Contains(a, "$request_uri") || strings.Contains(a, "$query_string") {
				t.Errorf("nginx.conf: log_format %s logs the query string (access_token)", lf.args[0])
			}
		}
	}
}

// Dockerfile, parsed just enough to check its stages.

type dfStage struct {
	from       string
	name       string
	instrs     [][2]string // instruction, rest
	env        map[string]string
	expose     []int
	entrypoint string
}

func dockerfileStages(t *testing.T) map[string]*dfStage {
	t.Helper()
	stages, _ := parseDockerfile(t)
	return stages
}

func parseDockerfile(t *testing.T) (map[string]*dfStage, []*dfStage) {
	t.Helper()
	src := string(readFile(t, "Dockerfile"))
	var lines []string
	var acc strings.Builder
	for _, l := range strings.Split(src, "\n") {
		trim := strings.TrimSpace(l)
		if strings.HasPrefix(trim, "#") {
			continue
		}
		if strings.HasSuffix(trim, "\\") {
			acc.WriteString(strings.TrimSuffix(trim, "\\") + " ")
			continue
		}
		acc.WriteString(trim)
		if s := strings.TrimSpace(acc.String()); s != "" {
			lines = append(lines, s)
		}
		acc.Reset()
	}
	byName := map[string]*dfStage{}
	var order []*dfStage
	global := &dfStage{name: "<global>", env: map[string]string{}}
	cur := global
	for _, l := range lines {
		instr, rest, _ := strings.Cut(l, " ")
		instr = strings.ToUpper(instr)
		rest = strings.TrimSpace(rest)
		if instr == "FROM" {
			f := strings.Fields(rest)
			var img, name string
			for i := 0; i < len(f); i++ {
				switch {
				case strings.HasPrefix(f[i], "--"):
				case strings.EqualFold(f[i], "AS") && i+1 < len(f):
					name = f[i+1]
					i++
				default:
					img = f[i]
				}
			}
			cur = &dfStage{from: img, name: name, env: map[string]string{}}
			if p := byName[img]; p != nil { // inherit from a parent stage
				for k, v := range p.env {
					cur.env[k] = v
				}
				cur.expose = slices.Clone(p.expose)
				cur.entrypoint = p.entrypoint
			}
			order = append(order, cur)
			if name != "" {
				byName[name] = cur
			}
			continue
		}
		cur.instrs = append(cur.instrs, [2]string{instr, rest})
		switch instr {
		case "ENV", "ARG":
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				cur.env[k] = v
			}
		case "EXPOSE":
			for _, p := range strings.Fields(rest) {
				p, _, _ = strings.Cut(p, "/")
				n, err := strconv.Atoi(p)
				if err != nil {
					t.Errorf("Dockerfile: EXPOSE %q", p)
				}
				cur.expose = append(cur.expose, n)
			}
		case "ENTRYPOINT":
			var ep []string
			if err := json.Unmarshal([]byte(rest), &ep); err != nil || len(ep) == 0 {
				t.Errorf("Dockerfile: ENTRYPOINT %s: use the exec (JSON) form; the image has no shell", rest)
			} else {
				cur.entrypoint = ep[0]
			}
		}
	}
	byName["<global>"] = global
	return byName, order
}

func (s *dfStage) has(instr, substr string) bool {
	for _, in := range s.instrs {
		if in[0] == instr && strings.Contains(in[1], substr) {
			return true
		}
	}
	return false
}

func TestDockerfile(t *testing.T) {
	stages, order := parseDockerfile(t)
	global := stages["<global>"]
	if _, ok := global.env["BINARY"]; !ok {
		t.Fatal("Dockerfile: no global ARG BINARY")
	}
	if last := order[len(order)-1]; last.from != "${BINARY}" && last.from != "$BINARY" {
		t.Errorf("Dockerfile: the last stage should be FROM ${BINARY}, got %q", last.from)
	}
	build := stages["build"]
	if build == nil {
		t.Fatal("Dockerfile: no build stage")
	}
	from := strings.ReplaceAll(build.from, "${GO_VERSION}", global.env["GO_VERSION"])
	if !strings.HasPrefix(from, "golang:1.26") {
		t.Errorf("Dockerfile: build stage FROM %q, want golang:1.26", build.from)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags="-s -w"`, `./cmd/${BINARY}`, "./cmd/imkeygen"} {
		if !build.has("RUN", want) {
			t.Errorf("Dockerfile: the go build RUN lacks %s", want)
		}
	}
	base := stages["base"]
	if base == nil || base.from != "gcr.io/distroless/static-debian12:nonroot" {
		t.Fatal("Dockerfile: want a base stage FROM gcr.io/distroless/static-debian12:nonroot")
	}
	if !base.has("USER", "65532") && !base.has("USER", "nonroot") {
		t.Error("Dockerfile: base stage must set USER nonroot")
	}
	if !base.has("COPY", "/usr/local/bin/imkeygen") {
		t.Error("Dockerfile: the images must carry /usr/local/bin/imkeygen (compose healthchecks and keygen use it)")
	}
	for _, bin := range []string{"api", "gateway", "standalone"} {
		s := stages[bin]
		if s == nil {
			t.Errorf("Dockerfile: no stage %s", bin)
			continue
		}
		if s.from != "base" {
			t.Errorf("Dockerfile: stage %s FROM %s, want base", bin, s.from)
		}
		exe := "/usr/local/bin/" + bin
		if s.entrypoint != exe || !s.has("COPY", "/out/"+bin+" "+exe) {
			t.Errorf("Dockerfile: stage %s must copy /out/%s to %s and run it (ENTRYPOINT %q)", bin, bin, exe, s.entrypoint)
		}
		var ports []int
		for k, v := range s.env {
			if strings.HasPrefix(k, "IM_") && strings.HasSuffix(k, "_ADDR") {
				ports = append(ports, listenPort(t, "Dockerfile stage "+bin+" "+k, v))
			}
		}
		sort.Ints(ports)
		exposed := slices.Sorted(slices.Values(s.expose))
		if len(ports) == 0 || !slices.Equal(ports, exposed) {
			t.Errorf("Dockerfile: stage %s listens on %v but EXPOSEs %v", bin, ports, exposed)
		}
	}

	// The Kubernetes containers use the ports the images expose.
	m := loadManifests(t)
	for _, d := range m.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			s := stages[binaryOf(c)]
			if s == nil {
				continue
			}
			var ports []int
			for _, cp := range c.Ports {
				ports = append(ports, int(cp.ContainerPort))
			}
			sort.Ints(ports)
			if !slices.Equal(ports, slices.Sorted(slices.Values(s.expose))) {
				t.Errorf("Deployment %s: container ports %v, the %s image exposes %v", d.Name, ports, binaryOf(c), s.expose)
			}
		}
	}
}

func TestDockerignoreKeepsTheSources(t *testing.T) {
	var patterns []string
	for _, l := range strings.Split(string(readFile(t, ".dockerignore")), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "!") {
			continue
		}
		patterns = append(patterns, strings.TrimPrefix(l, "/"))
	}
	for _, need := range []string{"go.mod", "go.sum", "cmd", "cmd/gateway/main.go", "internal", "internal/app", "pkg", "pkg/auth"} {
		for _, p := range patterns {
			if ok, _ := filepath.Match(p, need); ok || p == "*" || p == "**" {
				t.Errorf(".dockerignore pattern %q excludes %s, which the build needs", p, need)
			}
		}
	}
	if !slices.Contains(patterns, ".git") {
		t.Error(".dockerignore should exclude .git")
	}
}

package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/im-websocket-go/im-websocket-go/internal/app"
	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/gateway"
	"github.com/im-websocket-go/im-websocket-go/internal/service"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// NodeConfig is one gateway node, wired exactly as cmd/gateway wires it
// (app.Distributed, app.GatewayService, app.GatewayOptions, the admin
// handler), with pprof added on the admin port.
type NodeConfig struct {
	MongoURI string `json:"mongo_uri"`
	MongoDB  string `json:"mongo_db"`
	// AutoPipeline turns go-redis automatic pipelining on
	// (IM_REDIS_AUTOPIPELINE; off by default).
	AutoPipeline bool `json:"autopipeline"`
	// WriteDelay is the nodes' IM_WS_WRITE_DELAY (0: none).
	WriteDelay time.Duration `json:"write_delay"`
	// MaxFrameAge is the nodes' IM_STORE_MAX_FRAME_AGE (0: off).
	MaxFrameAge time.Duration `json:"max_frame_age"`
	// PostgresURL, when set, is the store instead of MongoDB.
	PostgresURL string `json:"postgres_url"`
	RedisURL    string `json:"redis_url"`
	// RedisClusterAddrs, when set, are a Redis Cluster's nodes instead of
	// RedisURL (IM_REDIS_CLUSTER_ADDRS).
	RedisClusterAddrs []string `json:"redis_cluster_addrs,omitempty"`
	PubKeyFile        string   `json:"pub_key_file"` // verification key (PEM)
	Issuer            string   `json:"iss"`
	Audience          string   `json:"aud"`
	NodeID            string   `json:"node_id"`
	LogLevel          string   `json:"log_level"`

	// In process only: the verification keys instead of PubKeyFile, and a
	// hook on the gateway's options.
	Keys  auth.KeySource         `json:"-"`
	Tweak func(*gateway.Options) `json:"-"`
	// Store replaces MongoDB (in process only; Redis is still used).
	Store store.Store `json:"-"`
}

// Node is a running gateway node.
type Node struct {
	URL      string `json:"ws"`    // ws://127.0.0.1:port/ws
	AdminURL string `json:"admin"` // http://127.0.0.1:port
	PID      int    `json:"pid"`
	close    func() error
	cmd      *exec.Cmd
}

// Close stops the node.
func (n *Node) Close() error {
	if n.close != nil {
		return n.close()
	}
	return nil
}

// StartNode runs a gateway node in this process.
func StartNode(ctx context.Context, nc NodeConfig) (*Node, error) {
	if nc.LogLevel == "" {
		nc.LogLevel = "warn"
	}
	log, err := app.NewLogger(nc.LogLevel)
	if err != nil {
		return nil, err
	}
	cfg := config.Config{MongoURI: nc.MongoURI, MongoDB: nc.MongoDB, RedisURL: nc.RedisURL,
		JWTIssuer: nc.Issuer, JWTAudience: nc.Audience, JWTPublicKeyFile: nc.PubKeyFile,
		NodeID: nc.NodeID, MaxConnsPerUser: 16, RedisAutoPipeline: nc.AutoPipeline, WSWriteDelay: nc.WriteDelay,
		WSDeflate: true, WSDeflateThreshold: 512, // as in production: used by clients that offer it (-deflate)
		StoreMaxFrameAge: nc.MaxFrameAge}
	if nc.PostgresURL != "" {
		cfg.Store, cfg.PostgresURL = "postgres", nc.PostgresURL
	}
	if len(nc.RedisClusterAddrs) > 0 {
		cfg.RedisTopology, cfg.RedisClusterAddrs = config.RedisCluster, nc.RedisClusterAddrs
	}
	var ver *auth.Verifier
	if nc.Keys != nil {
		ver, err = auth.NewVerifier(nc.Keys, nc.Issuer, nc.Audience, auth.VerifierOptions{})
	} else {
		ver, _, err = app.GatewayVerifier(cfg)
	}
	if err != nil {
		return nil, err
	}
	var handler app.Deferred
	var b app.Backends
	if nc.Store != nil {
		b, err = app.RedisBackends(ctx, cfg, nc.Store, &handler, nil)
	} else {
		b, err = app.Distributed(ctx, cfg, &handler, nil)
	}
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	svc := app.GatewayService(b, log, service.Limits{})
	opts := app.GatewayOptions(cfg, log, reg)
	opts.Presence = b.Presence
	if nc.Tweak != nil {
		nc.Tweak(&opts)
	}
	gw, err := gateway.New(svc, ver, opts)
	if err != nil {
		b.Close()
		return nil, err
	}
	gw.SetBus(b.Bus)
	handler.Set(gw)
	gw.Run()
	wsl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = gw.Close()
		b.Close()
		return nil, err
	}
	adl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = wsl.Close()
		_ = gw.Close()
		b.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ws", gw)
	wsSrv := app.HTTPServer(mux, log)
	admin := http.NewServeMux()
	admin.Handle("/", app.AdminHandler(gw, b.Ping, reg))
	admin.HandleFunc("/debug/pprof/", pprof.Index)
	admin.HandleFunc("/debug/pprof/profile", pprof.Profile)
	admin.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	adminSrv := &http.Server{Handler: admin, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = wsSrv.Serve(wsl) }()
	go func() { _ = adminSrv.Serve(adl) }()
	n := &Node{URL: "ws://" + wsl.Addr().String() + "/ws", AdminURL: "http://" + adl.Addr().String(), PID: os.Getpid()}
	n.close = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = wsSrv.Shutdown(ctx)
		err := gw.Close()
		_ = adminSrv.Shutdown(ctx)
		svc.Close()
		b.Close()
		_ = log.Sync()
		return err
	}
	return n, nil
}

// nodeEnv carries a spawned node's configuration (JSON) to the child.
const nodeEnv = "IMBENCH_NODE"

// MaybeNodeMain runs a gateway node and exits when the process was
// started as one by SpawnNode (cmd/imbench and the tests call it first
// thing). It returns when the process is not a node.
func MaybeNodeMain() {
	js := os.Getenv(nodeEnv)
	if js == "" {
		return
	}
	if err := nodeMain(js); err != nil {
		fmt.Fprintln(os.Stderr, "imbench node:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func nodeMain(js string) error {
	var nc NodeConfig
	if err := json.Unmarshal([]byte(js), &nc); err != nil {
		return err
	}
	if _, err := RaiseNoFile(1 << 20); err != nil {
		fmt.Fprintln(os.Stderr, "imbench node: RLIMIT_NOFILE:", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	n, err := StartNode(ctx, nc)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(n)
	fmt.Println(string(b))
	// Stop on a signal or when the parent closes our stdin (it died).
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); stop() }()
	<-ctx.Done()
	return n.Close()
}

// SpawnNode starts a gateway node as a child process of this executable
// (which must call MaybeNodeMain at start), so its memory and CPU are
// measured apart from the load clients.
func SpawnNode(ctx context.Context, nc NodeConfig) (*Node, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	js, err := json.Marshal(nc)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), nodeEnv+"="+string(js))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	kill := func() { _ = cmd.Process.Kill(); <-exited }
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if t := sc.Text(); strings.HasPrefix(t, "{") {
				line <- t
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var n Node
	select {
	case l := <-line:
		if err := json.Unmarshal([]byte(l), &n); err != nil {
			kill()
			return nil, err
		}
	case <-exited:
		return nil, errors.New("spawned gateway node exited during start")
	case <-time.After(60 * time.Second):
		kill()
		return nil, errors.New("spawned gateway node did not start in 60s")
	case <-ctx.Done():
		kill()
		return nil, ctx.Err()
	}
	n.cmd = cmd
	n.close = func() error {
		_ = stdin.Close()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			kill()
		}
		return nil
	}
	return &n, nil
}

package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// Room is a seeded room and what was acked in it.
type Room struct {
	ID      string
	idb     []byte
	members []*Conn
	table   seqTable

	mu    sync.Mutex
	acked bitset
	nAck  int64
}

// runner is one run's state.
type runner struct {
	cfg   Config
	out   io.Writer
	run   string // id carried by accounts and client_msg_ids
	res   *Result
	users []*User
	conns []*Conn
	rooms []*Room
	byID  map[string]*Room
	pubs  []*Conn
	procs []Proc
	redis Proc
	// redisNodes are the embedded Redis servers whose commands and CPU
	// are counted (see RedisShard).
	redisNodes []*redisNode
	admins     []string // admin base URLs of the gateways, when known
	d          *dialer
	env        *Embedded
	sa         *saServer // the standalone target
	seeder     *Seeder

	roomIDs  []string // seeded
	seedTook time.Duration
	seedDocs int64
	iss      *auth.Issuer

	// live counters
	sent, acked, delivered, sendErrs, retries, failed stripe
	dups, ooo, mismatch, recovered, unexpected        stripe
	steps                                             []*stepStats
	stop                                              atomic.Bool
	errMu                                             sync.Mutex
	outMu                                             sync.Mutex
	errs                                              []string
	errCount                                          map[string]int
	rc                                                *receipts // the receipts storm
	// booksClosed: the run's sends are over (closeBooks); nothing more is
	// written, and an ack that comes later is not counted as acked.
	booksClosed atomic.Bool
	lateAcks    atomic.Int64
	answerLat   Recorder // a written send frame to its answer (ack or error)
}

type stepStats struct {
	rate        float64
	start, end  time.Time
	sent, acked stripe
	errs        stripe
	deliverLat  Recorder
	ackLat      Recorder
	// counter snapshots at the step's start and end, for arrival rates
	d0, d1, a0, a1 int64
	cpu0, cpu1     float64
	cut            time.Time // ramp: when a failing verdict cut the step short
}

// Run executes one run described by cfg.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, out: cfg.Out, byID: map[string]*Room{}, errCount: map[string]int{}, rc: newReceipts()}
	var b [4]byte
	_, _ = rand.Read(b[:])
	r.run = "b" + hex.EncodeToString(b[:])
	r.res = &Result{Scenario: cfg.Scenario, StartedAt: time.Now().UTC(), Machine: ThisMachine()}
	if cfg.Scenario == ScenarioRamp {
		r.res.RampOf = cfg.RampOf
	}
	defer r.teardown()
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	var err error
	switch cfg.Scenario {
	case ScenarioIdle:
		err = r.idle(ctx)
	case ScenarioHistory:
		err = r.history(ctx)
	case ScenarioPresence:
		err = r.presence(ctx)
	default:
		err = r.traffic(ctx)
	}
	if err != nil {
		return nil, err
	}
	r.finish()
	if cfg.JSONOut != "" {
		if err := r.res.WriteJSON(cfg.JSONOut); err != nil {
			return r.res, err
		}
	}
	if cfg.SVGOut != "" {
		if err := WriteRunSVG(cfg.SVGOut, r.res); err != nil {
			return r.res, err
		}
	}
	return r.res, nil
}

func (r *runner) logf(format string, a ...any) {
	r.outMu.Lock()
	defer r.outMu.Unlock()
	fmt.Fprintf(r.out, format+"\n", a...)
}

// noteErr keeps the first few distinct error texts.
func (r *runner) noteErr(format string, a ...any) {
	s := fmt.Sprintf(format, a...)
	r.errMu.Lock()
	defer r.errMu.Unlock()
	r.errCount[s]++
	if r.errCount[s] == 1 && len(r.errs) < 20 {
		r.errs = append(r.errs, s)
	}
}

func (r *runner) setup(ctx context.Context) error {
	cfg := &r.cfg
	// File descriptors: our connections, plus theirs when the gateways
	// live in this process, plus the store's, Redis's and the tool's own
	// (measured: 325 in the tool and 146 in a spawned gateway at 18,000
	// idle connections with the embedded store).
	want := uint64(cfg.N) + 512 + 192*uint64(cfg.Nodes)
	if (cfg.Embedded && !cfg.Spawn) || cfg.StandaloneInProcess {
		want += uint64(cfg.N)
	}
	if lim, err := RaiseNoFile(want); err != nil || lim < want {
		return fmt.Errorf("this run needs about %d file descriptors in this process but RLIMIT_NOFILE allows %d (%v): "+
			"raising the hard limit needs root with CAP_SYS_RESOURCE (ulimit -Hn); use a smaller -n, or spread "+
			"the connections over gateways and load-tool processes that each fit", want, lim, err)
	}
	signer := cfg.Signer
	if cfg.Target == TargetStandalone {
		r.logf("standalone server on %s%s%s, seeded before it starts", cfg.Store,
			map[bool]string{true: " (synchronous=" + cfg.SQLiteSync + ")"}[cfg.Store == "sqlite"],
			map[bool]string{true: ", in this process", false: ", as a child process"}[cfg.StandaloneInProcess])
		if err := r.startStandalone(ctx); err != nil {
			return err
		}
		signer = r.sa.signer
		cfg.Gateways = []string{"ws" + strings.TrimPrefix(r.sa.url, "http") + "/ws"}
		r.procs = []Proc{{Name: "standalone", PID: r.sa.pid}}
		r.res.InProcess = cfg.StandaloneInProcess
		r.logf("standalone listening on %s (pid %d)", r.sa.url, r.sa.pid)
	} else if cfg.Embedded {
		st := "FerretDB (SQLite)"
		switch cfg.Store {
		case "mem":
			st = "the in-memory store"
		case "postgres":
			st = "PostgreSQL at -postgres-url"
		}
		r.logf("starting the embedded environment: redis, %s, %d gateway node(s)%s", st, cfg.Nodes,
			map[bool]string{true: " as child processes", false: " in this process"}[cfg.Spawn])
		if cfg.RedisTopology != "" && cfg.RedisTopology != RedisTopologySingle && cfg.RedisTopology != RedisTopologyCluster {
			return fmt.Errorf("-redis-topology %q: want single or cluster", cfg.RedisTopology)
		}
		env, err := StartEmbedded(ctx, EmbeddedOptions{Nodes: cfg.Nodes, Spawn: cfg.Spawn, RedisURL: cfg.RedisURL, Tweak: cfg.Tweak,
			RedisCluster: cfg.RedisTopology == RedisTopologyCluster,
			MemStore:     cfg.Store == "mem", PostgresURL: map[bool]string{true: cfg.PostgresURL}[cfg.Store == "postgres"],
			AutoPipeline: cfg.AutoPipeline, WriteDelay: cfg.WriteDelay, MaxFrameAge: cfg.MaxFrameAge})
		if err != nil {
			return err
		}
		r.env = env
		signer = env.Signer
		cfg.MongoURI, cfg.MongoDB, cfg.Issuer, cfg.Audience = env.MongoURI, env.MongoDB, env.Issuer, env.Audience
		cfg.Gateways = nil
		seen := map[int]bool{}
		for i, n := range env.Nodes {
			cfg.Gateways = append(cfg.Gateways, n.URL)
			r.admins = append(r.admins, n.AdminURL)
			if !seen[n.PID] {
				seen[n.PID] = true
				r.procs = append(r.procs, Proc{Name: fmt.Sprintf("gw-%d", i+1), PID: n.PID, MetricsURL: n.AdminURL + "/metrics"})
			}
		}
		if env.Redis != nil {
			r.redis = Proc{Name: "redis", PID: env.Redis.PID()}
		}
		r.res.RedisTopology = RedisTopologySingle
		if env.Cluster != nil {
			r.res.RedisTopology = RedisTopologyCluster
		}
		addrs, pids := env.RedisServers()
		r.redisNodes = openRedisNodes(ctx, addrs, pids)
		r.res.InProcess = !cfg.Spawn
	} else {
		for i, pid := range cfg.GatewayPIDs {
			r.procs = append(r.procs, Proc{Name: fmt.Sprintf("gw-pid-%d", i+1), PID: pid})
		}
		for i, u := range cfg.MetricsURLs {
			if i < len(r.procs) {
				r.procs[i].MetricsURL = u
			} else {
				r.procs = append(r.procs, Proc{Name: fmt.Sprintf("gw-metrics-%d", i+1), MetricsURL: u})
			}
			if base, ok := cutSuffix(u, "/metrics"); ok {
				r.admins = append(r.admins, base)
			}
		}
		if signer == nil {
			s, err := auth.LoadSigner(cfg.JWTKeyFile)
			if err != nil {
				return fmt.Errorf("-jwt-key: %w", err)
			}
			signer = s
		}
	}
	r.iss = &auth.Issuer{Signer: signer, Issuer: cfg.Issuer, Audience: cfg.Audience, TTL: cfg.TokenTTL}
	var ips []net.IP
	for _, s := range cfg.SourceIPs {
		ips = append(ips, net.ParseIP(s))
	}
	if len(ips) == 0 && cfg.N > 25000 {
		// Each source address has ~28k ephemeral ports to one destination.
		k := (cfg.N + 24999) / 25000
		for i := range k {
			ips = append(ips, net.IPv4(127, 0, 0, byte(1+i)))
			cfg.SourceIPs = append(cfg.SourceIPs, fmt.Sprintf("127.0.0.%d", 1+i))
		}
		r.logf("dialing from %d loopback source addresses %v (pass -source-ips to choose)", k, cfg.SourceIPs)
	}
	r.d = &dialer{srcIPs: ips, timeout: 20 * time.Second, readBuf: cfg.ReadBuffer, maxFrame: 1 << 20, handle: r.handle,
		deflate: cfg.Deflate}

	r.res.Setup = Setup{Gateways: cfg.Gateways, Embedded: cfg.Embedded, Spawned: cfg.Spawn, Store: cfg.Store, N: cfg.N,
		Rate: cfg.Rate, DurationS: cfg.totalTime().Seconds(), BodySize: cfg.BodySize, SourceIPs: cfg.SourceIPs, Target: cfg.Target}
	if cfg.Target == TargetStandalone {
		r.res.Setup.Spawned = !cfg.StandaloneInProcess
		if cfg.Store == "sqlite" {
			r.res.Setup.SQLiteSync = cfg.SQLiteSync
		}
		if cfg.Scenario == ScenarioHistory {
			r.res.Setup.Messages = cfg.Messages
		}
	}
	if cfg.work() == ScenarioFanout {
		r.res.Setup.Group = cfg.Group
	}

	// Seed (the standalone target seeded before its server started).
	if r.sa == nil {
		var seeder *Seeder
		if r.env != nil && r.env.Shared != nil {
			seeder = MemSeeder(r.env.Shared, r.run)
		} else {
			var err error
			if seeder, err = OpenSeeder(ctx, cfg.MongoURI, cfg.MongoDB, r.run); err != nil {
				return err
			}
		}
		r.seeder = seeder
		if err := r.seed(ctx, seeder, time.Now()); err != nil {
			return err
		}
	}
	if cfg.Client == ClientSDK {
		r.res.Setup.Client = ClientSDK
	}
	r.res.Setup.SeedS = r.seedTook.Seconds()
	r.res.Setup.SeedDocs = r.seedDocs
	r.res.Setup.Rooms = len(r.roomIDs)
	t1 := time.Now()
	if err := MintTokens(r.iss, r.users); err != nil {
		return err
	}
	r.res.Setup.MintS = time.Since(t1).Seconds()
	r.logf("minted %d access tokens in %.1fs", len(r.users), r.res.Setup.MintS)

	for _, id := range r.roomIDs {
		rm := &Room{ID: id, idb: []byte(id)}
		r.rooms = append(r.rooms, rm)
		r.byID[id] = rm
	}
	r.conns = make([]*Conn, len(r.users))
	for i, u := range r.users {
		c := &Conn{idx: i, user: u, gw: i % len(cfg.Gateways), pending: map[string]*pendingSend{}}
		switch {
		case cfg.work() == ScenarioFanout:
			c.room = r.rooms[0]
		case len(r.rooms) > 0:
			c.room = r.rooms[i/2]
		}
		if c.room != nil {
			c.room.members = append(c.room.members, c)
		}
		r.conns[i] = c
	}
	return nil
}

// seed writes the run's users and rooms with seeder.
func (r *runner) seed(ctx context.Context, seeder *Seeder, t0 time.Time) error {
	cfg := &r.cfg
	var err error
	r.users, err = seeder.Users(ctx, cfg.N)
	if err != nil {
		return err
	}
	switch {
	case cfg.work() == ScenarioFanout:
		id, err := seeder.Group(ctx, "fanout", r.users)
		if err != nil {
			return err
		}
		r.roomIDs = []string{id}
	case cfg.work() == ScenarioDirect || cfg.Scenario == ScenarioHistory || cfg.Scenario == ScenarioPresence ||
		(cfg.Scenario == ScenarioIdle && cfg.IdleRooms):
		if r.roomIDs, err = seeder.Pairs(ctx, r.users); err != nil {
			return err
		}
	}
	r.seedTook, r.seedDocs = time.Since(t0), seeder.InsertedDocuments
	r.logf("seeded %d users, %d rooms (%d documents) in %.1fs", len(r.users), len(r.roomIDs), seeder.InsertedDocuments, r.seedTook.Seconds())
	return nil
}

func cutSuffix(s, suf string) (string, bool) {
	if len(s) >= len(suf) && s[len(s)-len(suf):] == suf {
		return s[:len(s)-len(suf)], true
	}
	return s, false
}

// connect opens conns[from:to] with bounded concurrency.
func (r *runner) connect(ctx context.Context, from, to int) (failed int) {
	sem := make(chan struct{}, r.cfg.DialConcurrency)
	var wg sync.WaitGroup
	var nf atomic.Int64
	for i := from; i < to; i++ {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(c *Conn) {
			defer func() { <-sem; wg.Done() }()
			dial := func() error { return r.d.dial(ctx, c, r.cfg.Gateways[c.gw], c.user.Token) }
			if r.cfg.Client == ClientSDK {
				dial = func() error { return r.dialSDK(ctx, c) }
			}
			var err error
			for try := 0; try < 3; try++ {
				if err = dial(); err == nil {
					return
				}
				time.Sleep(time.Duration(100*(try+1)) * time.Millisecond)
			}
			nf.Add(1)
			r.noteErr("connect: %v", err)
		}(r.conns[i])
	}
	wg.Wait()
	return int(nf.Load())
}

func (r *runner) alive() int {
	n := 0
	for _, c := range r.conns {
		if c.alive.Load() {
			n++
		}
	}
	return n
}

// sampleGateways sums RSS and CPU over the gateway processes.
func (r *runner) sampleGateways(ctx context.Context) Sample {
	var s Sample
	s.OK = len(r.procs) > 0
	for _, p := range r.procs {
		x := p.Read(ctx)
		s.RSS += x.RSS
		s.CPU += x.CPU
		s.HeapInuse += x.HeapInuse
		s.Stack += x.Stack
		s.OK = s.OK && x.OK
	}
	return s
}

// keepalive pings every connection once per period (the gateway closes
// connections silent for 3 heartbeats), spread evenly.
func (r *runner) keepalive(ctx context.Context, period time.Duration) {
	if r.cfg.Client == ClientSDK {
		return // the SDK pings by itself
	}
	ping := []byte(`{"type":"ping"}`)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	per := max(1, len(r.conns)/int(period/(100*time.Millisecond)))
	i := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for k := 0; k < per && len(r.conns) > 0; k++ {
			c := r.conns[i%len(r.conns)]
			i++
			if c.alive.Load() {
				_ = c.sendText(ping)
			}
		}
	}
}

// idle holds the connections and measures memory and CPU.
func (r *runner) idle(ctx context.Context) error {
	cfg := r.cfg
	// Ping from the start: connecting many may take longer than the
	// gateway's idle timeout (3 heartbeats).
	kctx, kcancel := context.WithCancel(ctx)
	defer kcancel()
	go r.keepalive(kctx, 25*time.Second)
	base := r.settleSample(ctx)
	r.res.GatewayRSSBaseline = base.RSS
	r.logf("gateway RSS before connecting: %s", mib(base.RSS))
	var connecting time.Duration // the batches, not the pauses between them
	failed := 0
	per := (cfg.N + cfg.Batches - 1) / cfg.Batches
	for from := 0; from < cfg.N; from += per {
		to := min(from+per, cfg.N)
		bt := time.Now()
		failed += r.connect(ctx, from, to)
		took := time.Since(bt)
		connecting += took
		s := r.settleSample(ctx)
		n := r.alive()
		pt := RSSPoint{Conns: n, RSS: s.RSS, HeapInuse: s.HeapInuse, StackInuse: s.Stack}
		if n > 0 {
			pt.PerConn = float64(s.RSS-base.RSS) / float64(n)
		}
		r.res.RSSCurve = append(r.res.RSSCurve, pt)
		r.logf("[connect] %7d/%d conns (+%d in %.1fs, %.0f/s)  gateway RSS %s  %s/conn over baseline",
			n, cfg.N, to-from, took.Seconds(), float64(to-from)/took.Seconds(), mib(s.RSS), kib(pt.PerConn))
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	r.res.ConnectSeconds = connecting.Seconds()
	r.res.ConnectFailures = failed

	// The idle window.
	g0, t0, tool0, red0 := r.sampleGateways(ctx), time.Now(), procCPU(os.Getpid()), r.redis.Read(ctx)
	stopProf := r.startProfiles(cfg.Duration)
	tick := time.NewTicker(time.Second)
	end := time.After(cfg.Duration)
loop:
	for {
		select {
		case <-ctx.Done():
			tick.Stop()
			return ctx.Err()
		case <-end:
			break loop
		case <-tick.C:
			s := r.sampleGateways(ctx)
			el := time.Since(t0).Seconds()
			sec := Second{T: el, Conns: r.alive(), RSS: s.RSS}
			if s.OK && g0.OK {
				sec.CPU = (s.CPU - g0.CPU) / el
			}
			r.res.Timeline = append(r.res.Timeline, sec)
			r.logf("[%5.1fs] idle: %d conns  gateway RSS %s  CPU %.1f%% of a core", el, sec.Conns, mib(s.RSS), 100*sec.CPU)
		}
	}
	tick.Stop()
	stopProf()
	el := time.Since(t0).Seconds()
	g1 := r.sampleGateways(ctx)
	r.res.WindowS = el
	r.res.GatewayCPU = (g1.CPU - g0.CPU) / el
	r.res.ToolCPU = (procCPU(os.Getpid()) - tool0) / el
	if r.redis.PID > 0 {
		r.res.RedisCPU = (r.redis.Read(ctx).CPU - red0.CPU) / el
	}
	r.res.GatewayRSS, r.res.GatewayHeapInuse, r.res.GatewayStackInuse = g1.RSS, g1.HeapInuse, g1.Stack
	n := r.alive()
	r.res.Connections = n
	r.res.Disconnects = cfg.N - failed - n
	if n > 0 {
		r.res.RSSPerConn = float64(g1.RSS-base.RSS) / float64(n)
		r.res.RSSTotalPerConn = float64(g1.RSS) / float64(n)
	}
	return nil
}

// settleSample waits cfg.Settle and samples the gateways.
func (r *runner) settleSample(ctx context.Context) Sample {
	select {
	case <-ctx.Done():
	case <-time.After(r.cfg.Settle):
	}
	return r.sampleGateways(ctx)
}

// startProfiles records CPU profiles of the gateways (through their
// pprof endpoints) and of this process for d, when -profile-dir is set.
// The returned function waits for them.
func (r *runner) startProfiles(d time.Duration) (wait func()) {
	if r.cfg.ProfileDir == "" {
		return func() {}
	}
	_ = os.MkdirAll(r.cfg.ProfileDir, 0o755)
	var wg sync.WaitGroup
	secs := max(1, int(d/time.Second))
	inProc := r.env != nil && !r.cfg.Spawn
	for i, base := range r.admins {
		if inProc && i > 0 {
			break // one process: one profile
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("gw-%d", i+1)
			if inProc {
				name = "process"
			}
			r.fetchProfile(base+"/debug/pprof/profile?seconds="+strconv.Itoa(secs), filepath.Join(r.cfg.ProfileDir, name+".cpu.pprof"), d+30*time.Second)
		}()
	}
	var f *os.File
	if !inProc {
		var err error
		if f, err = os.Create(filepath.Join(r.cfg.ProfileDir, "imbench.cpu.pprof")); err == nil {
			if pprof.StartCPUProfile(f) != nil {
				f.Close()
				f = nil
			}
		}
	}
	return func() {
		if f != nil {
			pprof.StopCPUProfile()
			f.Close()
		}
		wg.Wait()
		for i, base := range r.admins {
			if inProc && i > 0 {
				break
			}
			r.fetchProfile(base+"/debug/pprof/heap", filepath.Join(r.cfg.ProfileDir, fmt.Sprintf("gw-%d.heap.pprof", i+1)), 30*time.Second)
		}
		r.logf("profiles written to %s (go tool pprof -top <file>)", r.cfg.ProfileDir)
	}
}

func (r *runner) fetchProfile(url, path string, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		r.logf("profile %s: %v", url, err)
		return
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		r.logf("profile %s: %s (the gateway does not serve pprof)", url, res.Status)
		return
	}
	f, err := os.Create(path)
	if err != nil {
		return
	}
	_, _ = io.Copy(f, res.Body)
	f.Close()
}

// handle is every connection's frame handler (reader goroutines).
func (r *runner) handle(c *Conn, f *frame, raw []byte) {
	switch f.kind {
	case kindAck:
		r.onAck(c, f)
	case kindMessage:
		r.onMessage(c, f)
	case kindError:
		r.onError(c, f, raw)
	case kindSynced:
		r.onSynced(c, f)
	case kindReconnect:
		r.noteErr("gateway asked to reconnect: %.200s", raw)
	case kindEvent:
		if r.cfg.Scenario == ScenarioReceipts && len(r.pubs) > 0 && c == r.pubs[0] {
			r.rc.onEvent(raw, int64(len(r.conns)-1))
		}
	}
}

func (r *runner) step(i int) *stepStats {
	if i >= 0 && i < len(r.steps) {
		return r.steps[i]
	}
	return nil
}

func (r *runner) onAck(c *Conn, f *frame) {
	now := time.Now().UnixNano()
	c.mu.Lock()
	ps := c.pending[string(f.cmid)]
	late := r.booksClosed.Load()
	if ps != nil {
		delete(c.pending, string(f.cmid))
		if !late {
			c.own.set(f.seq)
		}
		c.win.answered(true, time.Time{}, 0)
	}
	c.mu.Unlock()
	if ps == nil {
		r.unexpected.add(c.idx, 1)
		r.noteErr("ack for an unknown client_msg_id %q", f.cmid)
		return
	}
	if late {
		r.lateAcks.Add(1) // after the books closed: stored, not counted
		return
	}
	r.recordAnswer(c, ps, now)
	if r.windowed(c) {
		r.pump(c)
	}
	h := fnv64(f.cmid, f.body, f.from)
	rm := c.room
	if string(f.room) != rm.ID || h != ps.hash || f.seq <= 0 {
		r.mismatch.add(c.idx, 1)
		r.noteErr("ack does not match the message sent: room %s seq %d cmid %s", f.room, f.seq, f.cmid)
		return
	}
	rm.mu.Lock()
	twice := rm.acked.set(f.seq)
	if !twice {
		rm.nAck++
	}
	rm.mu.Unlock()
	if twice || !rm.table.check(f.seq, h) {
		r.mismatch.add(c.idx, 1)
		r.noteErr("seq %d of room %s acked for two different messages", f.seq, rm.ID)
	}
	r.acked.add(c.idx, 1)
	if r.cfg.Scenario == ScenarioReceipts {
		r.rc.onAck(f.seq, ps.at)
	}
	if s := r.step(ps.step); s != nil {
		s.acked.add(c.idx, 1)
		s.ackLat.Record(c.idx, time.Duration(now-ps.at))
	}
}

func (r *runner) onMessage(c *Conn, f *frame) {
	now := time.Now().UnixNano()
	rm := c.room
	if rm == nil || string(f.room) != rm.ID {
		if rm = r.byID[string(f.room)]; rm == nil {
			return // not a room of this run
		}
	}
	h := fnv64(f.cmid, f.body, f.from)
	cmid, step, at, ok := parseBody(f.body)
	sender, ok2 := cmidConn(f.cmid, r.run)
	if !ok || !ok2 || !bytes.Equal(cmid, f.cmid) || sender >= len(r.users) || r.users[sender].ID != string(f.from) {
		r.mismatch.add(c.idx, 1)
		r.noteErr("delivered message is not what was sent: room %s seq %d cmid %s from %s", rm.ID, f.seq, f.cmid, f.from)
		return
	}
	if !rm.table.check(f.seq, h) {
		r.mismatch.add(c.idx, 1)
		r.noteErr("delivered message differs from its ack: room %s seq %d", rm.ID, f.seq)
	}
	c.mu.Lock()
	if c.syncing {
		if !c.seen.set(f.seq) && !c.own.has(f.seq) {
			r.recovered.add(c.idx, 1)
		}
		if f.seq > c.maxSeen {
			c.maxSeen = f.seq
		}
		c.mu.Unlock()
		return
	}
	was := c.seen.set(f.seq)
	late := !was && f.seq < c.maxSeen
	if f.seq > c.maxSeen {
		c.maxSeen = f.seq
	}
	c.mu.Unlock()
	if was {
		r.dups.add(c.idx, 1)
		r.noteErr("duplicate delivery of room %s seq %d", rm.ID, f.seq)
		return
	}
	if late {
		r.ooo.add(c.idx, 1)
		r.noteErr("out-of-order delivery of room %s seq %d", rm.ID, f.seq)
	}
	r.delivered.add(c.idx, 1)
	if sender != c.idx {
		if s := r.step(step); s != nil {
			s.deliverLat.Record(c.idx, time.Duration(now-at))
		}
	}
}

func (r *runner) onError(c *Conn, f *frame, raw []byte) {
	if len(f.cmid) == 0 && r.cfg.Scenario == ScenarioReceipts && !c.syncingNow() {
		r.rc.readErr.Add(1) // a read refused (the storm's only frames without client_msg_id)
		r.noteErr("read refused: %.200s", raw)
		return
	}
	if len(f.cmid) == 0 {
		r.noteErr("error frame: %.200s", raw)
		r.retrySync(c, f)
		return
	}
	r.sendErrs.add(c.idx, 1)
	c.mu.Lock()
	ps := c.pending[string(f.cmid)]
	c.mu.Unlock()
	if ps == nil {
		r.noteErr("error for an unknown send: %.200s", raw)
		return
	}
	if s := r.step(ps.step); s != nil {
		s.errs.add(c.idx, 1)
	}
	r.recordAnswer(c, ps, time.Now().UnixNano())
	code := string(f.code)
	retry := code == protocol.CodeRateLimited || code == protocol.CodeUnavailable || code == protocol.CodeInternal
	r.noteErr("send answered with error %s: %s", code, f.errText)
	windowed := r.windowed(c)
	if !retry || ps.tries >= maxSendTries {
		c.mu.Lock()
		delete(c.pending, string(f.cmid))
		if windowed {
			// A final answer: the window stays (closed to one after a
			// refusal, as the retryable ones below close it).
			c.win.answered(!retry, time.Time{}, 0)
		}
		c.mu.Unlock()
		r.failed.add(c.idx, 1)
		if windowed {
			r.pump(c)
		}
		return
	}
	ps.tries++
	r.retries.add(c.idx, 1)
	if windowed {
		r.retryLater(c, ps, max(backoff(ps.tries), f.retry))
		return
	}
	time.AfterFunc(max(backoff(ps.tries), f.retry), func() {
		if c.alive.Load() && !r.booksClosed.Load() {
			ps.wrote.Store(time.Now().UnixNano())
			_ = c.sendText(ps.frame)
		}
	})
}

// maxSendTries is how many times a client resends a message answered
// unavailable or rate_limited before it gives up on it.
const maxSendTries = 6

// backoff is the wait before retry number try (1, 2, ...): 200 ms doubling
// up to 5 s, the upper half of it at random (jitter), as docs/protocol.md
// advises clients. Retries that grow exponentially let an overloaded
// store drain instead of being asked again at the rate it is refusing.
func backoff(try int) time.Duration {
	d := min(5*time.Second, 200*time.Millisecond<<min(try-1, 5))
	return d/2 + mrand.N(d/2+1)
}

// retrySync follows the documented recovery for a sync the server could
// not serve now (unavailable, rate_limited): ask again, backing off.
func (r *runner) retrySync(c *Conn, f *frame) {
	code := string(f.code)
	if code != protocol.CodeUnavailable && code != protocol.CodeRateLimited {
		return
	}
	c.mu.Lock()
	if !c.syncing || c.room == nil || string(f.room) != c.room.ID {
		c.mu.Unlock()
		return
	}
	c.syncTries++
	after, wait := c.syncAfter, max(backoff(c.syncTries), f.retry)
	c.mu.Unlock()
	time.AfterFunc(wait, func() {
		if c.alive.Load() {
			_ = c.sendText(syncFrame(c.room.ID, after))
		}
	})
}

func (r *runner) onSynced(c *Conn, f *frame) {
	c.mu.Lock()
	syncing, end := c.syncing, c.syncEnd
	if syncing && f.more {
		c.syncAfter = f.seq
	}
	c.mu.Unlock()
	if !syncing {
		return
	}
	if f.more {
		_ = c.sendText(syncFrame(c.room.ID, f.seq))
		return
	}
	select {
	case <-end:
	default:
		close(end)
	}
}

func syncFrame(room string, after int64) []byte {
	return fmt.Appendf(nil, `{"type":"sync","rooms":{%q:%d}}`, room, after)
}

// send sends one new message from c, intended at time at.
func (r *runner) send(c *Conn, step int, at int64) {
	c.mu.Lock()
	c.counter++
	n := c.counter
	c.mu.Unlock()
	cmid := fmt.Appendf(nil, "%s.%d.%d", r.run, c.idx, n)
	body := appendBody(make([]byte, 0, r.cfg.BodySize+8), cmid, step, at, r.cfg.BodySize)
	var fr []byte // the raw client's frame (the SDK builds its own)
	if c.sdk == nil {
		fr = make([]byte, 0, len(body)+len(cmid)+len(c.room.ID)+128)
		if r.cfg.Kind == KindImage && len(c.files) > 0 {
			fr = appendSendImage(fr, c.room.idb, body, cmid, []byte(c.files[0]))
			c.files = c.files[1:]
		} else {
			fr = appendSend(fr, c.room.idb, body, cmid)
		}
	}
	ps := &pendingSend{frame: fr, at: at, step: step, hash: fnv64(cmid, body, []byte(c.user.ID))}
	c.mu.Lock()
	c.pending[string(cmid)] = ps
	c.mu.Unlock()
	r.sent.add(c.idx, 1)
	if s := r.step(step); s != nil {
		s.sent.add(c.idx, 1)
	}
	if c.sdk != nil {
		go r.sendSDK(c, ps, cmid, body)
		return
	}
	if r.windowed(c) {
		r.submit(c, ps)
		return
	}
	ps.wrote.Store(time.Now().UnixNano())
	if err := c.sendText(fr); err != nil && !c.closed.Load() {
		r.noteErr("write: %v", err)
	}
}

// pending counts sends still waiting for an answer.
func (r *runner) pendingCount() int {
	n := 0
	for _, c := range r.conns {
		c.mu.Lock()
		n += len(c.pending)
		c.mu.Unlock()
	}
	return n
}

// missingCount is the number of required deliveries not seen yet.
func (r *runner) missingCount() (miss, required int64) {
	for _, rm := range r.rooms {
		rm.mu.Lock()
		acked := append(bitset(nil), rm.acked...)
		n := rm.nAck
		rm.mu.Unlock()
		for _, c := range rm.members {
			c.mu.Lock()
			miss += missing(acked, c.seen, c.own)
			required += n - int64(countAnd(acked, c.own))
			c.mu.Unlock()
		}
	}
	return miss, required
}

func countAnd(a, b bitset) int {
	n := 0
	for i := range min(len(a), len(b)) {
		x := a[i] & b[i]
		for x != 0 {
			x &= x - 1
			n++
		}
	}
	return n
}

// recoverBySync asks each connection still missing messages for them
// with sync (reconnecting first if it dropped).
func (r *runner) recoverBySync(ctx context.Context) {
	if r.cfg.Client == ClientSDK {
		r.recoverSDK(ctx)
		return
	}
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for _, rm := range r.rooms {
		rm.mu.Lock()
		acked := append(bitset(nil), rm.acked...)
		rm.mu.Unlock()
		for _, c := range rm.members {
			c.mu.Lock()
			first := firstMissing(acked, c.seen, c.own)
			c.mu.Unlock()
			if first < 0 {
				continue
			}
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				if !c.alive.Load() {
					if c.done != nil {
						<-c.done
					}
					c.closed.Store(false)
					if err := r.d.dial(ctx, c, r.cfg.Gateways[c.gw], c.user.Token); err != nil {
						r.noteErr("reconnect for sync: %v", err)
						return
					}
				}
				end := make(chan struct{})
				c.mu.Lock()
				c.syncing, c.syncEnd, c.syncAfter, c.syncTries = true, end, first-1, 0
				c.mu.Unlock()
				_ = c.sendText(syncFrame(rm.ID, first-1))
				select {
				case <-end:
				case <-time.After(30 * time.Second):
					r.noteErr("sync of room %s did not finish in 30s", rm.ID)
				case <-ctx.Done():
				}
				c.mu.Lock()
				c.syncing = false
				c.mu.Unlock()
			}()
		}
	}
	wg.Wait()
}

// finish fills the verdict.
func (r *runner) finish() {
	res := r.res
	res.Sent, res.Acked, res.Delivered = r.sent.load(), r.acked.load(), r.delivered.load()
	res.SendErrors, res.Retries, res.Failed = r.sendErrs.load(), r.retries.load()+r.sdkRetries(), r.failed.load()
	res.Duplicated, res.OutOfOrder, res.Mismatched = r.dups.load(), r.ooo.load(), r.mismatch.load()
	res.Recovered = r.recovered.load()
	if r.cfg.Scenario != ScenarioIdle && r.cfg.Scenario != ScenarioHistory && r.cfg.Scenario != ScenarioPresence {
		if !r.booksClosed.Load() {
			res.Unanswered = int64(r.pendingCount())
			res.HeldByClient = int64(r.heldCount())
		}
		res.LateAcks = r.lateAcks.Load()
		res.AnswerLatency = r.answerLat.Snapshot().Percentiles()
		res.Lost, res.Required = r.missingCount()
	}
	res.LoadAvg = ThisMachine().LoadAvg
	res.Bus = r.busCounters(context.Background())
	tool := Proc{PID: os.Getpid()}.Read(context.Background())
	res.ToolRSS = tool.RSS
	r.errMu.Lock()
	for _, e := range r.errs {
		if n := r.errCount[e]; n > 1 {
			e = fmt.Sprintf("%s (x%d)", e, n)
		}
		res.Errors = append(res.Errors, e)
	}
	r.errMu.Unlock()
	res.OK = res.Lost == 0 && res.Duplicated == 0 && res.OutOfOrder == 0 && res.Mismatched == 0 &&
		res.ConnectFailures == 0
	if r.cfg.Scenario == ScenarioIdle && res.Disconnects > 0 {
		res.OK = false
	}
	if r.cfg.Scenario == ScenarioHistory {
		res.OK = res.PageErrors == 0 && res.Pages > 0
	}
	if r.cfg.Scenario == ScenarioReceipts {
		r.receiptsResult()
		rc := res.Receipts
		res.OK = res.OK && rc.OverCounted == 0 && rc.FullyRead == rc.Messages && rc.Events > 0 &&
			(rc.Events < 2 || rc.MinGapMS >= 900)
	}
	if p := res.Presence; r.cfg.Scenario == ScenarioPresence {
		res.OK = res.ConnectFailures == 0 && p != nil && p.Churn.CycleErrors == 0 && p.Churn.Cycles > 0
	}
	r.outMu.Lock()
	res.PrintText(r.out)
	r.outMu.Unlock()
}

func (r *runner) teardown() {
	closeRedisNodes(r.redisNodes)
	var wg sync.WaitGroup
	for _, c := range r.conns {
		if c != nil {
			c.close()
		}
	}
	for _, c := range r.conns {
		if c != nil && c.done != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case <-c.done:
				case <-time.After(5 * time.Second):
				}
			}()
		}
	}
	wg.Wait()
	if r.seeder != nil {
		if r.env == nil && r.sa == nil && r.cfg.Cleanup {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			if err := r.seeder.Cleanup(ctx); err != nil {
				r.logf("cleanup: %v", err)
			}
			cancel()
		}
		r.seeder.Close()
	}
	if r.env != nil {
		r.env.Close()
	}
	if r.sa != nil {
		r.sa.close()
	}
	runtime.GC()
}

package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/config"
)

// Redis health check timing: a probe every redisProbeEvery (every
// redisProbeDown while down, so the node is back within a quarter second
// of Redis), each bounded by redisProbeTimeout; redisDownAfter failed
// probes in a row mark Redis down, one answered probe marks it up again.
const (
	redisProbeEvery   = time.Second
	redisProbeDown    = 250 * time.Millisecond
	redisProbeTimeout = time.Second
	redisDownAfter    = 2
)

// ErrRedisDown is the error of a command the node did not send because its
// Redis health check fails (the caller answers `unavailable` at once
// instead of waiting for timeouts on a server that does not answer). It
// reports Outage() true: the outage was logged once, so the gateway does
// not log every send it fails.
var ErrRedisDown error = outageError("redis health check failing: command not sent")

type outageError string

func (e outageError) Error() string { return string(e) }

// Outage marks the error as the effect of a known, already logged outage.
func (outageError) Outage() bool { return true }

// RedisHealth probes Redis (the primary the sentinels name, the cluster's
// primaries, or the one server) on its own connection, logs each change of
// state once, exports it as the im_gateway_redis_up gauge, and, while Redis
// is down, fails the node's commands at once (Gate) so sends and readiness
// answer in milliseconds rather than after the client's timeout.
type RedisHealth struct {
	cfg      config.Config
	topology string
	target   func(ctx context.Context) string // what the probe reaches, for the log

	down  atomic.Bool
	up    prometheus.Gauge
	downs prometheus.Counter

	mu    sync.Mutex
	probe redis.UniversalClient // one connection; nil once closed
	fails int
	since time.Time // when the current state began
}

// NewRedisHealth builds the health check for cfg's Redis (it dials nothing
// yet); Close releases its connection.
func NewRedisHealth(cfg config.Config) (*RedisHealth, error) {
	probe, err := newRedisClient(cfg, redisProbeTimeout, 1)
	if err != nil {
		return nil, err
	}
	h := &RedisHealth{cfg: cfg, probe: probe, topology: string(cfg.RedisTopology), since: time.Now(),
		up: prometheus.NewGauge(prometheus.GaugeOpts{Name: "im_gateway_redis_up",
			Help: "1 while the node's Redis health check (PING every second) is answered, 0 after two failures in a row; while 0 every Redis command fails at once (sends answer unavailable)."}),
		downs: prometheus.NewCounter(prometheus.CounterOpts{Name: "im_gateway_redis_outages_total",
			Help: "Times the node's Redis health check went from answered to failing."}),
	}
	h.up.Set(1)
	h.target = redisTarget(cfg)
	return h, nil
}

// redisTarget describes what the node talks to, without credentials: the
// master name and the address the sentinels name now, the cluster's seed
// nodes, or the server's host:port.
func redisTarget(cfg config.Config) func(ctx context.Context) string {
	switch cfg.RedisTopology {
	case config.RedisSentinel:
		return func(ctx context.Context) string {
			return fmt.Sprintf("master %q at %s (sentinels %s)", cfg.RedisSentinelMaster,
				sentinelMasterAddr(ctx, cfg), strings.Join(cfg.RedisSentinelAddrs, ","))
		}
	case config.RedisCluster:
		return func(context.Context) string { return "cluster " + strings.Join(cfg.RedisClusterAddrs, ",") }
	default:
		addr := "?"
		if opt, err := redis.ParseURL(cfg.RedisURL); err == nil {
			addr = opt.Addr
		}
		return func(context.Context) string { return addr }
	}
}

// sentinelMasterAddr asks the sentinels, in turn, for the address of the
// master; "unknown (...)" when none answers.
func sentinelMasterAddr(ctx context.Context, cfg config.Config) string {
	var errs []string
	for _, a := range cfg.RedisSentinelAddrs {
		sc := redis.NewSentinelClient(&redis.Options{Addr: a, Password: cfg.RedisSentinelPassword,
			MaxRetries: -1, DialTimeout: redisProbeTimeout, ReadTimeout: redisProbeTimeout, WriteTimeout: redisProbeTimeout})
		v, err := sc.GetMasterAddrByName(ctx, cfg.RedisSentinelMaster).Result()
		_ = sc.Close()
		if err == nil && len(v) == 2 {
			return v[0] + ":" + v[1]
		}
		if err == nil {
			err = fmt.Errorf("answer %v", v)
		}
		errs = append(errs, a+": "+err.Error())
	}
	return "unknown (" + strings.Join(errs, "; ") + ")"
}

// Collectors are the health check's metrics, for a registry.
func (h *RedisHealth) Collectors() []prometheus.Collector {
	return []prometheus.Collector{h.up, h.downs}
}

// Down reports whether the health check fails now.
func (h *RedisHealth) Down() bool { return h.down.Load() }

// Run probes until ctx ends.
func (h *RedisHealth) Run(ctx context.Context, log *zap.Logger) {
	t := time.NewTimer(redisProbeEvery)
	defer t.Stop()
	for {
		h.Check(ctx, log)
		every := redisProbeEvery
		if h.Down() {
			every = redisProbeDown
		}
		t.Reset(every)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check probes once and logs a change of state (one line per change).
func (h *RedisHealth) Check(ctx context.Context, log *zap.Logger) {
	pctx, cancel := context.WithTimeout(ctx, redisProbeTimeout)
	err := h.ping(pctx)
	cancel()
	if ctx.Err() != nil || errors.Is(err, errHealthClosed) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.fails = 0
		if h.down.Load() {
			h.down.Store(false)
			h.up.Set(1)
			log.Warn("redis reachable again: commands flow, sends are acked again",
				zap.String("topology", h.topology), zap.String("redis", h.target(ctx)),
				zap.String("outage", time.Since(h.since).Round(time.Millisecond).String()))
			h.since = time.Now()
		}
		return
	}
	h.fails++
	if h.fails == redisDownAfter && !h.down.Load() {
		h.down.Store(true)
		h.up.Set(0)
		h.downs.Inc()
		h.since = time.Now()
		log.Error("redis unreachable: sends answer unavailable and /readyz fails until it answers again",
			zap.String("topology", h.topology), zap.String("redis", h.target(ctx)),
			zap.Int("failed_probes", h.fails), zap.Error(err))
	}
}

// ping probes on the health check's client. After a failure it probes on
// a new client instead (kept if it is answered): a go-redis pool whose
// dials failed goes on refusing for up to a second after the server is
// back, which would delay the recovery.
func (h *RedisHealth) ping(ctx context.Context) error {
	h.mu.Lock()
	c, fresh := h.probe, h.fails > 0
	h.mu.Unlock()
	if c == nil {
		return errHealthClosed
	}
	if !fresh {
		return pingRedis(ctx, c)
	}
	c, err := newRedisClient(h.cfg, redisProbeTimeout, 1)
	if err != nil {
		return err
	}
	if err := pingRedis(ctx, c); err != nil {
		_ = c.Close()
		return err
	}
	h.mu.Lock()
	old := h.probe
	if old != nil {
		h.probe = c
	}
	h.mu.Unlock()
	if old == nil { // closed meanwhile
		_ = c.Close()
		return errHealthClosed
	}
	_ = old.Close()
	return nil
}

// pingRedis reaches the one server (the sentinels' current primary), or
// on a cluster the primaries: the node is cut off only when none answers
// (one failing primary costs the rooms of its slots until its replica is
// promoted, not the whole node's sends).
func pingRedis(ctx context.Context, c redis.UniversalClient) error {
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		return c.Ping(ctx).Err()
	}
	var answered atomic.Int32
	var mu sync.Mutex
	var errs []error
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		if err := c.Ping(ctx).Err(); err != nil {
			mu.Lock()
			errs = append(errs, fmt.Errorf("%s: %w", c.Options().Addr, err))
			mu.Unlock()
			return nil
		}
		answered.Add(1)
		return nil
	})
	if err != nil || answered.Load() > 0 {
		return err
	}
	return fmt.Errorf("no cluster primary answers: %w", errors.Join(errs...))
}

// Gate is a go-redis hook failing every command with ErrRedisDown while the
// health check fails; add it to the node's command client.
func (h *RedisHealth) Gate() redis.Hook { return redisGate{h} }

// errHealthClosed is the probe's error after Close.
var errHealthClosed = errors.New("redis health check closed")

// Close releases the probe's connection.
func (h *RedisHealth) Close() error {
	h.mu.Lock()
	c := h.probe
	h.probe = nil
	h.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.Close()
}

type redisGate struct{ h *RedisHealth }

func (g redisGate) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g redisGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if g.h.Down() {
			cmd.SetErr(ErrRedisDown)
			return ErrRedisDown
		}
		return next(ctx, cmd)
	}
}

func (g redisGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if g.h.Down() {
			for _, c := range cmds {
				c.SetErr(ErrRedisDown)
			}
			return ErrRedisDown
		}
		return next(ctx, cmds)
	}
}

// WatchRedis registers b's Redis health metrics on reg and probes Redis
// until ctx ends; nothing without Redis.
func WatchRedis(ctx context.Context, b Backends, log *zap.Logger, reg prometheus.Registerer) error {
	if b.RedisHealth == nil {
		return nil
	}
	for _, c := range b.RedisHealth.Collectors() {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("redis health metrics: %w", err)
		}
	}
	go b.RedisHealth.Run(ctx, log)
	return nil
}

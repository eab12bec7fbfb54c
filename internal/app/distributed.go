package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
	"github.com/im-websocket-go/im-websocket-go/pkg/bus/redisbus"
	"github.com/im-websocket-go/im-websocket-go/pkg/kv/rediskv"
	"github.com/im-websocket-go/im-websocket-go/pkg/presence/redispresence"
	"github.com/im-websocket-go/im-websocket-go/pkg/stats/redisstats"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// NopHandler ignores the bus (a node that only publishes, like the API).
type NopHandler struct{}

// HandleMessage does nothing.
func (NopHandler) HandleMessage(string, []byte) {}

// HandleResubscribed does nothing.
func (NopHandler) HandleResubscribed() {}

// Distributed connects to the store (MongoDB unless IM_STORE says
// otherwise; an unavailable one is waited for, StoreStartWait) and Redis.
// h receives what the node subscribes to; log (nil: none) gets the store's
// failures at start and the bus's connection errors.
func Distributed(ctx context.Context, cfg config.Config, h bus.Handler, log *zap.Logger) (Backends, error) {
	st, err := openStoreWaiting(ctx, cfg, "mongo", StoreStartWait, log)
	if err != nil {
		return Backends{}, err
	}
	b, err := RedisBackends(ctx, cfg, st, h, log)
	if err != nil {
		_ = st.Close(ctx)
		return Backends{}, err
	}
	if cfg.PresencePrefix != "" {
		b.Presence = redispresence.New(b.redis, redispresence.Options{Prefix: cfg.PresencePrefix})
		// Tests that share one Redis keep their stats apart the same way.
		b.Stats = redisstats.New(b.redis, redisstats.Options{Prefix: cfg.PresencePrefix + "-st"})
	}
	ping, closeRedis := b.Ping, b.Close
	b.Ping = func(ctx context.Context) error { return errors.Join(st.Ping(ctx), ping(ctx)) }
	b.Close = func() {
		closeRedis()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = st.Close(ctx)
	}
	return b, nil
}

// RedisBackends connects to Redis (the topology cfg selects: single,
// sentinel or cluster) for the KV and the bus, around st, which the caller
// closes. With cfg.RedisAutoPipeline the commands of concurrent
// requests (seq counters, publishes, revocation reads) share pipelines
// (go-redis automatic pipelining, blocking face: every call still waits
// for its own answer). Pub/Sub has its own client: its connection blocks
// on receive. log (nil: none) gets the bus's connection errors (a shard
// dropped, a slot moved, a receive failed), at most one line a second.
func RedisBackends(ctx context.Context, cfg config.Config, st store.Store, h bus.Handler, log *zap.Logger) (Backends, error) {
	rc, err := NewRedisClient(cfg)
	if err != nil {
		return Backends{}, err
	}
	if err := rc.Ping(ctx).Err(); err != nil {
		_ = rc.Close()
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return Backends{}, fmt.Errorf("redis (%s) %s: %w", cfg.RedisTopology, redisTarget(cfg)(tctx), err)
	}
	health, err := NewRedisHealth(cfg)
	if err != nil {
		_ = rc.Close()
		return Backends{}, err
	}
	rc.AddHook(health.Gate())
	var cmds redis.Cmdable = rc
	closeCmds := func() {}
	if cfg.RedisAutoPipeline {
		ap, err := rc.AutoPipeline()
		if err != nil {
			_ = health.Close()
			_ = rc.Close()
			return Backends{}, fmt.Errorf("redis: auto-pipelining: %w", err)
		}
		cmds, closeCmds = ap, func() { _ = ap.Close() }
	}
	psc, err := NewRedisClient(cfg)
	if err != nil {
		closeCmds()
		_ = health.Close()
		_ = rc.Close()
		return Backends{}, err
	}
	b, err := redisbus.New(psc, h, redisbus.Options{Publisher: cmds, OnError: busErrorLog(log)})
	if err != nil {
		closeCmds()
		_ = health.Close()
		_ = rc.Close()
		_ = psc.Close()
		return Backends{}, fmt.Errorf("redis bus: %w", err)
	}
	kvs := rediskv.New(cmds)
	return Backends{
		Store: st, KV: kvs, Bus: b, UserLayout: cfg.BusUserLayout,
		// Presence pipelines its batches itself: the plain client.
		Presence:    redispresence.New(rc, redispresence.Options{}),
		Stats:       redisstats.New(rc, redisstats.Options{}),
		redis:       rc,
		RedisHealth: health,
		Ping:        kvs.Ping,
		Close: func() {
			_ = b.Close()
			_ = psc.Close()
			closeCmds()
			_ = rc.Close()
			_ = health.Close()
		},
	}, nil
}

// busErrorLog returns the bus's OnError: its errors logged at warn, at
// most one line a second (a cluster node has a Pub/Sub connection per
// slot bucket in use, and an outage makes each of them report), the next
// line counting those dropped meanwhile. nil log: nil (no logging).
func busErrorLog(log *zap.Logger) func(error) {
	if log == nil {
		return nil
	}
	var (
		mu      sync.Mutex
		last    time.Time
		dropped int
	)
	return func(err error) {
		mu.Lock()
		now := time.Now()
		if now.Sub(last) < time.Second {
			dropped++
			mu.Unlock()
			return
		}
		n := dropped
		last, dropped = now, 0
		mu.Unlock()
		log.Warn("bus connection error", zap.Error(err), zap.Int("dropped_since_last_line", n))
	}
}

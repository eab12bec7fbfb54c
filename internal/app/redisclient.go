package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/im-websocket-go/im-websocket-go/internal/config"
)

// redisTimeout bounds dialing, reading and writing one Redis command.
const redisTimeout = 2 * time.Second

// NewRedisClient returns a go-redis client for the topology cfg selects:
// a plain client for IM_REDIS_URL, a failover client following the
// sentinels' primary, or a cluster client routing every key by its slot.
// IM_REDIS_URL's user, password, database and TLS apply to the data nodes
// of all three. Errors never quote the URL (it may hold a password).
func NewRedisClient(cfg config.Config) (redis.UniversalClient, error) {
	return newRedisClient(cfg, redisTimeout, 0)
}

// newRedisClient is NewRedisClient with the dial, read and write timeout
// and the pool size per node (0: go-redis' default) given; a client with a
// pool of one (the health check's probe) tries each command once.
func newRedisClient(cfg config.Config, timeout time.Duration, pool int) (redis.UniversalClient, error) {
	retries := 0 // go-redis' default
	if pool == 1 {
		retries = -1
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("IM_REDIS_URL: not a redis:// or rediss:// URL")
	}
	switch cfg.RedisTopology {
	case config.RedisSentinel:
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:       cfg.RedisSentinelMaster,
			SentinelAddrs:    cfg.RedisSentinelAddrs,
			SentinelPassword: cfg.RedisSentinelPassword,
			Username:         opt.Username,
			Password:         opt.Password,
			DB:               opt.DB,
			TLSConfig:        opt.TLSConfig,
			DialTimeout:      timeout,
			ReadTimeout:      timeout,
			WriteTimeout:     timeout,
			PoolSize:         pool,
			MaxRetries:       retries,
		}), nil
	case config.RedisCluster:
		if opt.DB != 0 {
			return nil, fmt.Errorf("IM_REDIS_URL: a Redis Cluster has only database 0, not %d", opt.DB)
		}
		cc := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:        cfg.RedisClusterAddrs,
			Username:     opt.Username,
			Password:     opt.Password,
			TLSConfig:    opt.TLSConfig,
			DialTimeout:  timeout,
			ReadTimeout:  timeout,
			WriteTimeout: timeout,
			PoolSize:     pool,
			MaxRetries:   retries,
		})
		cc.AddHook(slotRefresh{cc})
		return cc, nil
	default:
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = timeout, timeout, timeout
		if pool > 0 {
			opt.PoolSize, opt.MaxRetries = pool, retries
		}
		return redis.NewClient(opt), nil
	}
}

// slotRefresh asks go-redis to reload its slot map (lazily: one reload at
// a time, at most one every 200 ms) after a command or pipeline failed on
// the network. go-redis v9.23 does so itself for single commands but not
// for pipelines: after a primary was killed and its replica promoted, a
// pipeline kept dialing the dead node for about a minute (until the
// periodic reload), failing every send whose mute check reads through one.
type slotRefresh struct{ c *redis.ClusterClient }

func (h slotRefresh) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h slotRefresh) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.check(ctx, err)
		return err
	}
}

func (h slotRefresh) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.check(ctx, err)
		return err
	}
}

// check reloads the slot map after an error that is not Redis's answer
// (a refused dial, a timeout, a broken connection).
func (h slotRefresh) check(ctx context.Context, err error) {
	var re redis.Error
	if err == nil || errors.Is(err, redis.Nil) || errors.As(err, &re) {
		return
	}
	h.c.ReloadState(ctx)
}

package app

import (
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
			DialTimeout:      redisTimeout,
			ReadTimeout:      redisTimeout,
			WriteTimeout:     redisTimeout,
		}), nil
	case config.RedisCluster:
		if opt.DB != 0 {
			return nil, fmt.Errorf("IM_REDIS_URL: a Redis Cluster has only database 0, not %d", opt.DB)
		}
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:        cfg.RedisClusterAddrs,
			Username:     opt.Username,
			Password:     opt.Password,
			TLSConfig:    opt.TLSConfig,
			DialTimeout:  redisTimeout,
			ReadTimeout:  redisTimeout,
			WriteTimeout: redisTimeout,
		}), nil
	default:
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = redisTimeout, redisTimeout, redisTimeout
		return redis.NewClient(opt), nil
	}
}

package config

import (
	"fmt"
	"strings"
)

// Redis topologies (Config.RedisTopology).
const (
	RedisSingle   = "single"
	RedisSentinel = "sentinel"
	RedisCluster  = "cluster"
)

// redisRaw holds the Redis settings as read, before finishRedis.
type redisRaw struct {
	sentinelAddrs, clusterAddrs string
}

// redisBindings are the settings choosing the Redis topology besides
// IM_REDIS_URL. IM_REDIS_SENTINEL_PASSWORD is not one: a flag would print
// it in -h (see finishRedis).
func redisBindings(c *Config, raw *redisRaw) []binding {
	return []binding{
		{"IM_REDIS_SENTINEL_ADDRS", "redis-sentinel-addrs", "comma-separated host:port of Redis Sentinels; set: Redis is the primary they name IM_REDIS_SENTINEL_MASTER (IM_REDIS_URL gives only user, password, database and rediss:// TLS)", &raw.sentinelAddrs, nil, nil, ""},
		{"IM_REDIS_SENTINEL_MASTER", "redis-sentinel-master", "the master name the sentinels monitor (with IM_REDIS_SENTINEL_ADDRS)", &c.RedisSentinelMaster, nil, nil, ""},
		{"IM_REDIS_CLUSTER_ADDRS", "redis-cluster-addrs", "comma-separated host:port of some Redis Cluster nodes; set: Redis is that cluster (IM_REDIS_URL gives only user, password and rediss:// TLS; database 0)", &raw.clusterAddrs, nil, nil, ""},
	}
}

// finishRedis sets RedisTopology from what is set and checks it.
func finishRedis(c *Config, getenv func(string) string, raw redisRaw) error {
	c.RedisSentinelAddrs = splitList(raw.sentinelAddrs)
	c.RedisClusterAddrs = splitList(raw.clusterAddrs)
	c.RedisSentinelPassword = getenv("IM_REDIS_SENTINEL_PASSWORD")
	switch {
	case len(c.RedisSentinelAddrs) > 0 && len(c.RedisClusterAddrs) > 0:
		return fmt.Errorf("config: IM_REDIS_SENTINEL_ADDRS and IM_REDIS_CLUSTER_ADDRS are both set: choose one Redis topology")
	case len(c.RedisClusterAddrs) > 0:
		if c.RedisSentinelMaster != "" {
			return fmt.Errorf("config: IM_REDIS_SENTINEL_MASTER is set with IM_REDIS_CLUSTER_ADDRS: a cluster has no sentinel master")
		}
		c.RedisTopology = RedisCluster
	case len(c.RedisSentinelAddrs) > 0:
		if c.RedisSentinelMaster == "" {
			return fmt.Errorf("config: IM_REDIS_SENTINEL_ADDRS needs IM_REDIS_SENTINEL_MASTER, the master name the sentinels monitor")
		}
		c.RedisTopology = RedisSentinel
	case c.RedisSentinelMaster != "":
		return fmt.Errorf("config: IM_REDIS_SENTINEL_MASTER needs IM_REDIS_SENTINEL_ADDRS")
	default:
		c.RedisTopology = RedisSingle
	}
	for _, a := range append(append([]string(nil), c.RedisSentinelAddrs...), c.RedisClusterAddrs...) {
		if i := strings.LastIndexByte(a, ':'); i <= 0 || i == len(a)-1 {
			return fmt.Errorf("config: Redis address %q is not host:port", a)
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

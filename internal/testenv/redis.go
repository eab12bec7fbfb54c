package testenv

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/im-websocket-go/im-websocket-go/internal/redisproc"
)

var (
	redisOnce sync.Once
	redisURL  string
	redisErr  error
)

// RedisURL returns the URL of the shared test Redis (IM_TEST_REDIS_URL, or
// a redis-server this process started).
func RedisURL(tb testing.TB) string {
	tb.Helper()
	redisOnce.Do(func() {
		if u := os.Getenv("IM_TEST_REDIS_URL"); u != "" {
			redisURL = u
			logf("using Redis at IM_TEST_REDIS_URL")
			return
		}
		var s *RedisServer
		s, redisErr = startRedis()
		if redisErr != nil {
			return
		}
		redisURL = s.URL()
		atExit(s.Stop)
	})
	if redisErr != nil {
		tb.Fatalf("testenv: redis: %v", redisErr)
	}
	return redisURL
}

// RedisServer is a redis-server process owned by one test, for tests that
// kill or restart Redis (Kill, Restart).
type RedisServer = redisproc.Server

// NewRedisServer starts a private redis-server, stopped at the test's end.
func NewRedisServer(tb testing.TB) *RedisServer {
	tb.Helper()
	s, err := startRedis()
	if err != nil {
		tb.Fatalf("testenv: redis: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

func startRedis() (*RedisServer, error) {
	s, err := redisproc.Start(redisproc.Options{Install: true, Logf: logf})
	if err == nil {
		logf("started redis-server on 127.0.0.1:%d", s.Port)
	}
	return s, err
}

func redisPing(addr string) error { return redisproc.Ping(addr) }

var (
	clusterOnce  sync.Once
	clusterAddrs []string
	clusterErr   error

	sentinelOnce  sync.Once
	sentinelAddrs []string
	sentinelErr   error
)

// RedisCluster is the shared test Redis Cluster, shared by the tests of the
// process: IM_TEST_REDIS_CLUSTER_ADDRS (comma-separated host:port) if set,
// else 3 primaries and 3 replicas started here. It returns the nodes'
// addresses, for a go-redis ClusterClient.
func RedisCluster(tb testing.TB) []string {
	tb.Helper()
	clusterOnce.Do(func() {
		if v := os.Getenv("IM_TEST_REDIS_CLUSTER_ADDRS"); v != "" {
			clusterAddrs = strings.Split(v, ",")
			logf("using the Redis Cluster at IM_TEST_REDIS_CLUSTER_ADDRS")
			return
		}
		var c *RedisClusterSetup
		if c, clusterErr = startCluster(); clusterErr == nil {
			clusterAddrs = c.Addrs()
			atExit(c.Stop)
		}
	})
	if clusterErr != nil {
		tb.Fatalf("testenv: redis cluster: %v", clusterErr)
	}
	return clusterAddrs
}

// RedisSentinel is the shared test Sentinel setup: the master name and the
// sentinels' addresses, for a go-redis FailoverClient. From
// IM_TEST_REDIS_SENTINEL_ADDRS (comma-separated host:port, master
// redisproc.SentinelMaster) if set, else a primary, a replica and three
// sentinels (quorum 2) started here.
func RedisSentinel(tb testing.TB) (master string, addrs []string) {
	tb.Helper()
	sentinelOnce.Do(func() {
		if v := os.Getenv("IM_TEST_REDIS_SENTINEL_ADDRS"); v != "" {
			sentinelAddrs = strings.Split(v, ",")
			logf("using the Redis Sentinels at IM_TEST_REDIS_SENTINEL_ADDRS")
			return
		}
		var st *RedisSentinelSetup
		if st, sentinelErr = startSentinel(); sentinelErr == nil {
			sentinelAddrs = st.Addrs()
			atExit(st.Stop)
		}
	})
	if sentinelErr != nil {
		tb.Fatalf("testenv: redis sentinel: %v", sentinelErr)
	}
	return redisproc.SentinelMaster, sentinelAddrs
}

// RedisClusterSetup is a Redis Cluster owned by one test (fault tests).
type RedisClusterSetup = redisproc.Cluster

// RedisSentinelSetup is a Sentinel setup owned by one test (fault tests).
type RedisSentinelSetup = redisproc.Sentinel

// NewRedisCluster starts a private Redis Cluster, stopped at the test's end.
func NewRedisCluster(tb testing.TB) *RedisClusterSetup {
	tb.Helper()
	c, err := startCluster()
	if err != nil {
		tb.Fatalf("testenv: redis cluster: %v", err)
	}
	tb.Cleanup(c.Stop)
	return c
}

// NewRedisSentinel starts a private Sentinel setup, stopped at the test's
// end.
func NewRedisSentinel(tb testing.TB) *RedisSentinelSetup {
	tb.Helper()
	st, err := startSentinel()
	if err != nil {
		tb.Fatalf("testenv: redis sentinel: %v", err)
	}
	tb.Cleanup(st.Stop)
	return st
}

func startCluster() (*RedisClusterSetup, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := redisproc.StartCluster(ctx, redisproc.Options{Install: true, Logf: logf})
	if err == nil {
		logf("started a redis cluster on %s", strings.Join(c.Addrs(), ","))
	}
	return c, err
}

func startSentinel() (*RedisSentinelSetup, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := redisproc.StartSentinel(ctx, redisproc.Options{Install: true, Logf: logf})
	if err == nil {
		logf("started redis sentinels on %s", strings.Join(st.Addrs(), ","))
	}
	return st, err
}

// RedisClusterClient is a go-redis cluster client on the shared test
// cluster, closed at the test's end.
func RedisClusterClient(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: RedisCluster(tb)})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// RedisSentinelClient is a go-redis failover client on the shared test
// Sentinel setup, closed at the test's end.
func RedisSentinelClient(tb testing.TB) *redis.Client {
	tb.Helper()
	master, addrs := RedisSentinel(tb)
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: master, SentinelAddrs: addrs})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

package redisstats

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/im-websocket-go/im-websocket-go/internal/statstest"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/stats"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Each subtest has its own key prefix on the shared test Redis.
func TestConformance(t *testing.T) {
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	statstest.Run(t, func(t *testing.T, now func() time.Time) stats.Stats {
		return New(c, Options{Prefix: testenv.UniqueName("st"), Now: now})
	})
}

// The suite on a Redis Cluster and through a sentinel failover client.
func TestConformanceCluster(t *testing.T) {
	c := testenv.RedisClusterClient(t)
	statstest.Run(t, func(t *testing.T, now func() time.Time) stats.Stats {
		return New(c, Options{Prefix: testenv.UniqueName("st"), Now: now})
	})
}

func TestConformanceSentinel(t *testing.T) {
	c := testenv.RedisSentinelClient(t)
	statstest.Run(t, func(t *testing.T, now func() time.Time) stats.Stats {
		return New(c, Options{Prefix: testenv.UniqueName("st"), Now: now})
	})
}

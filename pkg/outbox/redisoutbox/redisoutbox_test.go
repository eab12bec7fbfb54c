package redisoutbox

import (
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/redis/go-redis/v9"

	"github.com/im-websocket-go/im-websocket-go/internal/outboxtest"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/outbox"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestConformance gives each case its own key space in the shared Redis.
func TestConformance(t *testing.T) {
	url := testenv.RedisURL(t)
	outboxtest.Run(t, func(t *testing.T, now func() time.Time) outbox.Outbox {
		opt, err := redis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(opt)
		t.Cleanup(func() { _ = c.Close() })
		return New(c, Options{Prefix: "{ob-" + strings.ToLower(ulid.Make().String()) + "}", Now: now})
	})
}

// The suite on a Redis Cluster and through a sentinel failover client.
func TestConformanceCluster(t *testing.T) {
	c := testenv.RedisClusterClient(t)
	outboxtest.Run(t, func(t *testing.T, now func() time.Time) outbox.Outbox {
		return New(c, Options{Prefix: "{ob-" + strings.ToLower(ulid.Make().String()) + "}", Now: now})
	})
}

func TestConformanceSentinel(t *testing.T) {
	c := testenv.RedisSentinelClient(t)
	outboxtest.Run(t, func(t *testing.T, now func() time.Time) outbox.Outbox {
		return New(c, Options{Prefix: "{ob-" + strings.ToLower(ulid.Make().String()) + "}", Now: now})
	})
}

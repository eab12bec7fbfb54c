package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/im-websocket-go/im-websocket-go/internal/app"
	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// After a cluster primary is killed and its replica promoted, the client
// the app builds serves pipelines for the slot again within seconds of the
// promotion (go-redis alone kept dialing the dead node for a minute).
func TestClusterClientFollowsFailoverInPipelines(t *testing.T) {
	rc := testenv.NewRedisCluster(t)
	c, err := app.NewRedisClient(config.Config{RedisURL: "redis://127.0.0.1/0",
		RedisTopology: config.RedisCluster, RedisClusterAddrs: rc.Addrs()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const key = "seq:{failover-room}"
	if err := c.Set(ctx, key, 7, 0).Err(); err != nil {
		t.Fatal(err)
	}
	victim, err := rc.Primary(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	victim.Kill()
	var promoted time.Time
	for {
		if p, err := rc.Primary(ctx, key); err == nil && p != victim {
			promoted = time.Now()
			break
		}
		if ctx.Err() != nil {
			t.Fatal("no replica promoted")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for {
		var get *redis.StringCmd
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error { get = p.Get(ctx, key); return nil })
		if err == nil || errors.Is(err, redis.Nil) {
			t.Logf("pipeline served %v after the promotion (value %q)", time.Since(promoted).Round(time.Millisecond), get.Val())
			break
		}
		if time.Since(promoted) > 10*time.Second {
			t.Fatalf("pipeline still failing 10s after the promotion: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

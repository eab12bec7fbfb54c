package rediskv

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/im-websocket-go/im-websocket-go/internal/kvtest"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/kv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestConformance(t *testing.T) {
	c := newClient(t, testenv.RedisURL(t))
	kvtest.Run(t, func(t *testing.T) kv.KV { return New(c) })
}

// The suite on a Redis Cluster (every key of a counter in one slot) and
// through a sentinel failover client.
func TestConformanceCluster(t *testing.T) {
	c := testenv.RedisClusterClient(t)
	kvtest.Run(t, func(t *testing.T) kv.KV { return New(c) })
}

func TestConformanceClusterAutoPipeline(t *testing.T) {
	ap, err := testenv.RedisClusterClient(t).AutoPipeline()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ap.Close() })
	kvtest.Run(t, func(t *testing.T) kv.KV { return New(ap) })
}

func TestConformanceSentinel(t *testing.T) {
	c := testenv.RedisSentinelClient(t)
	kvtest.Run(t, func(t *testing.T) kv.KV { return New(c) })
}

// The same suite through go-redis automatic pipelining, which the services
// use by default (IM_REDIS_AUTOPIPELINE).
func TestConformanceAutoPipeline(t *testing.T) {
	ap, err := newClient(t, testenv.RedisURL(t)).AutoPipeline()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ap.Close() })
	kvtest.Run(t, func(t *testing.T) kv.KV { return New(ap) })
}

// TestIncrScriptSetsTTLAtomically checks the ttl is there right after the
// first Incr as seen by another client (no window without ttl).
func TestIncrTTLVisibleToOthers(t *testing.T) {
	url := testenv.RedisURL(t)
	a, b := New(newClient(t, url)), newClient(t, url)
	ctx := context.Background()
	key := testenv.UniqueName("rediskv")
	if _, err := a.Incr(ctx, key, time.Minute); err != nil {
		t.Fatal(err)
	}
	ttl, err := b.PTTL(ctx, key).Result()
	if err != nil || ttl <= 0 {
		t.Fatalf("PTTL from another client = %v, %v", ttl, err)
	}
}

func TestServerDown(t *testing.T) {
	srv := testenv.NewRedisServer(t)
	c := newClient(t, srv.URL())
	s := New(c)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	err := s.Ping(ctx)
	if err == nil || !strings.HasPrefix(err.Error(), "rediskv: ping: ") {
		t.Fatalf("Ping with Redis down = %v, want a wrapped error", err)
	}
	if _, err := s.Get(ctx, "k"); err == nil || errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get with Redis down = %v, want a connection error, not ErrNotFound", err)
	}
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("no Ping 10s after restart")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The scripts are gone with the old server; Run reloads them.
	if n, err := s.Incr(ctx, "k", time.Minute); err != nil || n != 1 {
		t.Fatalf("Incr after restart = %d, %v", n, err)
	}
	if n, err := s.SetMax(ctx, "m", 3); err != nil || n != 3 {
		t.Fatalf("SetMax after restart = %d, %v", n, err)
	}
}

func TestMs(t *testing.T) {
	for d, want := range map[time.Duration]int64{
		-time.Second: 0, 0: 0, time.Nanosecond: 1, time.Millisecond: 1,
		1500 * time.Microsecond: 1, time.Minute: 60000,
	} {
		if got := ms(d); got != want {
			t.Errorf("ms(%v) = %d, want %d", d, got, want)
		}
	}
}

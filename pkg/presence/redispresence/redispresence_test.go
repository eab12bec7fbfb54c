package redispresence

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/im-websocket-go/im-websocket-go/internal/presencetest"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/presence"
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

// Each subtest has its own key prefix (lapsed nodes are claimed by any
// caller sharing the prefix); two nodes share one Redis through separate
// clients in the suite's multi-node tests.
func TestConformance(t *testing.T) {
	c := newClient(t, testenv.RedisURL(t))
	presencetest.Run(t, func(t *testing.T) presence.Presence {
		return New(c, Options{Prefix: testenv.UniqueName("prt")})
	})
}

// The suite on a Redis Cluster and through a sentinel failover client.
func TestConformanceCluster(t *testing.T) {
	c := testenv.RedisClusterClient(t)
	presencetest.Run(t, func(t *testing.T) presence.Presence {
		return New(c, Options{Prefix: testenv.UniqueName("prt")})
	})
}

func TestConformanceSentinel(t *testing.T) {
	c := testenv.RedisSentinelClient(t)
	presencetest.Run(t, func(t *testing.T) presence.Presence {
		return New(c, Options{Prefix: testenv.UniqueName("prt")})
	})
}

// TestScriptsReloaded: after the server lost its scripts (SCRIPT FLUSH, as
// after a restart), the next calls load them again.
func TestScriptsReloaded(t *testing.T) {
	c := newClient(t, testenv.RedisURL(t))
	p := New(c, Options{Prefix: testenv.UniqueName("prt")})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.Connect(ctx, "a", "u", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	off, err := p.Disconnect(ctx, "a", []string{"u"})
	if err != nil || len(off) != 1 {
		t.Fatalf("Disconnect after SCRIPT FLUSH = %v, %v", off, err)
	}
}

// TestKeysExpire: a user's hash carries a ttl (its newest record's plus
// the linger), so nothing stays behind a killed node without a claim.
func TestKeysExpire(t *testing.T) {
	c := newClient(t, testenv.RedisURL(t))
	prefix := testenv.UniqueName("prt")
	p := New(c, Options{Prefix: prefix, Linger: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.Renew(ctx, "a", []string{"u"}, time.Second); err != nil {
		t.Fatal(err)
	}
	ttl, err := c.PTTL(ctx, p.userKey("u")).Result()
	if err != nil || ttl <= 0 || ttl > 2*time.Second {
		t.Fatalf("PTTL of the user's hash = %v, %v; want (0, 2s]", ttl, err)
	}
}

package app_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/im-websocket-go/im-websocket-go/internal/app"
	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/redisproc"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
)

// The sentinels name a primary that no longer answers (its process is
// stopped with SIGSTOP: connections open, nothing comes back, as behind a
// firewall dropping packets; the sentinels are told not to fail it over).
// Within a few seconds the node's health check marks Redis down: one error
// line names the master and the address the sentinels give, the
// im_gateway_redis_up gauge reads 0, and the node's commands (seq counter,
// readiness ping) fail at once with ErrRedisDown instead of after timeouts.
// A node starting meanwhile fails with an error naming the master and its
// address, within its bounded retries. When the primary answers again the
// node recovers by itself: one line, gauge 1, commands succeed.
func TestRedisHealthSentinelPrimaryUnreachable(t *testing.T) {
	st := testenv.NewRedisSentinel(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, s := range st.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr()})
		err := sc.Set(ctx, redisproc.SentinelMaster, "down-after-milliseconds", "3600000").Err()
		_ = sc.Close()
		if err != nil {
			t.Fatalf("sentinel %s: %v", s.Addr(), err)
		}
	}
	cfg := config.Config{RedisURL: "redis://127.0.0.1/0", RedisTopology: config.RedisSentinel,
		RedisSentinelAddrs: st.Addrs(), RedisSentinelMaster: redisproc.SentinelMaster}
	b, err := app.RedisBackends(ctx, cfg, nil, app.NopHandler{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	core, logs := observer.New(zapcore.InfoLevel)
	reg := prometheus.NewRegistry()
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if err := app.WatchRedis(wctx, b, zap.New(core), reg); err != nil {
		t.Fatal(err)
	}
	if _, err := b.KV.Incr(ctx, "seq:{health}", 0); err != nil {
		t.Fatal(err)
	}
	if up := gauge(t, reg, "im_gateway_redis_up"); up != 1 {
		t.Fatalf("im_gateway_redis_up %v with the primary answering", up)
	}

	primary := st.Primary.Addr()
	pid := st.Primary.PID()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	defer resume()
	t0 := time.Now()
	waitGauge(t, reg, "im_gateway_redis_up", 0, 15*time.Second)
	t.Logf("primary %s unreachable: marked down after %v", primary, time.Since(t0).Round(time.Millisecond))
	// The line follows the gauge: it names the primary, which the check
	// asks the sentinels for first.
	waitLog(t, logs, "redis unreachable", 10*time.Second)

	t1 := time.Now()
	if _, err := b.KV.Incr(ctx, "seq:{health}", 0); !errors.Is(err, app.ErrRedisDown) {
		t.Errorf("Incr while down: %v, want ErrRedisDown", err)
	}
	if err := b.Ping(ctx); err == nil {
		t.Error("readiness ping succeeded while the primary does not answer")
	}
	if d := time.Since(t1); d > 500*time.Millisecond {
		t.Errorf("commands while down took %v, want an immediate failure", d)
	}
	down := logs.FilterMessageSnippet("redis unreachable").All()
	if len(down) != 1 {
		t.Fatalf("%d 'redis unreachable' lines, want 1: %v", len(down), down)
	}
	if desc := down[0].ContextMap()["redis"]; !strings.Contains(desc.(string), redisproc.SentinelMaster) || !strings.Contains(desc.(string), primary) {
		t.Errorf("the line does not name the master %q and its address %s: %v", redisproc.SentinelMaster, primary, desc)
	}
	if n := gauge(t, reg, "im_gateway_redis_outages_total"); n != 1 {
		t.Errorf("im_gateway_redis_outages_total %v, want 1", n)
	}

	// A node starting now does not hang: it fails, naming the master and
	// the address the sentinels give.
	t2 := time.Now()
	_, err = app.RedisBackends(ctx, cfg, nil, app.NopHandler{}, nil)
	if err == nil || !strings.Contains(err.Error(), primary) || !strings.Contains(err.Error(), redisproc.SentinelMaster) {
		t.Errorf("start with the primary unreachable: %v, want an error naming %s at %s", err, redisproc.SentinelMaster, primary)
	}
	if d := time.Since(t2); d > 20*time.Second {
		t.Errorf("start with the primary unreachable failed after %v", d)
	}
	t.Logf("a start meanwhile failed after %v: %v", time.Since(t2).Round(time.Millisecond), err)

	resume()
	t3 := time.Now()
	waitGauge(t, reg, "im_gateway_redis_up", 1, 15*time.Second)
	t.Logf("primary answers again: marked up after %v", time.Since(t3).Round(time.Millisecond))
	waitLog(t, logs, "redis reachable again", 10*time.Second)
	if _, err := b.KV.Incr(ctx, "seq:{health}", 0); err != nil {
		t.Errorf("Incr after recovery: %v", err)
	}
	if err := b.Ping(ctx); err != nil {
		t.Errorf("readiness after recovery: %v", err)
	}
	if n := logs.FilterMessageSnippet("redis unreachable").Len(); n != 1 {
		t.Errorf("%d 'redis unreachable' lines over the outage, want 1", n)
	}
	if n := logs.FilterMessageSnippet("redis reachable again").Len(); n != 1 {
		t.Errorf("%d 'redis reachable again' lines, want 1", n)
	}
}

// gauge reads an unlabelled gauge or counter from reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.Metric) != 1 {
			continue
		}
		m := mf.Metric[0]
		switch mf.GetType() {
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// waitLog waits until a line containing snippet was logged, failing after d.
func waitLog(t *testing.T, logs *observer.ObservedLogs, snippet string, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); logs.FilterMessageSnippet(snippet).Len() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("no %q line after %v", snippet, d)
		}
	}
}

// waitGauge polls reg until name reads want, failing after d.
func waitGauge(t *testing.T, reg *prometheus.Registry, name string, want float64, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); gauge(t, reg, name) != want; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%s not %v after %v", name, want, d)
		}
	}
}

// On a cluster one primary that does not answer is the failover case (its
// slots wait for the promotion), not an outage of the node: the health
// check stays up while any primary answers, so the other slots' sends go
// on.
func TestRedisHealthClusterOnePrimaryDown(t *testing.T) {
	rc := testenv.NewRedisCluster(t)
	cfg := config.Config{RedisURL: "redis://127.0.0.1/0", RedisTopology: config.RedisCluster, RedisClusterAddrs: rc.Addrs()}
	h, err := app.NewRedisHealth(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	core, logs := observer.New(zapcore.InfoLevel)
	log := zap.New(core)
	h.Check(ctx, log)
	victim, err := rc.Primary(ctx, "seq:{health}")
	if err != nil {
		t.Fatal(err)
	}
	victim.Kill()
	for i := 0; i < 4; i++ {
		h.Check(ctx, log)
	}
	if h.Down() || logs.Len() != 0 {
		t.Errorf("one primary killed: down %v, log %v", h.Down(), logs.All())
	}
}

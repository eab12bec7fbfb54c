package memkv

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/kvtest"
	"github.com/im-websocket-go/im-websocket-go/pkg/kv"
)

func TestConformance(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.KV {
		m := New()
		t.Cleanup(func() { _ = m.Close() })
		return m
	})
}

// fakeClock is a settable clock for deterministic expiry tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestLazyExpiryExact(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	m := newKV(time.Hour, clk.now)
	defer m.Close()
	ctx := context.Background()
	if err := m.Set(ctx, "k", "v", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	clk.add(10*time.Second - time.Nanosecond)
	if v, err := m.Get(ctx, "k"); err != nil || v != "v" {
		t.Fatalf("Get 1ns before expiry = %q, %v", v, err)
	}
	if ttl, _ := m.TTL(ctx, "k"); ttl != time.Nanosecond {
		t.Fatalf("TTL = %v, want 1ns", ttl)
	}
	clk.add(time.Nanosecond)
	if _, err := m.Get(ctx, "k"); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get at expiry: %v, want ErrNotFound", err)
	}
	if n := m.len(); n != 0 {
		t.Fatalf("expired key still stored after access (%d keys)", n)
	}
}

func TestSweepRemovesUntouchedKeys(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	m := newKV(5*time.Millisecond, clk.now)
	defer m.Close()
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		if err := m.Set(ctx, k, "v", time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Set(ctx, "keep", "v", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Incr(ctx, "window", time.Minute); err != nil {
		t.Fatal(err)
	}
	clk.add(2 * time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for m.len() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("sweep left %d keys, want 2", m.len())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if v, err := m.Get(ctx, "keep"); err != nil || v != "v" {
		t.Fatalf("key without ttl: %q, %v", v, err)
	}
	if n, err := m.Incr(ctx, "window", 0); err != nil || n != 2 {
		t.Fatalf("live window: %d, %v", n, err)
	}
}

func TestCloseStopsSweep(t *testing.T) {
	before := runtime.NumGoroutine()
	for i := 0; i < 50; i++ {
		m := newKV(time.Millisecond, time.Now)
		if err := m.Set(context.Background(), "k", "v", time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if err := m.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		// Still usable after Close, with lazy expiry.
		if _, err := m.Incr(context.Background(), "n", time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	// Close waits for the sweep goroutine, so the count is back at once;
	// allow the runtime a moment for unrelated goroutines.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d before, %d after closing 50 KVs", before, runtime.NumGoroutine())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCanceledContext(t *testing.T) {
	m := New()
	defer m.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Incr(ctx, "k", 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Incr with canceled ctx: %v", err)
	}
	if err := m.Ping(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Ping with canceled ctx: %v", err)
	}
}

func TestIncrOverflow(t *testing.T) {
	m := New()
	defer m.Close()
	ctx := context.Background()
	if _, err := m.SetMax(ctx, "k", 1<<63-1); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Incr(ctx, "k", 0); !errors.Is(err, ErrNotInteger) {
		t.Fatalf("Incr at MaxInt64: %v, want ErrNotInteger", err)
	}
}

func TestParseInt(t *testing.T) {
	for s, ok := range map[string]bool{
		"0": true, "12": true, "-7": true, "9223372036854775807": true,
		"": false, "-": false, "-0": false, "007": false, "+5": false, "1.5": false,
		" 1": false, "9223372036854775808": false, "abc": false,
	} {
		if _, err := parseInt(s); (err == nil) != ok {
			t.Errorf("parseInt(%q) error = %v, want ok=%v", s, err, ok)
		}
	}
}

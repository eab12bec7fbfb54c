package redisproc

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestClusterAndSentinel starts both setups from the redis-server binary
// and uses them through go-redis: keys of every slot on the cluster,
// sharded Pub/Sub routed by slot, and a failover client that follows a
// sentinel failover after its primary was killed.
func TestClusterAndSentinel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	c, err := StartCluster(ctx, Options{Install: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer cc.Close()
	owners := map[string]bool{}
	for i := 0; i < 30; i++ {
		k := fmt.Sprintf("k{%d}", i)
		if err := cc.Set(ctx, k, i, 0).Err(); err != nil {
			t.Fatalf("set %s: %v", k, err)
		}
		p, err := c.Primary(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		owners[p.Addr()] = true
		// The key is on the primary Primary names.
		rc := redis.NewClient(&redis.Options{Addr: p.Addr()})
		n, err := rc.Exists(ctx, k).Result()
		rc.Close()
		if err != nil || n != 1 {
			t.Fatalf("%s not on %s: %d %v", k, p.Addr(), n, err)
		}
	}
	if len(owners) != 3 {
		t.Fatalf("30 keys on %d primaries, want 3", len(owners))
	}
	ps := cc.SSubscribe(ctx, "ch{x}")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cc.SPublish(ctx, "ch{x}", "hello").Err(); err != nil {
		t.Fatal(err)
	}
	m, err := ps.ReceiveMessage(ctx)
	if err != nil || m.Payload != "hello" {
		t.Fatalf("sharded message: %v %v", m, err)
	}

	st, err := StartSentinel(ctx, Options{Install: true, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Stop()
	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: SentinelMaster, SentinelAddrs: st.Addrs()})
	defer fc.Close()
	if err := fc.Set(ctx, "a", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// WAIT: the replica has it before the primary dies.
	if n, err := fc.Wait(ctx, 1, 5*time.Second).Result(); err != nil || n != 1 {
		t.Fatalf("WAIT: %d %v", n, err)
	}
	st.Primary.Kill()
	for {
		p, err := st.CurrentPrimary(ctx)
		if err == nil && p == st.Replica {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no failover: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	for {
		v, err := fc.Get(ctx, "a").Result()
		if err == nil {
			if v != "1" {
				t.Fatalf("after failover a = %q", v)
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("failover client: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

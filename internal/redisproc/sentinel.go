package redisproc

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the name the test sentinels monitor their primary by.
const SentinelMaster = "im-primary"

// SentinelDownAfter is the sentinels' down-after-milliseconds: a primary
// silent this long is failed over.
const SentinelDownAfter = time.Second

// Sentinel is a Sentinel setup on loopback: one primary, one replica and
// three sentinels with quorum 2.
type Sentinel struct {
	Primary   *Server
	Replica   *Server
	Sentinels []*Server
}

// StartSentinel starts the primary, its replica and three sentinels and
// waits until every sentinel knows the primary, the replica and the two
// other sentinels.
func StartSentinel(ctx context.Context, o Options) (*Sentinel, error) {
	st := &Sentinel{}
	var err error
	if st.Primary, err = Start(o); err != nil {
		return nil, fmt.Errorf("sentinel primary: %w", err)
	}
	ro := o
	ro.Args = append(append([]string(nil), o.Args...), "--replicaof", "127.0.0.1", fmt.Sprint(st.Primary.Port))
	if st.Replica, err = Start(ro); err != nil {
		st.Stop()
		return nil, fmt.Errorf("sentinel replica: %w", err)
	}
	conf := func(port int) string {
		return fmt.Sprintf("port %d\nbind 127.0.0.1\n"+
			"sentinel monitor %s 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds %s %d\n"+
			"sentinel failover-timeout %s 10000\n"+
			"sentinel parallel-syncs %s 1\n",
			port, SentinelMaster, st.Primary.Port, SentinelMaster, SentinelDownAfter/time.Millisecond,
			SentinelMaster, SentinelMaster)
	}
	so := Options{Install: o.Install, Logf: o.Logf, Args: []string{"--sentinel"}}
	for i := 0; i < 3; i++ {
		s, err := start(so, conf, freePort)
		if err != nil {
			st.Stop()
			return nil, fmt.Errorf("sentinel %d: %w", i, err)
		}
		st.Sentinels = append(st.Sentinels, s)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := st.WaitReady(wctx); err != nil {
		st.Stop()
		return nil, err
	}
	return st, nil
}

// Addrs are the sentinels' host:port.
func (st *Sentinel) Addrs() []string {
	a := make([]string, len(st.Sentinels))
	for i, s := range st.Sentinels {
		a[i] = s.Addr()
	}
	return a
}

// Stop kills every process and removes their folders.
func (st *Sentinel) Stop() {
	for _, s := range st.Sentinels {
		s.Stop()
	}
	for _, s := range []*Server{st.Replica, st.Primary} {
		if s != nil {
			s.Stop()
		}
	}
}

// WaitReady waits until every running sentinel names a running primary,
// sees its replica linked and knows the other sentinels.
func (st *Sentinel) WaitReady(ctx context.Context) error {
	return poll(ctx, "redis sentinel not ready", st.ready)
}

func (st *Sentinel) ready(ctx context.Context) error {
	for _, s := range st.Sentinels {
		if s.PID() == 0 {
			continue
		}
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second})
		m, err := sc.Master(ctx, SentinelMaster).Result()
		var others []map[string]string
		if err == nil {
			others, err = sc.Sentinels(ctx, SentinelMaster).Result()
		}
		_ = sc.Close()
		if err != nil {
			return fmt.Errorf("sentinel %s: %w", s.Addr(), err)
		}
		if m["flags"] != "master" || m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" || len(others) != 2 {
			return fmt.Errorf("sentinel %s: flags %s, replicas %s, other sentinels %s", s.Addr(), m["flags"], m["num-slaves"], m["num-other-sentinels"])
		}
		addr := m["ip"] + ":" + m["port"]
		p := st.byAddr(addr)
		if p == nil || p.PID() == 0 {
			return fmt.Errorf("sentinel %s names %s, not running", s.Addr(), addr)
		}
	}
	// The replica's link is up (it has the primary's data).
	for _, s := range []*Server{st.Primary, st.Replica} {
		if s.PID() == 0 {
			continue
		}
		rc := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second})
		info, err := rc.Info(ctx, "replication").Result()
		_ = rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", s.Addr(), err)
		}
		if r := fields(info); r["role"] == "slave" && r["master_link_status"] != "up" {
			return fmt.Errorf("replica %s: link %s", s.Addr(), r["master_link_status"])
		}
	}
	return nil
}

// CurrentPrimary is the server the sentinels' majority names primary.
func (st *Sentinel) CurrentPrimary(ctx context.Context) (*Server, error) {
	votes := map[string]int{}
	for _, s := range st.Sentinels {
		if s.PID() == 0 {
			continue
		}
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second})
		a, err := sc.GetMasterAddrByName(ctx, SentinelMaster).Result()
		_ = sc.Close()
		if err == nil && len(a) == 2 {
			votes[a[0]+":"+a[1]]++
		}
	}
	for addr, n := range votes {
		if n >= 2 {
			if p := st.byAddr(addr); p != nil {
				return p, nil
			}
		}
	}
	return nil, fmt.Errorf("sentinels name no primary by majority (%v)", votes)
}

func (st *Sentinel) byAddr(addr string) *Server {
	for _, s := range []*Server{st.Primary, st.Replica} {
		if s != nil && s.Addr() == addr {
			return s
		}
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

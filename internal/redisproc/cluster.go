package redisproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterNodeTimeout is the cluster-node-timeout of the test cluster: a
// primary silent this long is failed over to its replica.
const ClusterNodeTimeout = 1500 * time.Millisecond

// Cluster is a Redis Cluster on loopback: 3 primaries with one replica
// each, made by redis-cli --cluster create from the same binaries.
type Cluster struct {
	Nodes []*Server
}

// StartCluster starts 6 cluster-enabled redis-servers on free loopback
// ports (each also needs port+10000 free, its cluster bus), joins them with
// redis-cli --cluster create --cluster-replicas 1 and waits until every
// node reports cluster_state:ok.
func StartCluster(ctx context.Context, o Options) (*Cluster, error) {
	cli, err := cliBinary(o)
	if err != nil {
		return nil, err
	}
	o.Args = append(append([]string(nil), o.Args...),
		"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", strconv.Itoa(int(ClusterNodeTimeout/time.Millisecond)))
	c := &Cluster{}
	for i := 0; i < 6; i++ {
		s, err := start(o, nil, clusterPort)
		if err != nil {
			c.Stop()
			return nil, fmt.Errorf("cluster node %d: %w", i, err)
		}
		c.Nodes = append(c.Nodes, s)
	}
	args := []string{"--cluster", "create"}
	args = append(args, c.Addrs()...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(cctx, cli, args...).CombinedOutput(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.WaitOK(cctx); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// cliBinary finds redis-cli next to redis-server, or on PATH.
func cliBinary(o Options) (string, error) {
	bin, err := Binary(o.Install, o.Logf)
	if err != nil {
		return "", err
	}
	if p := filepath.Join(filepath.Dir(bin), "redis-cli"); fileExists(p) {
		return p, nil
	}
	p, err := exec.LookPath("redis-cli")
	if err != nil {
		return "", fmt.Errorf("redis-cli not found (it comes with redis-server): %w", err)
	}
	return p, nil
}

// Addrs are the nodes' host:port, primaries and replicas alike.
func (c *Cluster) Addrs() []string {
	a := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		a[i] = s.Addr()
	}
	return a
}

// Stop kills every node and removes their folders.
func (c *Cluster) Stop() {
	for _, s := range c.Nodes {
		s.Stop()
	}
}

// WaitOK waits until every running node reports cluster_state:ok, knows
// all 6 nodes and sees all 16384 slots served, and every primary has a
// replica attached.
func (c *Cluster) WaitOK(ctx context.Context) error {
	return poll(ctx, "redis cluster not ok", c.ok)
}

// poll calls check until it succeeds or ctx ends.
func poll(ctx context.Context, what string, check func(context.Context) error) error {
	var last error
	for {
		if last = check(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last: %v)", what, ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *Cluster) ok(ctx context.Context) error {
	primaries := 0
	for _, s := range c.Nodes {
		if s.PID() == 0 {
			continue
		}
		rc := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second})
		info, err := rc.ClusterInfo(ctx).Result()
		var repl string
		if err == nil {
			repl, err = rc.Info(ctx, "replication").Result()
		}
		_ = rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", s.Addr(), err)
		}
		f := fields(info)
		if f["cluster_state"] != "ok" || f["cluster_slots_ok"] != "16384" || f["cluster_known_nodes"] != "6" {
			return fmt.Errorf("%s: state %s, slots ok %s, known nodes %s", s.Addr(), f["cluster_state"], f["cluster_slots_ok"], f["cluster_known_nodes"])
		}
		r := fields(repl)
		switch r["role"] {
		case "master":
			primaries++
			if r["connected_slaves"] == "0" {
				return fmt.Errorf("%s: primary without a replica", s.Addr())
			}
		case "slave":
			if r["master_link_status"] != "up" {
				return fmt.Errorf("%s: replica link %s", s.Addr(), r["master_link_status"])
			}
		}
	}
	if primaries != 3 {
		return fmt.Errorf("%d running primaries, want 3", primaries)
	}
	return nil
}

// Primary returns the node that serves key's slot as a primary.
func (c *Cluster) Primary(ctx context.Context, key string) (*Server, error) {
	for _, s := range c.Nodes {
		if s.PID() == 0 {
			continue
		}
		rc := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second})
		n, err := rc.ClusterKeySlot(ctx, key).Result()
		var slots []redis.ClusterSlot
		if err == nil {
			slots, err = rc.ClusterSlots(ctx).Result()
		}
		_ = rc.Close()
		if err != nil {
			continue
		}
		slot := int(n)
		for _, r := range slots {
			if int(r.Start) <= slot && slot <= int(r.End) && len(r.Nodes) > 0 {
				for _, n := range c.Nodes {
					if n.Addr() == r.Nodes[0].Addr {
						return n, nil
					}
				}
			}
		}
	}
	return nil, errors.New("redis cluster: no running node knows the key's primary")
}

// fields parses INFO-style "name:value" lines.
func fields(info string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			m[k] = v
		}
	}
	return m
}

// clusterPort is a free loopback port whose cluster bus port (+10000) is
// free as well.
func clusterPort() (int, error) {
	for try := 0; try < 50; try++ {
		p, err := freePort()
		if err != nil {
			return 0, err
		}
		if p+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000))
		if err != nil {
			continue
		}
		_ = l.Close()
		return p, nil
	}
	return 0, errors.New("no free loopback port pair (port, port+10000)")
}

package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"
)

// RedisTopologySingle and RedisTopologyCluster are the Redis setups an
// embedded run can bring up (-redis-topology): one redis-server, or a
// Redis Cluster of 3 primaries and 3 replicas (sharded Pub/Sub).
const (
	RedisTopologySingle  = "single"
	RedisTopologyCluster = "cluster"
)

// RedisShard is what one Redis server did during the measured window:
// the commands it ran (INFO commandstats, those inside scripts included)
// and its CPU (/proc), per acked message of the run.
type RedisShard struct {
	Addr            string           `json:"addr"`
	Role            string           `json:"role"` // master or slave, at the start
	CPU             float64          `json:"cpu_cores"`
	Calls           int64            `json:"calls"`
	CallsByCmd      map[string]int64 `json:"calls_by_command"`
	CallsPerMsg     float64          `json:"calls_per_acked_msg"`
	CPUMicrosPerMsg float64          `json:"cpu_us_per_acked_msg"`
}

// redisNode is a Redis server of the run whose work is counted.
type redisNode struct {
	addr string
	pid  int
	c    *redis.Client
	role string
}

type redisNodeSample struct {
	cpu   float64
	calls map[string]int64
}

// openRedisNodes connects to each server (host:port) of the embedded
// Redis and notes its role.
func openRedisNodes(ctx context.Context, addrs []string, pids []int) []*redisNode {
	var out []*redisNode
	for i, a := range addrs {
		n := &redisNode{addr: a, pid: pids[i], c: redis.NewClient(&redis.Options{Addr: a})}
		if info, err := n.c.Info(ctx, "replication").Result(); err == nil {
			n.role = fields(info)["role"]
		}
		out = append(out, n)
	}
	return out
}

func closeRedisNodes(ns []*redisNode) {
	for _, n := range ns {
		_ = n.c.Close()
	}
}

func sampleRedisNodes(ctx context.Context, ns []*redisNode) []redisNodeSample {
	out := make([]redisNodeSample, len(ns))
	for i, n := range ns {
		out[i].cpu = procCPU(n.pid)
		out[i].calls, _ = (&redisCounter{c: n.c}).read(ctx)
	}
	return out
}

// redisShardStats turns two samples window seconds apart into per-server
// figures, primaries first.
func redisShardStats(ns []*redisNode, s0, s1 []redisNodeSample, window float64, acked int64) []RedisShard {
	var out []RedisShard
	for i, n := range ns {
		sh := RedisShard{Addr: n.addr, Role: n.role, CallsByCmd: map[string]int64{}}
		sh.CPU = (s1[i].cpu - s0[i].cpu) / window
		for cmd, v := range s1[i].calls {
			if d := v - s0[i].calls[cmd]; d > 0 && !housekeeping[cmd] {
				sh.CallsByCmd[cmd] = d
				sh.Calls += d
			}
		}
		if acked > 0 {
			sh.CallsPerMsg = float64(sh.Calls) / float64(acked)
			sh.CPUMicrosPerMsg = (s1[i].cpu - s0[i].cpu) * 1e6 / float64(acked)
		}
		out = append(out, sh)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Role == "master" && out[j].Role != "master" })
	return out
}

// housekeeping are the commands that are not the run's work: the tool's
// own INFO, replication and the clients' health checks.
var housekeeping = map[string]bool{"info": true, "replconf": true, "ping": true}

// fields parses the "key:value" lines of an INFO answer.
func fields(info string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
			m[k] = v
		}
	}
	return m
}

// printRedisShards prints one line per server of RedisShards.
func printRedisShards(p func(string, ...any), shards []RedisShard) {
	for _, sh := range shards {
		var top []string
		for cmd, n := range sh.CallsByCmd {
			top = append(top, fmt.Sprintf("%s=%d", cmd, n))
		}
		sort.Strings(top)
		p("redis %-6s %s: %.2f cores, %d commands (%.2f/acked msg, %.1f µs CPU/acked msg): %s",
			sh.Role, sh.Addr, sh.CPU, sh.Calls, sh.CallsPerMsg, sh.CPUMicrosPerMsg, strings.Join(top, " "))
	}
}

// busCounters sums the gateways' bus counters (see Result.Bus) from their
// /metrics; nil without metrics URLs.
func (r *runner) busCounters(ctx context.Context) map[string]float64 {
	// Every node's admin port (in-process nodes share one pid, so r.procs
	// names only the first), else the metrics URLs given.
	var urls []string
	for _, a := range r.admins {
		urls = append(urls, a+"/metrics")
	}
	if len(urls) == 0 {
		for _, p := range r.procs {
			if p.MetricsURL != "" {
				urls = append(urls, p.MetricsURL)
			}
		}
	}
	var out map[string]float64
	for _, u := range urls {
		for k, v := range scrape(ctx, u) {
			if strings.HasPrefix(k, "im_gateway_bus_channel_changes_total") ||
				strings.HasPrefix(k, "im_gateway_bus_published_total") || strings.HasPrefix(k, "im_gateway_bus_received_total") {
				if out == nil {
					out = map[string]float64{}
				}
				out[k] += v
			}
		}
	}
	return out
}

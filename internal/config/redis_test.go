package config

import (
	"flag"
	"slices"
	"strings"
	"testing"
)

func TestRedisTopologyByConfiguration(t *testing.T) {
	load := func(env map[string]string) (Config, error) {
		return Load(flag.NewFlagSet("t", flag.ContinueOnError), nil, func(k string) string { return env[k] })
	}
	c, err := load(nil)
	if err != nil || c.RedisTopology != RedisSingle {
		t.Fatalf("default: %q %v", c.RedisTopology, err)
	}
	c, err = load(map[string]string{"IM_REDIS_SENTINEL_ADDRS": "s1:26379, s2:26379,s3:26379", "IM_REDIS_SENTINEL_MASTER": "im", "IM_REDIS_SENTINEL_PASSWORD": "sentinel-secret"})
	if err != nil || c.RedisTopology != RedisSentinel || c.RedisSentinelMaster != "im" || c.RedisSentinelPassword != "sentinel-secret" ||
		!slices.Equal(c.RedisSentinelAddrs, []string{"s1:26379", "s2:26379", "s3:26379"}) {
		t.Fatalf("sentinel: %+v %v", c, err)
	}
	c, err = load(map[string]string{"IM_REDIS_CLUSTER_ADDRS": "n1:6379,n2:6379"})
	if err != nil || c.RedisTopology != RedisCluster || !slices.Equal(c.RedisClusterAddrs, []string{"n1:6379", "n2:6379"}) {
		t.Fatalf("cluster: %+v %v", c, err)
	}
	for name, env := range map[string]map[string]string{
		"both":              {"IM_REDIS_SENTINEL_ADDRS": "s1:26379", "IM_REDIS_SENTINEL_MASTER": "im", "IM_REDIS_CLUSTER_ADDRS": "n1:6379"},
		"no master":         {"IM_REDIS_SENTINEL_ADDRS": "s1:26379"},
		"master only":       {"IM_REDIS_SENTINEL_MASTER": "im"},
		"master on cluster": {"IM_REDIS_CLUSTER_ADDRS": "n1:6379", "IM_REDIS_SENTINEL_MASTER": "im"},
		"no port":           {"IM_REDIS_CLUSTER_ADDRS": "n1"},
	} {
		if _, err := load(env); err == nil || !strings.Contains(err.Error(), "IM_REDIS") && !strings.Contains(err.Error(), "Redis") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The sentinel password is no flag: -h would print it.
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	if _, err := Load(fs, nil, func(k string) string { return map[string]string{"IM_REDIS_SENTINEL_PASSWORD": "pw"}[k] }); err != nil {
		t.Fatal(err)
	}
	fs.VisitAll(func(f *flag.Flag) {
		if f.DefValue == "pw" {
			t.Errorf("flag %s shows the sentinel password", f.Name)
		}
	})
}

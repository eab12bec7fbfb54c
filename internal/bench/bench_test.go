package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/gateway"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

func TestMain(m *testing.M) {
	MaybeNodeMain() // SpawnNode re-executes this binary as a gateway node
	testenv.Main(m)
}

// clusterConfig points a run at an apitest cluster: its store for
// seeding, its signer for tokens, its nodes as the gateways.
func clusterConfig(t *testing.T, c *apitest.Cluster, scenario string) Config {
	var out bytes.Buffer
	t.Cleanup(func() {
		if t.Failed() || testing.Verbose() {
			t.Logf("imbench output:\n%s", out.String())
		}
	})
	cfg := Config{Scenario: scenario, MongoURI: c.Config.MongoURI, MongoDB: c.Config.MongoDB,
		Signer: c.Core.Signer, Issuer: c.Config.JWTIssuer, Audience: c.Config.JWTAudience,
		GatewayPIDs: []int{os.Getpid()}, Out: &out, Grace: 15 * time.Second, Cleanup: true}
	for _, n := range c.Nodes {
		cfg.Gateways = append(cfg.Gateways, n.URL)
	}
	return cfg
}

func run(t *testing.T, cfg Config) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

// promiseKept asserts the verdict: nothing lost, duplicated, reordered or
// altered; speed is not judged here.
func promiseKept(t *testing.T, r *Result) {
	t.Helper()
	if !r.OK || r.Lost != 0 || r.Duplicated != 0 || r.OutOfOrder != 0 || r.Mismatched != 0 {
		t.Fatalf("delivery promise broken: lost %d dup %d ooo %d mismatched %d connect failures %d errors %v",
			r.Lost, r.Duplicated, r.OutOfOrder, r.Mismatched, r.ConnectFailures, r.Errors)
	}
}

func TestScenarios(t *testing.T) {
	c := apitest.NewCluster(t, 2, apitest.Options{})

	t.Run("idle", func(t *testing.T) {
		cfg := clusterConfig(t, c, ScenarioIdle)
		cfg.N, cfg.Duration, cfg.Batches, cfg.Settle = 200, time.Second, 2, 200*time.Millisecond
		cfg.DialConcurrency = 16
		r := run(t, cfg)
		promiseKept(t, r)
		if r.Connections != 200 || len(r.RSSCurve) != 2 || r.GatewayRSS <= 0 {
			t.Fatalf("idle: %d connections, curve %v, RSS %d", r.Connections, r.RSSCurve, r.GatewayRSS)
		}
	})

	t.Run("receipts", func(t *testing.T) {
		cfg := clusterConfig(t, c, ScenarioReceipts)
		cfg.Group, cfg.Rate, cfg.ReadRate, cfg.Duration = 12, 3, 60, 2*time.Second
		r := run(t, cfg)
		promiseKept(t, r)
		rc := r.Receipts
		if rc == nil || rc.Messages < 4 || rc.FullyRead != rc.Messages || rc.Events < 2 || rc.MinGapMS < 900 ||
			rc.OverCounted != 0 || rc.ReadsSent < 100 || rc.FullReadLatency.Count != uint64(rc.Messages) {
			t.Fatalf("receipts: %+v", rc)
		}
	})

	t.Run("fanout", func(t *testing.T) {
		cfg := clusterConfig(t, c, ScenarioFanout)
		cfg.Group, cfg.Rate, cfg.Duration = 50, 20, 2*time.Second
		cfg.JSONOut = filepath.Join(t.TempDir(), "fanout.json")
		r := run(t, cfg)
		promiseKept(t, r)
		if r.Acked < 30 || r.Required != r.Acked*49 || r.DeliverLatency.Count == 0 {
			t.Fatalf("fanout: acked %d required %d latency %+v", r.Acked, r.Required, r.DeliverLatency)
		}
		back, err := ReadResult(cfg.JSONOut)
		if err != nil || back.Acked != r.Acked {
			t.Fatalf("JSON result: %v %+v", err, back)
		}
	})

	t.Run("fanout-deflate", func(t *testing.T) {
		var before uint64
		for _, n := range c.Nodes {
			before += n.GW.Stats().CompressedOut
		}
		cfg := clusterConfig(t, c, ScenarioFanout)
		cfg.Group, cfg.Rate, cfg.Duration, cfg.Deflate = 20, 20, 2*time.Second, true
		cfg.BodySize = 700 // over the 512-byte threshold: every message frame compressed
		r := run(t, cfg)
		promiseKept(t, r)
		if r.Acked < 30 || r.Required != r.Acked*19 {
			t.Fatalf("fanout with deflate: acked %d required %d", r.Acked, r.Required)
		}
		var after uint64
		for _, n := range c.Nodes {
			after += n.GW.Stats().CompressedOut
		}
		if after-before < uint64(r.Required) {
			t.Fatalf("%d compressed frames written for %d deliveries", after-before, r.Required)
		}
	})

	t.Run("direct", func(t *testing.T) {
		cfg := clusterConfig(t, c, ScenarioDirect)
		cfg.N, cfg.Rate, cfg.Duration = 40, 40, 2*time.Second
		r := run(t, cfg)
		promiseKept(t, r)
		if r.Acked < 60 || r.Required != r.Acked || r.AckLatency.Count != uint64(r.Acked) {
			t.Fatalf("direct: sent %d acked %d required %d", r.Sent, r.Acked, r.Required)
		}
	})

	t.Run("ramp", func(t *testing.T) {
		cfg := clusterConfig(t, c, ScenarioRamp)
		cfg.Group, cfg.Rate, cfg.Steps, cfg.StepDuration, cfg.RampFactor = 20, 10, 2, time.Second, 2
		cfg.MaxP99 = 10 * time.Second // this test checks the mechanics, not speed
		cfg.SVGOut = filepath.Join(t.TempDir(), "ramp.svg")
		r := run(t, cfg)
		promiseKept(t, r)
		if len(r.Steps) != 2 || r.Steps[1].Rate != 20 || r.MaxGoodRate == 0 {
			t.Fatalf("ramp steps: %+v max good %v", r.Steps, r.MaxGoodRate)
		}
		svg, err := os.ReadFile(cfg.SVGOut)
		if err != nil || !bytes.Contains(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("p99")) {
			t.Fatalf("svg: %v %.200s", err, svg)
		}
	})
}

// TestEmbedded runs the one-command mode: redis-server, FerretDB and the
// gateway nodes brought up by the tool, the nodes as child processes.
func TestEmbedded(t *testing.T) {
	var out bytes.Buffer
	cfg := Config{Scenario: ScenarioDirect, Embedded: true, Spawn: true, Nodes: 2, N: 10, Rate: 20,
		Duration: time.Second, Out: &out, Sync: true}
	res := run(t, cfg)
	if t.Failed() || !res.OK {
		t.Logf("%s", out.String())
	}
	promiseKept(t, res)
	if res.Acked < 15 || res.GatewayRSS <= 0 || res.InProcess {
		t.Fatalf("embedded: acked %d, gateway RSS %d, in process %v", res.Acked, res.GatewayRSS, res.InProcess)
	}
}

// TestStandalone runs the standalone target: the data folder seeded before
// the server starts, tokens minted with the key written into it. SQLite with
// the server built and run as a child process (the measured setup), FerretDB
// and the history pages with the server in this process.
func TestStandalone(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"sqlite", Config{Scenario: ScenarioDirect, Store: "sqlite", SQLiteSync: "NORMAL", N: 10, Rate: 20}},
		{"ferretdb", Config{Scenario: ScenarioDirect, Store: "ferretdb", N: 10, Rate: 20, StandaloneInProcess: true}},
		{"history", Config{Scenario: ScenarioHistory, Messages: 5000, StandaloneInProcess: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			cfg := tc.cfg
			cfg.Target, cfg.Duration, cfg.Out = TargetStandalone, time.Second, &out
			if !cfg.StandaloneInProcess {
				// The binary make test built (IM_TEST_BIN_DIR), or one
				// built once here: never a build inside the run's time.
				cfg.StandaloneBin = testenv.Binary(t, "standalone")
			}
			res := run(t, cfg)
			if t.Failed() || !res.OK {
				t.Logf("%s", out.String())
			}
			if cfg.Scenario == ScenarioHistory {
				if !res.OK || res.Pages < 10 || res.PageErrors != 0 || res.PageLatency.Count != uint64(res.Pages) {
					t.Fatalf("history: %d pages, %d errors, latency %+v, errors %v", res.Pages, res.PageErrors, res.PageLatency, res.Errors)
				}
				return
			}
			promiseKept(t, res)
			if res.Acked < 15 || res.Required != res.Acked || res.GatewayRSS <= 0 || res.InProcess != cfg.StandaloneInProcess {
				t.Fatalf("standalone %s: acked %d required %d, RSS %d, in process %v", tc.name, res.Acked, res.Required, res.GatewayRSS, res.InProcess)
			}
		})
	}
}

func TestParseFrameMatchesDecoder(t *testing.T) {
	m := protocol.Message{ID: "01HV6QAB3C5D7E9F1G3H5J7K9M", RoomID: "01HV6Q5N7ZK3M8R2T4W6Y8A0BC", Seq: 44,
		From: "01HV6Q2B9W3S5T7V9X1Z3B5D7F", Body: "b1.2.3|0|1700000000000000000|xxxx", ClientMsgID: "b1.2.3",
		CreatedAt: time.Now().UTC()}
	for _, raw := range [][]byte{protocol.EncodeAck(m), protocol.EncodeMessage(m),
		protocol.EncodeSynced("r1", 7, true), protocol.EncodeHello("u", "n", 30), protocol.EncodePong} {
		var fast, slow frame
		if !parseFrame(raw, &fast) {
			t.Fatalf("fast path refused %s", raw)
		}
		if err := slowFrame(raw, &slow); err != nil {
			t.Fatal(err)
		}
		if fast.kind != slow.kind || fast.seq != slow.seq || string(fast.room) != string(slow.room) ||
			string(fast.cmid) != string(slow.cmid) || string(fast.body) != string(slow.body) ||
			string(fast.from) != string(slow.from) || fast.more != slow.more {
			t.Fatalf("%s:\nfast %+v\nslow %+v", raw, fast, slow)
		}
	}
	// An escaped body is left to the decoder.
	m.Body = `say "hi"`
	var f frame
	if parseFrame(protocol.EncodeMessage(m), &f) {
		t.Fatal("fast path accepted an escaped string")
	}
	e := protocol.EncodeError(protocol.Errorf(protocol.CodeRateLimited, "slow down"), "c1")
	if parseFrame(e, &f) || slowFrame(e, &f) != nil || f.kind != kindError || string(f.cmid) != "c1" || string(f.code) != "rate_limited" {
		t.Fatalf("error frame: %+v", f)
	}
}

func TestBodyAndTracking(t *testing.T) {
	b := appendBody(nil, []byte("bx.12.7"), 3, 1234567, 100)
	if len(b) != 100 {
		t.Fatalf("body length %d", len(b))
	}
	cmid, step, at, ok := parseBody(b)
	if !ok || string(cmid) != "bx.12.7" || step != 3 || at != 1234567 {
		t.Fatalf("parseBody: %q %d %d %v", cmid, step, at, ok)
	}
	if i, ok := cmidConn(cmid, "bx"); !ok || i != 12 {
		t.Fatalf("cmidConn: %d %v", i, ok)
	}
	var want, have, own bitset
	for _, s := range []int64{1, 2, 3, 64, 65, 200} {
		want.set(s)
	}
	have.set(1)
	have.set(64)
	own.set(3)
	if n := missing(want, have, own); n != 3 {
		t.Fatalf("missing %d", n)
	}
	if f := firstMissing(want, have, own); f != 2 {
		t.Fatalf("first missing %d", f)
	}
	var tab seqTable
	if !tab.check(5000, 42) || !tab.check(5000, 42) || tab.check(5000, 43) || !tab.check(1, 7) {
		t.Fatal("seqTable")
	}
	var h Hist
	for i := int64(1); i <= 1000; i++ {
		h.Record(i * int64(time.Millisecond))
	}
	if p := h.Percentiles(); p.P50MS < 490 || p.P50MS > 510 || p.P99MS < 975 || p.P99MS > 1000 || p.MaxMS != 1000 {
		t.Fatalf("percentiles %+v", p)
	}
}

// TestEmbeddedMemStore runs in-process gateways over the memory store.
func TestEmbeddedMemStore(t *testing.T) {
	var out bytes.Buffer
	cfg := Config{Scenario: ScenarioFanout, Embedded: true, Store: "mem", Nodes: 2, Group: 20, Rate: 20,
		Duration: time.Second, Out: &out}
	res := run(t, cfg)
	if t.Failed() || !res.OK {
		t.Logf("%s", out.String())
	}
	promiseKept(t, res)
	if res.Acked < 15 || res.Required != 19*res.Acked || !res.InProcess {
		t.Fatalf("mem store: acked %d required %d", res.Acked, res.Required)
	}
}

// TestEmbeddedSDK drives the users with the Go SDK (-client sdk): a group
// on two nodes and pairs, every acked message delivered to every other
// member, once, in order, the SDK's sends answered without error.
func TestEmbeddedSDK(t *testing.T) {
	for _, sc := range []string{ScenarioFanout, ScenarioDirect} {
		t.Run(sc, func(t *testing.T) {
			var out bytes.Buffer
			cfg := Config{Scenario: sc, Client: ClientSDK, Embedded: true, Store: "mem", Nodes: 2, Group: 12, N: 12,
				Rate: 20, Duration: time.Second, Out: &out, Sync: true}
			res := run(t, cfg)
			if t.Failed() || !res.OK {
				t.Logf("%s", out.String())
			}
			promiseKept(t, res)
			per := int64(11) // fanout: every other member of the group
			if sc == ScenarioDirect {
				per = 1
			}
			if res.Acked < 15 || res.SendErrors != 0 || res.Required != per*res.Acked || res.Setup.Client != ClientSDK {
				t.Fatalf("sdk %s: acked %d, send errors %d, required %d, client %q", sc, res.Acked, res.SendErrors, res.Required, res.Setup.Client)
			}
		})
	}
	var cfg Config
	cfg.Scenario, cfg.Client = ScenarioIdle, ClientSDK
	if err := cfg.defaults(); err == nil {
		t.Fatal("-client sdk accepted for the idle scenario")
	}
}

// TestEmbeddedImages sends image messages (-kind image): every one is
// accepted (its file seeded) and delivered.
func TestEmbeddedImages(t *testing.T) {
	var out bytes.Buffer
	cfg := Config{Scenario: ScenarioFanout, Embedded: true, Store: "mem", Nodes: 2, Group: 10, Rate: 20,
		Duration: time.Second, Kind: KindImage, Out: &out}
	res := run(t, cfg)
	if t.Failed() || !res.OK {
		t.Logf("%s", out.String())
	}
	promiseKept(t, res)
	if res.Acked < 15 || res.SendErrors != 0 || res.Required != 9*res.Acked {
		t.Fatalf("images: acked %d, send errors %d, required %d", res.Acked, res.SendErrors, res.Required)
	}
}

// TestEmbeddedPostgres runs in-process gateways over the PostgreSQL store.
func TestEmbeddedPostgres(t *testing.T) {
	var out bytes.Buffer
	cfg := Config{Scenario: ScenarioDirect, Embedded: true, Store: "postgres", PostgresURL: testenv.PostgresURL(t),
		Nodes: 1, N: 20, Rate: 40, Duration: time.Second, Out: &out}
	res := run(t, cfg)
	if t.Failed() || !res.OK {
		t.Logf("%s", out.String())
	}
	promiseKept(t, res)
	if res.Acked < 20 || !res.InProcess {
		t.Fatalf("postgres store: acked %d", res.Acked)
	}
}

// Benchmarks of the whole path, one run per b.N (use -benchtime 1x):
//
//	go test -run '^$' -bench 'Fanout|Direct' -benchtime 1x ./internal/bench/
func benchRun(b *testing.B, cfg Config) {
	cfg.Quiet = true
	for range b.N {
		res, err := Run(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		if !res.OK {
			b.Fatalf("delivery promise broken: %+v", res.Errors)
		}
		b.ReportMetric(res.DeliveredPS, "deliveries/s")
		b.ReportMetric(res.AckedPerS, "acked/s")
		b.ReportMetric(res.DeliverLatency.P99MS, "deliver-p99-ms")
		b.ReportMetric(res.AckLatency.P99MS, "ack-p99-ms")
	}
}

// BenchmarkFanoutMem: a 500-member group over two in-process gateways
// and the memory store, 100 msgs/s for 5s.
func BenchmarkFanoutMem(b *testing.B) {
	benchRun(b, Config{Scenario: ScenarioFanout, Embedded: true, Store: "mem", Nodes: 2, Group: 500,
		Rate: 100, Duration: 5 * time.Second})
}

// BenchmarkDirectMem: 500 pairs over two in-process gateways and the
// memory store, 2,000 msgs/s for 5s.
func BenchmarkDirectMem(b *testing.B) {
	benchRun(b, Config{Scenario: ScenarioDirect, Embedded: true, Store: "mem", Nodes: 2, N: 1000,
		Rate: 2000, Duration: 5 * time.Second})
}

// BenchmarkDirectFerretDB: the same over the embedded FerretDB store,
// 200 msgs/s.
func BenchmarkDirectFerretDB(b *testing.B) {
	benchRun(b, Config{Scenario: ScenarioDirect, Embedded: true, Nodes: 2, N: 200,
		Rate: 200, Duration: 5 * time.Second})
}

// BenchmarkHistoryPage: GET /v1/rooms/{id}/messages?before=<random>&limit=50
// on a standalone server (in this process, SQLite, synchronous FULL) whose
// room holds 1,000,000 messages, one request at a time for 10s. Seeding
// takes ~10s more. With -cpuprofile it profiles the server's read path.
//
//	go test -run '^$' -bench HistoryPage -benchtime 1x ./internal/bench/
func BenchmarkHistoryPage(b *testing.B) {
	for range b.N {
		res, err := Run(context.Background(), Config{Scenario: ScenarioHistory, Target: TargetStandalone,
			StandaloneInProcess: true, Messages: 1_000_000, Duration: 10 * time.Second, Quiet: true})
		if err != nil {
			b.Fatal(err)
		}
		if !res.OK {
			b.Fatalf("history: %d errors: %v", res.PageErrors, res.Errors)
		}
		b.ReportMetric(res.PagesPerS, "pages/s")
		b.ReportMetric(res.PageLatency.P50MS, "page-p50-ms")
		b.ReportMetric(res.PageLatency.P99MS, "page-p99-ms")
	}
}

func BenchmarkParseFrame(b *testing.B) {
	m := protocol.Message{ID: "01HV6QAB3C5D7E9F1G3H5J7K9M", RoomID: "01HV6Q5N7ZK3M8R2T4W6Y8A0BC", Seq: 44,
		From: "01HV6Q2B9W3S5T7V9X1Z3B5D7F", Body: string(appendBody(nil, []byte("b1.2.3"), 0, 1700000000000000000, 100)),
		ClientMsgID: "b1.2.3", CreatedAt: time.Now().UTC()}
	raw := protocol.EncodeMessage(m)
	b.Run("fast", func(b *testing.B) {
		var f frame
		for range b.N {
			if !parseFrame(raw, &f) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("DecodeOutbound", func(b *testing.B) {
		for range b.N {
			if _, err := protocol.DecodeOutbound(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestPresenceScenario runs the presence churn mode briefly against two
// gateways renewing their presence records every 200ms: it counts Redis
// commands and gateway CPU in both windows and churns connections,
// reconnecting every one.
func TestPresenceScenario(t *testing.T) {
	c := apitest.NewCluster(t, 2, apitest.Options{}, func(o *gateway.Options) {
		o.PresenceInterval, o.PresenceGrace = 200*time.Millisecond, 300*time.Millisecond
	})
	cfg := clusterConfig(t, c, ScenarioPresence)
	cfg.N, cfg.Rate, cfg.Duration, cfg.Settle = 40, 20, 2*time.Second, 300*time.Millisecond
	cfg.ChurnAway = 500 * time.Millisecond // past the grace: real offline and online transitions
	cfg.RedisURL = c.Config.RedisURL
	cfg.DialConcurrency = 8
	cfg.JSONOut = filepath.Join(t.TempDir(), "presence.json")
	r := run(t, cfg)
	p := r.Presence
	if !r.OK || p == nil {
		t.Fatalf("presence run: ok %v, %+v, errors %v", r.OK, p, r.Errors)
	}
	for name, w := range map[string]PresenceWindow{"steady": p.Steady, "churn": p.Churn} {
		if w.WindowS < 1.5 || w.RedisCalls <= 0 || w.RedisCallsPerConnMin <= 0 || w.GatewayCPU <= 0 || w.GatewayCPUPer10k <= 0 {
			t.Errorf("%s window: %+v", name, w)
		}
		if w.RedisCallsByCmd["evalsha"] <= 0 || w.ScriptCallsPerConnMin <= 0 {
			t.Errorf("%s window: no presence script calls counted: %v", name, w.RedisCallsByCmd)
		}
	}
	// How many cycles fit in the window depends on the machine: any.
	if p.Steady.Cycles != 0 || p.Churn.Cycles < 1 || p.Churn.CycleErrors != 0 {
		t.Fatalf("churn cycles: steady %d, churn %d (%d failed)", p.Steady.Cycles, p.Churn.Cycles, p.Churn.CycleErrors)
	}
	if r.Connections != 40 {
		t.Fatalf("%d connections after the churn, want 40", r.Connections)
	}
	back, err := ReadResult(cfg.JSONOut)
	if err != nil || back.Presence == nil || back.Presence.Churn.Cycles != p.Churn.Cycles {
		t.Fatalf("JSON result: %v %+v", err, back.Presence)
	}
}

// TestEmbeddedRedisCluster runs the fan-out on a Redis Cluster (3
// primaries, 3 replicas; the gateways on sharded Pub/Sub): the promise
// holds, and each server's share of the work is counted: the publishes
// (SPUBLISH) and the seq counters land on the primaries.
func TestEmbeddedRedisCluster(t *testing.T) {
	var out bytes.Buffer
	cfg := Config{Scenario: ScenarioFanout, Embedded: true, Store: "mem", Nodes: 2, Group: 8, N: 8,
		Rate: 20, Duration: time.Second, Out: &out, RedisTopology: RedisTopologyCluster}
	res := run(t, cfg)
	if t.Failed() || !res.OK {
		t.Logf("%s", out.String())
	}
	promiseKept(t, res)
	if res.RedisTopology != RedisTopologyCluster || len(res.RedisShards) != 6 {
		t.Fatalf("topology %q with %d servers counted, want cluster and 6", res.RedisTopology, len(res.RedisShards))
	}
	var primaries int
	var spublish, scripts int64
	for _, sh := range res.RedisShards {
		if sh.Role == "master" {
			primaries++
			spublish += sh.CallsByCmd["spublish"]
			scripts += sh.CallsByCmd["evalsha"] + sh.CallsByCmd["eval"]
		}
	}
	if primaries != 3 || res.Acked < 15 || spublish < res.Acked || scripts < res.Acked {
		t.Fatalf("%d primaries; %d acked, %d SPUBLISH and %d scripts on the primaries (want one of each per message at least)",
			primaries, res.Acked, spublish, scripts)
	}
	var subscribed, published float64
	for k, v := range res.Bus {
		switch {
		case strings.HasPrefix(k, `im_gateway_bus_channel_changes_total{op="subscribe"}`):
			subscribed += v
		case strings.HasPrefix(k, "im_gateway_bus_published_total{shard=\"127.0.0.1:"):
			published += v
		}
	}
	if subscribed < 1 || published < float64(res.Acked) {
		t.Errorf("gateways' bus counters: %v; want subscriptions and every message published, counted under its shard", res.Bus)
	}
	if !strings.Contains(out.String(), "redis master") {
		t.Errorf("the summary has no per-server line:\n%s", out.String())
	}
}

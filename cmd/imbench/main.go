// Command imbench is the load generator of im-websocket-go: it speaks the
// WebSocket contract to one or more gateways and measures idle memory per
// connection, group fan-out, acked 1:1 chat and the latency of a rising
// rate, checking every acked message for loss, duplication and order.
//
//	imbench -scenario idle   -embedded -spawn -n 10000
//	imbench -scenario fanout -embedded -nodes 2 -group 1000 -rate 500 -duration 20s
//	imbench -scenario direct -gateways ws://127.0.0.1:8081/ws,ws://127.0.0.1:8082/ws \
//	        -mongo-uri mongodb://127.0.0.1:27017 -mongo-db im -jwt-key api-key.pem -n 2000 -rate 5000
//	imbench -scenario idle   -target standalone -store sqlite -sqlite-sync NORMAL -n 10000
//	imbench -scenario history -target standalone -messages 1000000 -duration 10s
//	imbench -scenario presence -embedded -spawn -n 10000 -rate 100 -away 6s -duration 60s
//	imbench chart -kind rss -out rss.svg idle-10k.json idle-100k.json
//
// Users, rooms and friendships are written straight into the store and
// tokens minted with the API's signing key, so 100,000 users take seconds.
// -embedded brings up Redis (redis-server on a free port), FerretDB (in
// process) and the gateway nodes (-spawn: as child processes, so their
// RSS and CPU are measured apart from the clients). A run that loses,
// duplicates or reorders an acked message exits with status 1.
//
// -target standalone measures cmd/standalone instead: the tool makes a
// fresh data folder with a signing key, seeds its store (-store sqlite, the
// default, or ferretdb: the embedded FerretDB, run with IM_STORE=mongo)
// before the server starts, then runs the server as a child process (built
// with go build unless -standalone-bin is given) and drives the scenario
// against its /ws. -scenario history reads pages of a room's stored
// history over its REST API.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/bench"
)

func main() {
	bench.MaybeNodeMain() // a spawned gateway node runs here and exits
	if len(os.Args) > 1 && os.Args[1] == "chart" {
		if err := chart(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "imbench chart:", err)
			os.Exit(2)
		}
		return
	}
	res, err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "imbench:", err)
		os.Exit(2)
	}
	if !res.OK {
		fmt.Fprintln(os.Stderr, "imbench: FAILED: the delivery promise was broken (see above)")
		os.Exit(1)
	}
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func run(args []string) (*bench.Result, error) {
	fs := flag.NewFlagSet("imbench", flag.ContinueOnError)
	var c bench.Config
	var gateways, srcIPs, pids, metrics string
	fs.StringVar(&c.Scenario, "scenario", "idle", "idle, fanout, direct, ramp, receipts (a read-receipt storm in one group of -group members), presence (connect/disconnect churn: Redis commands and CPU of presence), or history (-target standalone)")
	fs.StringVar(&gateways, "gateways", "", "comma-separated gateway URLs (ws://127.0.0.1:8081/ws,...); connections are spread round-robin")
	fs.IntVar(&c.N, "n", 1000, "connections (users); direct: 2 per pair")
	fs.IntVar(&c.Group, "group", 0, "fanout: members of the group (default -n)")
	fs.Float64Var(&c.Rate, "rate", 100, "messages per second (ramp: of the first step; receipts: the one sender's; presence: connections closed and opened again per second)")
	fs.Float64Var(&c.ReadRate, "read-rate", 0, "receipts: read frames per second, all members together (default 10 per member)")
	fs.DurationVar(&c.Duration, "duration", 0, "how long to send (idle: to stay idle); default 10s")
	fs.IntVar(&c.Publishers, "publishers", 0, "fanout: sending members (default: rate/10, the gateway allows 20/s per connection)")
	fs.IntVar(&c.BodySize, "size", 100, "message body size in bytes")
	fs.StringVar(&c.JSONOut, "json", "", "write the result as JSON to this file")
	fs.StringVar(&c.SVGOut, "svg", "", "write a chart: idle RSS/conn vs connections, ramp latency vs rate, else a timeline")
	fs.StringVar(&c.MongoURI, "mongo-uri", os.Getenv("IM_MONGO_URI"), "the gateways' MongoDB, for seeding ($IM_MONGO_URI)")
	fs.StringVar(&c.MongoDB, "mongo-db", os.Getenv("IM_MONGO_DB"), "its database ($IM_MONGO_DB)")
	fs.StringVar(&c.JWTKeyFile, "jwt-key", os.Getenv("IM_JWT_PRIVATE_KEY_FILE"), "the API's signing key (Ed25519 PKCS#8 PEM), to mint access tokens")
	fs.StringVar(&c.Issuer, "iss", envOr("IM_JWT_ISSUER", "im-websocket-go"), "iss of the minted tokens")
	fs.StringVar(&c.Audience, "aud", envOr("IM_JWT_AUDIENCE", "im-websocket-go"), "aud of the minted tokens")
	fs.DurationVar(&c.TokenTTL, "token-ttl", 0, "lifetime of the minted tokens (default: long enough for the run)")
	fs.StringVar(&srcIPs, "source-ips", "", "local addresses to dial from, e.g. 127.0.0.1,127.0.0.2 (~28k connections each; default: enough of 127.0.0.x)")
	fs.StringVar(&pids, "gateway-pid", "", "comma-separated gateway pids: RSS and CPU from /proc")
	fs.StringVar(&metrics, "metrics-url", "", "comma-separated gateway /metrics URLs: RSS and CPU from process_* metrics")
	fs.BoolVar(&c.Embedded, "embedded", false, "bring up redis-server, FerretDB and the gateways here")
	fs.BoolVar(&c.Spawn, "spawn", false, "embedded: run the gateways as child processes (RSS/CPU apart from the clients)")
	fs.IntVar(&c.Nodes, "nodes", 0, "embedded: gateway nodes (default 1)")
	fs.StringVar(&c.PostgresURL, "postgres-url", "", "embedded -store postgres: the PostgreSQL database of the gateways")
	fs.StringVar(&c.Kind, "kind", "", "text (the default) or image: each message an image (its file record seeded by the tool, an attachment in every frame) with the body as its caption; -embedded only")
	fs.StringVar(&c.Client, "client", "raw", "raw (the tool's own frame reader: counts the server's duplicates and reorderings, 4 KiB per connection) or sdk (each user a Go SDK client, pkg/client: what an app sees); fanout, direct and ramp")
	fs.BoolVar(&c.Deflate, "deflate", false, "the clients offer permessage-deflate (RFC 7692) and inflate what the gateways compress; compare the gateways' bytes out and CPU with and without")
	fs.DurationVar(&c.MaxFrameAge, "max-frame-age", time.Second, "embedded and standalone: the nodes' IM_STORE_MAX_FRAME_AGE (sends that waited this long in a node are refused at once when the store is full; 0: off; default as in production)")
	fs.DurationVar(&c.WriteDelay, "write-delay", 0, "embedded: gateways' IM_WS_WRITE_DELAY (frames sent to a connection within it share one write)")
	fs.BoolVar(&c.AutoPipeline, "autopipeline", false, "embedded: gateways batch their Redis commands into pipelines (IM_REDIS_AUTOPIPELINE=true)")
	fs.StringVar(&c.Store, "store", "", "embedded: ferretdb (FerretDB/SQLite in process, the default), postgres (-postgres-url) or mem (an in-memory store shared by in-process gateways: measures the gateways without the database); -target standalone: sqlite (the default) or ferretdb")
	fs.StringVar(&c.Target, "target", "", "standalone: run cmd/standalone on a fresh, pre-seeded data folder and measure it (instead of -gateways or -embedded)")
	fs.StringVar(&c.SQLiteSync, "sqlite-sync", "FULL", "standalone on sqlite: IM_SQLITE_SYNC, FULL or NORMAL")
	fs.StringVar(&c.StandaloneBin, "standalone-bin", "", "standalone: a built cmd/standalone (default: go build it into the run's temp folder)")
	fs.BoolVar(&c.StandaloneInProcess, "standalone-inprocess", false, "standalone: run the server in this process (RSS and CPU then include the load clients; -profile-dir profiles both)")
	fs.IntVar(&c.Messages, "messages", 0, "history: messages stored in the room before the server starts (default 1000000)")
	fs.IntVar(&c.PageSize, "page", 50, "history: messages per page (the limit parameter)")
	fs.StringVar(&c.RedisURL, "redis", "", "embedded: use this Redis instead of starting redis-server; presence with -gateways: the gateways' Redis, whose INFO commandstats is read")
	fs.StringVar(&c.RedisTopology, "redis-topology", "single", "embedded: single (one redis-server) or cluster (3 primaries + 3 replicas, sharded Pub/Sub); each server's commands and CPU per acked message are reported")
	fs.DurationVar(&c.ChurnAway, "away", 0, "presence: how long a churned connection stays closed (0: reconnect at once, within the presence grace; above IM_PRESENCE_GRACE: offline and online transitions)")
	fs.DurationVar(&c.Grace, "grace", 0, "wait at most this long for stragglers after the last ack (default 15s, above the gateway's 10s seq-hole wait)")
	fs.BoolVar(&c.Sync, "sync", false, "recover still-missing messages with sync before counting them lost")
	fs.BoolVar(&c.OpenLoop, "open-loop", false, "no send window: after a refusal, keep sending new messages at the offered rate (each refused one retried on its own backoff) instead of pausing the connection's sends (docs/protocol.md §6)")
	fs.IntVar(&c.Steps, "steps", 8, "ramp: at most this many steps")
	fs.DurationVar(&c.StepDuration, "step", 0, "ramp: duration of a step (default 5s)")
	fs.Float64Var(&c.RampFactor, "factor", 1.5, "ramp: rate multiplier per step")
	fs.DurationVar(&c.MaxP99, "max-p99", 0, "ramp: stop after a step whose p99 exceeds this (default 50ms)")
	fs.StringVar(&c.RampOf, "ramp-of", "fanout", "ramp: fanout or direct")
	fs.IntVar(&c.DialConcurrency, "dial-concurrency", 128, "connections being opened at once")
	fs.IntVar(&c.Batches, "batches", 0, "idle: connect in this many steps, sampling RSS after each (default 10)")
	fs.DurationVar(&c.Settle, "settle", 0, "idle: pause before each RSS sample (default 1s)")
	fs.BoolVar(&c.IdleRooms, "idle-rooms", false, "idle: make the users friends in pairs (each has a direct room). The gateway reads a user's memberships at connect, a full collection scan on the embedded FerretDB: use it with a real MongoDB or -store mem, or small -n")
	fs.IntVar(&c.ReadBuffer, "read-buf", 0, "per-connection read buffer (default 4096; idle 512)")
	fs.StringVar(&c.ProfileDir, "profile-dir", "", "write CPU profiles of the gateways (pprof on their admin port) and of imbench during the measurement, and heap profiles after")
	fs.BoolVar(&c.Cleanup, "cleanup", true, "external store: delete the seeded documents and their messages afterwards")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress lines")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	c.Gateways, c.SourceIPs, c.MetricsURLs = split(gateways), split(srcIPs), split(metrics)
	for _, p := range split(pids) {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("-gateway-pid: %w", err)
		}
		c.GatewayPIDs = append(c.GatewayPIDs, n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := bench.Run(ctx, c)
	if err != nil {
		return nil, err
	}
	if res != nil {
		res.Setup.Command = "imbench " + strings.Join(args, " ")
		if c.JSONOut != "" {
			if err := res.WriteJSON(c.JSONOut); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func chart(args []string) error {
	fs := flag.NewFlagSet("imbench chart", flag.ContinueOnError)
	kind := fs.String("kind", "rss", "rss (idle results), latency (ramp results) or percore (fanout and direct results)")
	out := fs.String("out", "chart.svg", "chart file to write: .svg or .png")
	labels := fs.String("labels", "", "comma-separated names for the results' series, in order")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var rs []*bench.Result
	for _, p := range fs.Args() {
		r, err := bench.ReadResult(p)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		rs = append(rs, r)
	}
	if len(rs) == 0 {
		return fmt.Errorf("give result JSON files after the flags")
	}
	return bench.WriteChart(*kind, *out, rs, split(*labels))
}

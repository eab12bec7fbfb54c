// Package bench is the load generator behind cmd/imbench: it seeds users,
// rooms and friendships straight into the store, mints access tokens,
// opens WebSocket connections to one or more gateways and drives the
// contract's traffic (idle connections, group fan-out, 1:1 chat, a rising
// rate), checking every acked message for loss, duplication, reordering
// and content, and measuring throughput, latency and gateway memory and
// CPU. It can bring up the whole backend itself (Embedded) so that one
// command reproduces a figure on a fresh machine.
package bench

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/gateway"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
)

// Scenarios.
const (
	ScenarioIdle   = "idle"
	ScenarioFanout = "fanout"
	ScenarioDirect = "direct"
	ScenarioRamp   = "ramp"
	// ScenarioHistory pages through a room's stored history over REST
	// (GET /v1/rooms/{id}/messages?before=...); standalone target only.
	ScenarioHistory = "history"
)

// Config is one run. cmd/imbench maps its flags onto it.
type Config struct {
	Scenario string
	Gateways []string // ws://host:port/ws; connections are spread round-robin
	N        int      // connections (users)
	Group    int      // fanout: members of the group (default N)
	Rate     float64  // messages per second (ramp: the first step's)
	// ReadRate is the receipts storm's read frames per second, all
	// members together (default 10 per member).
	ReadRate float64
	Duration time.Duration
	// Publishers is the number of fanout senders (default: enough for
	// 10 msgs/s each, the gateway allowing 20/s per connection).
	Publishers int
	BodySize   int // bytes per message body (at least the header it carries)
	// Kind of the messages sent: "" (text) or KindImage (each message an
	// image whose file record the tool seeds; the body is its caption).
	Kind string
	// Client is ClientRaw (the default: the tool's own frame reader, the
	// verifier) or ClientSDK (each user is a pkg/client.Client); see sdk.go.
	Client string
	// Deflate: the clients offer permessage-deflate (the gateways accept
	// it, as in production) and inflate the compressed frames; the raw
	// client sends its own frames uncompressed.
	Deflate bool

	JSONOut string // write the result as JSON here
	SVGOut  string // idle: RSS/conn vs connections; ramp: latency vs rate

	MongoURI, MongoDB string
	JWTKeyFile        string // PEM signing key, the API's
	Issuer, Audience  string
	TokenTTL          time.Duration

	SourceIPs   []string // local addresses to dial from (loopback: any of 127.0.0.0/8)
	GatewayPIDs []int
	MetricsURLs []string

	Embedded bool   // bring up Redis, FerretDB and the gateways here
	Spawn    bool   // embedded: gateways as child processes
	Nodes    int    // embedded: gateway nodes
	RedisURL string // embedded: use this Redis instead of starting one
	// RedisTopology: embedded: "single" (one redis-server, the default)
	// or "cluster" (3 primaries + 3 replicas; the gateways use sharded
	// Pub/Sub). Each server's commands and CPU are counted.
	RedisTopology string
	// Store: embedded: "ferretdb" (default), "mem" (in-process gateways
	// share a memory store) or "postgres" (they share PostgresURL);
	// standalone: "sqlite" (default) or "ferretdb".
	Store string
	// PostgresURL is the PostgreSQL database of -store postgres.
	PostgresURL string
	// AutoPipeline: embedded gateways batch their Redis commands
	// (IM_REDIS_AUTOPIPELINE=true).
	AutoPipeline bool
	// WriteDelay: embedded gateways' IM_WS_WRITE_DELAY.
	WriteDelay time.Duration
	// MaxFrameAge: the embedded gateways' and the standalone's IM_STORE_MAX_FRAME_AGE.
	MaxFrameAge time.Duration

	// Target "standalone": cmd/standalone on a fresh data folder, seeded
	// before it starts (see TargetStandalone); "" is gateways or Embedded.
	Target              string
	SQLiteSync          string // standalone sqlite: FULL (default) or NORMAL
	StandaloneBin       string // a built cmd/standalone; empty: go build it
	StandaloneInProcess bool   // run it in this process (profiles, tests) instead of as a child
	Messages            int    // history: messages stored in the room (default 1,000,000)
	PageSize            int    // history: messages per page (default 50)

	Grace time.Duration // wait at most this long for stragglers after the last ack (default 15s)
	Sync  bool          // recover what is still missing with sync before judging
	// OpenLoop turns off the clients' send window (sendWindow): every
	// message goes out at its time and a refused one is retried on its own
	// backoff, whatever else the connection has in flight.
	OpenLoop bool

	Steps        int           // ramp: at most this many steps
	StepDuration time.Duration // ramp
	RampFactor   float64       // ramp: rate multiplier per step
	MaxP99       time.Duration // ramp: stop when a step's p99 exceeds it
	RampOf       string        // ramp: fanout or direct

	DialConcurrency int
	Batches         int           // idle: connect in this many steps, sampling RSS after each
	Settle          time.Duration // idle: pause before each RSS sample
	IdleRooms       bool          // idle: make the users friends in pairs (a direct room each)
	// ChurnAway is how long a churned connection stays closed before it
	// connects again (presence scenario); 0: at once (within the grace:
	// no presence transition), above IM_PRESENCE_GRACE: offline and
	// online transitions.
	ChurnAway  time.Duration
	ReadBuffer int    // per-connection read buffer; default 4096 (idle: 512)
	ProfileDir string // CPU (and heap) profiles of the gateways during the measurement
	Cleanup    bool   // delete seeded documents afterwards (external store)
	Quiet      bool   // no progress lines

	Out io.Writer // progress and the text summary; default os.Stdout

	// Programmatic use (tests): a signer instead of JWTKeyFile, a hook on
	// in-process gateway options.
	Signer *auth.Signer
	Tweak  func(*gateway.Options)
}

func (c *Config) defaults() error {
	if c.Out == nil {
		c.Out = os.Stdout
	}
	if c.Quiet {
		c.Out = io.Discard
	}
	switch c.Scenario {
	case ScenarioIdle, ScenarioFanout, ScenarioDirect, ScenarioRamp:
	case ScenarioReceipts:
		c.Publishers = 1 // one sender, whose read_counts are measured
	case ScenarioPresence:
		if c.N%2 == 1 {
			c.N++ // friends in pairs
		}
		if c.Rate <= 0 {
			c.Rate = 10
		}
	case ScenarioHistory:
		if c.Target != TargetStandalone {
			return errors.New("-scenario history needs -target standalone (it reads the REST API)")
		}
		c.N = 2
		if c.Messages <= 0 {
			c.Messages = 1_000_000
		}
		if c.PageSize <= 0 {
			c.PageSize = 50
		}
		if c.Messages < c.PageSize {
			return fmt.Errorf("-messages must be at least a page (%d)", c.PageSize)
		}
	default:
		return fmt.Errorf("unknown scenario %q (idle, fanout, direct, ramp, history, receipts, presence)", c.Scenario)
	}
	if c.RampOf == "" {
		c.RampOf = ScenarioFanout
	}
	if c.Scenario == ScenarioRamp && c.RampOf != ScenarioFanout && c.RampOf != ScenarioDirect {
		return fmt.Errorf("-ramp-of must be fanout or direct")
	}
	if c.N <= 0 {
		c.N = 1000
	}
	if c.work() == ScenarioFanout && c.Group <= 0 {
		c.Group = c.N
	}
	if c.work() == ScenarioFanout {
		c.N = c.Group
	}
	if c.work() == ScenarioDirect && c.N%2 == 1 {
		c.N++
	}
	if c.N < 2 && c.Scenario != ScenarioIdle {
		return errors.New("need at least 2 users")
	}
	if c.Rate <= 0 {
		c.Rate = 100
		if c.Scenario == ScenarioReceipts {
			c.Rate = 2
		}
	}
	if c.Scenario == ScenarioReceipts && c.ReadRate <= 0 {
		c.ReadRate = 10 * float64(c.N-1)
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.BodySize < 64 {
		c.BodySize = 64
	}
	if err := checkClient(c); err != nil {
		return err
	}
	switch c.Kind {
	case "", "text":
		c.Kind = ""
	case KindImage:
		if c.Target == TargetStandalone || !c.Embedded {
			return errors.New("-kind image needs -embedded (the tool seeds the files in the store)")
		}
	default:
		return fmt.Errorf("-kind must be text or image, not %q", c.Kind)
	}
	if c.Issuer == "" {
		c.Issuer = "im-websocket-go"
	}
	if c.Audience == "" {
		c.Audience = "im-websocket-go"
	}
	if c.Grace <= 0 {
		// Longer than the gateway's wait for a young seq hole (10s) plus
		// its gap timer: a delivery held behind a failed insert still
		// counts. Costs nothing when nothing is missing.
		c.Grace = 15 * time.Second
	}
	if c.Steps <= 0 {
		c.Steps = 8
	}
	if c.StepDuration <= 0 {
		c.StepDuration = 5 * time.Second
	}
	if c.RampFactor <= 1 {
		c.RampFactor = 1.5
	}
	if c.MaxP99 <= 0 {
		c.MaxP99 = 50 * time.Millisecond
	}
	if c.DialConcurrency <= 0 {
		c.DialConcurrency = 128
	}
	if c.Settle <= 0 {
		c.Settle = time.Second
	}
	if c.Batches <= 0 {
		c.Batches = 1
		if c.Scenario == ScenarioIdle && c.N >= 1000 {
			c.Batches = 10
		}
	}
	if c.ReadBuffer <= 0 {
		c.ReadBuffer = 4096
		if c.Scenario == ScenarioIdle {
			c.ReadBuffer = 512
		}
	}
	if c.Nodes <= 0 {
		c.Nodes = max(1, len(c.Gateways))
	}
	switch c.Target {
	case TargetStandalone:
		if c.Embedded || len(c.Gateways) > 0 {
			return errors.New("-target standalone brings up its own server: no -embedded or -gateways")
		}
		switch c.Store {
		case "", "sqlite":
			c.Store = "sqlite"
		case "ferretdb":
		default:
			return fmt.Errorf("-target standalone: -store must be sqlite or ferretdb, not %q", c.Store)
		}
		c.SQLiteSync = strings.ToUpper(c.SQLiteSync)
		switch c.SQLiteSync {
		case "":
			c.SQLiteSync = "FULL"
		case "FULL", "NORMAL":
		default:
			return fmt.Errorf("-sqlite-sync must be FULL or NORMAL, not %q", c.SQLiteSync)
		}
		c.Nodes = 1
	case "":
	default:
		return fmt.Errorf("unknown target %q (standalone, or none for -gateways / -embedded)", c.Target)
	}
	switch {
	case c.Target == TargetStandalone:
	case c.Store == "" || c.Store == "ferretdb":
		c.Store = "ferretdb"
	case c.Store == "mem" || c.Store == "postgres":
		if !c.Embedded || (c.Spawn && c.Store == "mem") {
			return fmt.Errorf("-store %s needs -embedded with in-process gateways (no -spawn)", c.Store)
		}
		if c.Store == "postgres" && c.PostgresURL == "" {
			return errors.New("-store postgres needs -postgres-url")
		}
	default:
		return fmt.Errorf("-store must be ferretdb, mem or postgres, not %q", c.Store)
	}
	if !c.Embedded && c.Target == "" && len(c.Gateways) == 0 {
		return errors.New("give -gateways or -embedded")
	}
	if !c.Embedded && c.Target == "" && (c.MongoURI == "" || c.MongoDB == "") {
		return errors.New("seeding needs -mongo-uri and -mongo-db (the gateways' store)")
	}
	if !c.Embedded && c.Target == "" && c.Signer == nil && c.JWTKeyFile == "" {
		return errors.New("minting tokens needs -jwt-key (the API's signing key)")
	}
	for _, s := range c.SourceIPs {
		if net.ParseIP(s) == nil {
			return fmt.Errorf("bad source address %q", s)
		}
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = max(time.Hour, 2*c.totalTime()+10*time.Minute)
	}
	return nil
}

// work is the traffic shape: the scenario, or for ramp its RampOf.
func (c *Config) work() string {
	switch c.Scenario {
	case ScenarioRamp:
		return c.RampOf
	case ScenarioReceipts:
		return ScenarioFanout
	}
	return c.Scenario
}

func (c *Config) totalTime() time.Duration {
	if c.Scenario == ScenarioRamp {
		return time.Duration(c.Steps) * c.StepDuration
	}
	return c.Duration
}

// Package config reads the settings of the binaries: every setting is an
// environment variable (the contract's names) with a flag of the same
// meaning; a flag given on the command line wins over the environment.
package config

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/wsnet"
	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/mongo"
	"github.com/im-websocket-go/im-websocket-go/pkg/webhook"
)

// MaxGroupMembersLimit bounds IM_MAX_GROUP_MEMBERS: 10 times the size
// measured end to end (docs/operations.md, group size).
const MaxGroupMembersLimit = 100000

// Config is the union of what cmd/api, cmd/gateway and cmd/standalone read.
type Config struct {
	MongoURI string
	MongoDB  string
	// MongoWriteConcern and MongoReadPreference: mongo.Options'
	// WriteConcern ("majority" or "1") and ReadPreference ("primary",
	// "primaryPreferred", "secondaryPreferred" or "nearest").
	MongoWriteConcern   string
	MongoReadPreference string
	RedisURL            string

	HTTPAddr  string
	WSAddr    string
	AdminAddr string

	JWTPrivateKeyFile string
	JWKSURL           string
	JWTPublicKeyFile  string
	JWTIssuer         string
	JWTAudience       string
	AccessTTL         time.Duration
	RefreshTTL        time.Duration
	// SweepInterval is how often the API (and standalone) purges expired
	// refresh tokens and sessions and frees deleted accounts' names.
	SweepInterval time.Duration
	// DeletedGrace is how long a deleted account's name and email stay
	// taken.
	DeletedGrace time.Duration
	// RecallWindow is how long a sender may recall a message.
	RecallWindow time.Duration
	// MaxGroupMembers is the largest group (every way of joining).
	MaxGroupMembers int

	SMTPAddr     string
	SMTPUsername string
	SMTPPassword string
	SMTPFrom     string
	SMTPTLS      string

	AllowedOrigins []string
	// Store is the store: "sqlite" (standalone only: a file in DataDir),
	// "mongo" (MongoURI) or "postgres" (PostgresURL); empty: sqlite for
	// standalone, mongo for the API and the gateway.
	Store       string
	PostgresURL string
	// SQLiteSync is SQLite's synchronous setting: FULL (an acked message
	// survives power loss) or NORMAL (it survives a process crash).
	SQLiteSync      string
	DataDir         string
	LogLevel        string
	NodeID          string
	ShutdownGrace   time.Duration
	MaxConnsPerUser int
	// Heartbeat is the ping interval gateways advertise in hello (idle
	// connections are closed after three); PresenceInterval how often a
	// gateway renews its users' presence records (0: half the
	// heartbeat; records live two intervals); PresenceGrace how long
	// after a user's last connection closed they are announced offline.
	Heartbeat        time.Duration
	PresenceInterval time.Duration
	PresenceGrace    time.Duration
	// PresencePrefix starts the presence keys in Redis ("" : "pr"). Not
	// read from the environment: tests that share one Redis set it apart.
	PresencePrefix string
	// WSDeflate lets gateways negotiate permessage-deflate with clients
	// that offer it (no context takeover); WSDeflateThreshold is the
	// smallest frame they compress, in bytes.
	WSDeflate          bool
	WSDeflateThreshold int
	// BusUserLayout is where user events travel between nodes (see
	// bus.UserLayout): per-user channels, both, or user shard channels.
	BusUserLayout bus.UserLayout
	// WSWriteDelay lets a WebSocket connection's writer wait that long so
	// that the frames sent to it meanwhile share one write (0: no wait).
	WSWriteDelay time.Duration
	// StoreMaxFrameAge: a send frame that already waited this long in a
	// gateway is refused at once when no store slot is free (0: off;
	// default 1s).
	StoreMaxFrameAge time.Duration
	// TrustProxy takes the client address (for rate limits) from
	// X-Forwarded-For: set it only behind a proxy that sets that header.
	TrustProxy bool
	// Uploaded files: a local folder (BlobDir; standalone defaults to
	// DataDir/files) or S3-compatible storage (S3Bucket set), and the
	// largest upload in bytes.
	BlobDir     string
	S3Endpoint  string
	S3Bucket    string
	S3Region    string
	S3AccessKey string
	S3SecretKey string
	S3TLS       bool
	MaxUpload   int
	// RedisAutoPipeline batches the Redis commands of concurrent requests
	// (seq counters, publishes, revocation reads) into pipelines
	// (go-redis' automatic pipelining): fewer round trips and system
	// calls under load, the same answers.
	RedisAutoPipeline bool
	// RedisTopology is single (IM_REDIS_URL), sentinel
	// (RedisSentinelAddrs and RedisSentinelMaster) or cluster
	// (RedisClusterAddrs), set by which settings are given (redis.go).
	RedisTopology         string
	RedisSentinelAddrs    []string
	RedisSentinelMaster   string
	RedisSentinelPassword string
	RedisClusterAddrs     []string
	// Args are the command-line arguments left after the flags.
	Args []string

	// AdminKeys are the admin API's keys (IM_ADMIN_KEYS, comma-separated,
	// each at least MinAdminKey characters); none: the admin API is off.
	AdminKeys []string
	// Bring your own identity (identity.go): the host app's identity
	// provider, whose access tokens are accepted next to the built-in
	// ones; off while IDPIssuer is empty.
	IDPIssuer        string
	IDPAudience      string
	IDPJWKSURL       string
	IDPAlgorithms    []string
	IDPUserClaim     string
	IDPNicknameClaim string
	IDPAvatarClaim   string
	IDPMinRefresh    time.Duration
	IDPFetchTimeout  time.Duration
	IDPMaxTokenTTL   time.Duration
	// BuiltinAuth keeps the built-in email registration and login open
	// (IM_BUILTIN_AUTH, default true).
	BuiltinAuth bool
	// Webhooks (docs/integration.md): the endpoints, from IM_WEBHOOKS
	// (JSON) or IM_WEBHOOKS_FILE; empty: no webhooks.
	Webhooks []webhook.Endpoint
	// WebhookTimeout bounds one asynchronous delivery;
	// WebhookBeforeSendTimeout the synchronous before_send call.
	WebhookTimeout           time.Duration
	WebhookBeforeSendTimeout time.Duration
	// WebhookFailOpen lets a message through when before_send fails.
	WebhookFailOpen bool
	// WebhookMaxAttempts is how many failed attempts dead-letter a
	// delivery; WebhookConcurrency bounds the calls in flight per process.
	WebhookMaxAttempts int
	WebhookConcurrency int
	// WebhookOutboxPrefix starts the outbox's Redis keys ("": "{ob}"); it
	// must hold a hash tag. Not read from the environment: tests that
	// share one Redis set it apart.
	WebhookOutboxPrefix string
}

// MinAdminKey is the shortest admin key IM_ADMIN_KEYS accepts.
const MinAdminKey = 32

type binding struct {
	env, flag, usage string
	str              *string
	dur              *time.Duration
	num              *int
	def              string
}

// Load fills a Config from getenv and args. fs receives the flags; pass
// flag.NewFlagSet(name, flag.ContinueOnError).
func Load(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, error) {
	var c Config
	var origins, trustProxy, s3TLS, autoPipeline, wsDeflate, busUsers string
	var adminKeys string
	bs := []binding{
		{"IM_MONGO_URI", "mongo-uri", "MongoDB connection string", &c.MongoURI, nil, nil, "mongodb://127.0.0.1:27017"},
		{"IM_MONGO_DB", "mongo-db", "MongoDB database name", &c.MongoDB, nil, nil, "im"},
		{"IM_MONGO_WRITE_CONCERN", "mongo-write-concern", "MongoDB write concern: majority (an ack survives a failover) or 1", &c.MongoWriteConcern, nil, nil, mongo.WriteMajority},
		{"IM_MONGO_READ_PREFERENCE", "mongo-read-preference", "MongoDB read preference: primary, primaryPreferred, secondaryPreferred or nearest", &c.MongoReadPreference, nil, nil, mongo.ReadPrimary},
		{"IM_REDIS_URL", "redis-url", "Redis URL redis://host:port/db", &c.RedisURL, nil, nil, "redis://127.0.0.1:6379/0"},
		{"IM_HTTP_ADDR", "http-addr", "listen address of the API (and of standalone)", &c.HTTPAddr, nil, nil, "127.0.0.1:8080"},
		{"IM_WS_ADDR", "ws-addr", "gateway WebSocket listen address", &c.WSAddr, nil, nil, "127.0.0.1:8081"},
		{"IM_ADMIN_ADDR", "admin-addr", "gateway health and metrics address", &c.AdminAddr, nil, nil, "127.0.0.1:9091"},
		{"IM_JWT_PRIVATE_KEY_FILE", "jwt-private-key-file", "Ed25519 signing key (PKCS#8 PEM); unset: an ephemeral key", &c.JWTPrivateKeyFile, nil, nil, ""},
		{"IM_JWKS_URL", "jwks-url", "URL of the API's JWKS (gateway)", &c.JWKSURL, nil, nil, ""},
		{"IM_JWT_PUBLIC_KEY_FILE", "jwt-public-key-file", "Ed25519 public key PEM (gateway, instead of the JWKS)", &c.JWTPublicKeyFile, nil, nil, ""},
		{"IM_JWT_ISSUER", "jwt-issuer", "iss of access tokens", &c.JWTIssuer, nil, nil, "im-websocket-go"},
		{"IM_JWT_AUDIENCE", "jwt-audience", "aud of access tokens", &c.JWTAudience, nil, nil, "im-websocket-go"},
		{"IM_ACCESS_TTL", "access-ttl", "access token lifetime", nil, &c.AccessTTL, nil, "15m"},
		{"IM_REFRESH_TTL", "refresh-ttl", "refresh token lifetime", nil, &c.RefreshTTL, nil, "720h"},
		{"IM_SWEEP_INTERVAL", "sweep-interval", "how often expired sessions and refresh tokens are purged and deleted accounts' names freed (API, standalone)", nil, &c.SweepInterval, nil, "10m"},
		{"IM_RECALL_WINDOW", "recall-window", "how long after sending a sender may recall a message (a group's owner: any time)", nil, &c.RecallWindow, nil, "2m"},
		{"IM_MAX_GROUP_MEMBERS", "max-group-members", "the most members a group may have (invitations, approved join requests and invite links alike); 2-100000", nil, nil, &c.MaxGroupMembers, "10000"},
		{"IM_DELETED_GRACE", "deleted-grace", "how long a deleted account's name and email stay taken", nil, &c.DeletedGrace, nil, "720h"},
		{"IM_SMTP_ADDR", "smtp-addr", "SMTP server host:port; unset: codes go to the log", &c.SMTPAddr, nil, nil, ""},
		{"IM_SMTP_USERNAME", "smtp-username", "SMTP user", &c.SMTPUsername, nil, nil, ""},
		{"IM_SMTP_PASSWORD", "smtp-password", "SMTP password", &c.SMTPPassword, nil, nil, ""},
		{"IM_SMTP_FROM", "smtp-from", "From address of mails", &c.SMTPFrom, nil, nil, "im-websocket-go <no-reply@localhost>"},
		{"IM_SMTP_TLS", "smtp-tls", "none, starttls or tls", &c.SMTPTLS, nil, nil, "starttls"},
		{"IM_ALLOWED_ORIGINS", "allowed-origins", "comma-separated Origin allowlist (WebSocket, CORS); empty: same host only for browsers", &origins, nil, nil, ""},
		{"IM_DATA_DIR", "data-dir", "standalone's data folder", &c.DataDir, nil, nil, "./data"},
		{"IM_STORE", "store", "the store: mongo (IM_MONGO_URI), postgres (IM_POSTGRES_URL) or, standalone only, sqlite (in the data folder); default: sqlite for standalone, mongo otherwise", &c.Store, nil, nil, ""},
		{"IM_POSTGRES_URL", "postgres-url", "PostgreSQL connection string (IM_STORE=postgres), postgres://user:pass@host:5432/db", &c.PostgresURL, nil, nil, ""},
		{"IM_SQLITE_SYNC", "sqlite-sync", "SQLite synchronous setting: FULL (acked survives power loss) or NORMAL (survives a crash)", &c.SQLiteSync, nil, nil, "FULL"},
		{"IM_LOG_LEVEL", "log-level", "debug, info, warn or error", &c.LogLevel, nil, nil, "info"},
		{"IM_NODE_ID", "node-id", "this node's name (default: hostname)", &c.NodeID, nil, nil, ""},
		{"IM_SHUTDOWN_GRACE", "shutdown-grace", "how long a graceful shutdown may take", nil, &c.ShutdownGrace, nil, "20s"},
		{"IM_HEARTBEAT", "heartbeat", "ping interval advertised to clients; idle connections close after three", nil, &c.Heartbeat, nil, "30s"},
		{"IM_PRESENCE_INTERVAL", "presence-interval", "how often a gateway renews its users' presence records in one batch (0: half IM_HEARTBEAT); records live two intervals", nil, &c.PresenceInterval, nil, "0s"},
		{"IM_PRESENCE_GRACE", "presence-grace", "how long after a user's last connection closed they are announced offline (a reconnect within it sends nothing)", nil, &c.PresenceGrace, nil, "5s"},
		{"IM_MAX_CONNS_PER_USER", "max-conns-per-user", "simultaneous WebSocket connections per user", nil, nil, &c.MaxConnsPerUser, "16"},
		{"IM_WS_DEFLATE", "ws-deflate", "on: negotiate permessage-deflate with WebSocket clients that offer it; off: never", &wsDeflate, nil, nil, "on"},
		{"IM_WS_DEFLATE_THRESHOLD", "ws-deflate-threshold", "smallest WebSocket frame compressed on a deflate connection, in bytes", nil, nil, &c.WSDeflateThreshold, "512"},
		{"IM_BUS_USER_CHANNELS", "bus-user-channels", "where user events travel between nodes: shards (1,024 shared channels), per-user (one channel per online user, as before) or both (the step between them in a rolling upgrade)", &busUsers, nil, nil, "shards"},
		{"IM_STORE_MAX_FRAME_AGE", "store-max-frame-age", "gateway: a send that already waited this long in the node (for a worker, behind its connection's earlier frames) is answered unavailable at once when no store slot is free, instead of waiting for one, so that an overloaded node answers its senders within about a second (0: off; clients should pause their sends after a refusal, docs/protocol.md §6)", nil, &c.StoreMaxFrameAge, nil, "1s"},
		{"IM_WS_WRITE_DELAY", "ws-write-delay", "how long a WebSocket connection's idle writer waits so that the frames sent to it meanwhile share one write (0: no wait; at most 50ms)", nil, &c.WSWriteDelay, nil, "0s"},
		{"IM_BLOB_DIR", "blob-dir", "folder for uploaded files (api; standalone default: IM_DATA_DIR/files); unused when IM_S3_BUCKET is set", &c.BlobDir, nil, nil, ""},
		{"IM_S3_ENDPOINT", "s3-endpoint", "S3-compatible storage host[:port] for uploaded files", &c.S3Endpoint, nil, nil, "s3.amazonaws.com"},
		{"IM_S3_BUCKET", "s3-bucket", "bucket of uploaded files; set: files go to S3", &c.S3Bucket, nil, nil, ""},
		{"IM_S3_REGION", "s3-region", "the bucket's region (empty: asked)", &c.S3Region, nil, nil, ""},
		{"IM_S3_ACCESS_KEY", "s3-access-key", "S3 access key", &c.S3AccessKey, nil, nil, ""},
		{"IM_S3_SECRET_KEY", "s3-secret-key", "S3 secret key", &c.S3SecretKey, nil, nil, ""},
		{"IM_S3_TLS", "s3-tls", "true: HTTPS to the S3 endpoint", &s3TLS, nil, nil, "true"},
		{"IM_MAX_UPLOAD", "max-upload", "largest uploaded file, in bytes", nil, nil, &c.MaxUpload, "26214400"},
		{"IM_REDIS_AUTOPIPELINE", "redis-autopipeline", "true: batch the Redis commands of concurrent requests into pipelines (go-redis automatic pipelining); false: one round trip each", &autoPipeline, nil, nil, "false"},
		{"IM_TRUST_PROXY", "trust-proxy", "true: take the client address from X-Forwarded-For (only behind a proxy that sets it)", &trustProxy, nil, nil, "false"},
		{"IM_ADMIN_KEYS", "admin-keys", "comma-separated admin API keys, each at least 32 characters (API, standalone); empty: the admin API is off", &adminKeys, nil, nil, ""},
	}
	var idp identityRaw
	bs = append(bs, identityBindings(&c, &idp)...)
	var webhooksFile, failOpen string
	bs = append(bs, webhookBindings(&c, &webhooksFile, &failOpen)...)
	var redisRaw redisRaw
	bs = append(bs, redisBindings(&c, &redisRaw)...)
	for _, b := range bs {
		def := b.def
		if v := getenv(b.env); v != "" {
			def = v
		}
		usage := b.usage + " ($" + b.env + ")"
		switch {
		case b.str != nil:
			fs.StringVar(b.str, b.flag, def, usage)
		case b.dur != nil:
			d, err := time.ParseDuration(def)
			if err != nil {
				return c, fmt.Errorf("config: %s: %w", b.env, err)
			}
			fs.DurationVar(b.dur, b.flag, d, usage)
		case b.num != nil:
			var n int
			if _, err := fmt.Sscan(def, &n); err != nil {
				return c, fmt.Errorf("config: %s: %w", b.env, err)
			}
			fs.IntVar(b.num, b.flag, n, usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	for _, o := range strings.Split(origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.AllowedOrigins = append(c.AllowedOrigins, o)
		}
	}
	switch s3TLS {
	case "true":
		c.S3TLS = true
	case "false":
	default:
		return c, fmt.Errorf("config: IM_S3_TLS must be true or false, not %q", s3TLS)
	}
	if c.MaxGroupMembers < 2 || c.MaxGroupMembers > MaxGroupMembersLimit {
		return c, fmt.Errorf("config: IM_MAX_GROUP_MEMBERS must be 2-%d", MaxGroupMembersLimit)
	}
	if c.Heartbeat < time.Second || c.PresenceInterval < 0 || c.PresenceGrace < 0 {
		return c, fmt.Errorf("config: IM_HEARTBEAT must be at least 1s, IM_PRESENCE_INTERVAL and IM_PRESENCE_GRACE not negative")
	}
	if c.PresenceInterval > 0 && c.PresenceInterval < 50*time.Millisecond {
		return c, fmt.Errorf("config: IM_PRESENCE_INTERVAL must be 0 (half IM_HEARTBEAT) or at least 50ms")
	}
	if c.MaxUpload <= 0 {
		return c, fmt.Errorf("config: IM_MAX_UPLOAD must be a positive number of bytes")
	}
	switch autoPipeline {
	case "true":
		c.RedisAutoPipeline = true
	case "false":
	default:
		return c, fmt.Errorf("config: IM_REDIS_AUTOPIPELINE must be true or false, not %q", autoPipeline)
	}
	switch wsDeflate {
	case "on", "true", "1":
		c.WSDeflate = true
	case "off", "false", "0":
	default:
		return c, fmt.Errorf("config: IM_WS_DEFLATE must be on or off, not %q", wsDeflate)
	}
	if c.WSDeflateThreshold < 1 {
		return c, fmt.Errorf("config: IM_WS_DEFLATE_THRESHOLD must be at least 1 byte")
	}
	layout, err := bus.ParseUserLayout(busUsers)
	if err != nil {
		return c, fmt.Errorf("config: IM_BUS_USER_CHANNELS: %w", err)
	}
	c.BusUserLayout = layout
	if c.StoreMaxFrameAge < 0 {
		return c, fmt.Errorf("config: IM_STORE_MAX_FRAME_AGE must not be negative, not %v", c.StoreMaxFrameAge)
	}
	if c.WSWriteDelay < 0 || c.WSWriteDelay > wsnet.MaxWriteDelay {
		return c, fmt.Errorf("config: IM_WS_WRITE_DELAY must be between 0 and %v, not %v", wsnet.MaxWriteDelay, c.WSWriteDelay)
	}
	switch trustProxy {
	case "true", "1":
		c.TrustProxy = true
	case "false", "0", "":
	default:
		return c, fmt.Errorf("config: IM_TRUST_PROXY must be true or false, not %q", trustProxy)
	}
	switch c.Store {
	case "", "sqlite", "mongo":
	case "postgres":
		if c.PostgresURL == "" {
			return c, fmt.Errorf("config: IM_STORE=postgres needs IM_POSTGRES_URL")
		}
	default:
		return c, fmt.Errorf("config: IM_STORE must be mongo, postgres or sqlite, not %q", c.Store)
	}
	if _, err := mongo.ParseWriteConcern(c.MongoWriteConcern); err != nil {
		return c, fmt.Errorf("config: IM_MONGO_WRITE_CONCERN: %w", err)
	}
	if _, err := mongo.ParseReadPreference(c.MongoReadPreference); err != nil {
		return c, fmt.Errorf("config: IM_MONGO_READ_PREFERENCE: %w", err)
	}
	switch c.SQLiteSync {
	case "FULL", "NORMAL":
	default:
		return c, fmt.Errorf("config: IM_SQLITE_SYNC must be FULL or NORMAL, not %q", c.SQLiteSync)
	}
	for _, k := range strings.Split(adminKeys, ",") {
		if k = strings.TrimSpace(k); k == "" {
			continue
		} else if len(k) < MinAdminKey {
			// The key itself is never repeated in an error.
			return c, fmt.Errorf("config: IM_ADMIN_KEYS: every key must be at least %d characters (key %d is %d)", MinAdminKey, len(c.AdminKeys)+1, len(k))
		}
		c.AdminKeys = append(c.AdminKeys, k)
	}
	c.Args = fs.Args()
	if err := finishIdentity(&c, idp); err != nil {
		return c, err
	}
	if err := loadWebhooks(&c, getenv, webhooksFile, failOpen); err != nil {
		return c, err
	}
	if err := finishRedis(&c, getenv, redisRaw); err != nil {
		return c, err
	}
	switch c.SMTPTLS {
	case "none", "starttls", "tls":
	default:
		return c, fmt.Errorf("config: IM_SMTP_TLS must be none, starttls or tls, not %q", c.SMTPTLS)
	}
	return c, nil
}

// Env lists every environment variable Load reads (for docs and the
// deployment tests).
func Env() []string {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	var names []string
	seen := map[string]bool{}
	_, _ = Load(fs, nil, func(k string) string {
		if !seen[k] {
			seen[k] = true
			names = append(names, k)
		}
		return ""
	})
	return names
}

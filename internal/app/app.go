// Package app wires the packages into running programs. cmd/api,
// cmd/gateway and cmd/standalone only parse their configuration and call
// into here; integration tests build the same wiring.
package app

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/emailcode"
	"github.com/im-websocket-go/im-websocket-go/internal/mail"
	"github.com/im-websocket-go/im-websocket-go/internal/media"
	"github.com/im-websocket-go/im-websocket-go/internal/service"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/blob"
	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
	"github.com/im-websocket-go/im-websocket-go/pkg/kv"
	"github.com/im-websocket-go/im-websocket-go/pkg/outbox"
	"github.com/im-websocket-go/im-websocket-go/pkg/presence"
	"github.com/im-websocket-go/im-websocket-go/pkg/stats"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/webhook"
)

// NewLogger builds the production zap logger at the configured level.
func NewLogger(level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("IM_LOG_LEVEL: %w", err)
	}
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.Sampling = nil
	return cfg.Build()
}

// Backends are the store, the atomic kv and the bus a node runs on.
type Backends struct {
	Store store.Store
	KV    kv.KV
	Bus   bus.Bus
	// UserLayout is where user events travel on Bus (IM_BUS_USER_CHANNELS;
	// "": bus.UserLayoutShards).
	UserLayout bus.UserLayout
	// Blobs keeps uploaded files (nil: uploads are off); Close closes it.
	Blobs blob.Store
	// Presence holds who is online (nil: presence is off).
	Presence presence.Presence
	// Stats holds the nodes' reports and the messages per minute for the
	// admin API (nil: off).
	Stats stats.Stats
	// Webhooks calls the host app (nil: no webhooks); SetupWebhooks.
	Webhooks *webhook.Hooks
	// Outbox queues the webhook deliveries. nil: SetupWebhooks takes
	// Redis's when there is Redis, else one in memory.
	Outbox outbox.Outbox
	// RedisHealth watches Redis and gates the commands while it does not
	// answer (nil without Redis); run it with WatchRedis.
	RedisHealth *RedisHealth
	// redis is the plain Redis client of RedisBackends (nil otherwise).
	redis redis.UniversalClient
	// Ping reports whether the backends are reachable (readiness).
	Ping func(ctx context.Context) error
	// Close releases them.
	Close func()
}

// Signer loads the signing key, or makes an ephemeral one with a loud
// warning (tokens then die with the process and cannot be verified by
// gateways that did not fetch this process's JWKS).
func Signer(cfg config.Config, log *zap.Logger) (*auth.Signer, error) {
	if cfg.JWTPrivateKeyFile != "" {
		s, err := auth.LoadSigner(cfg.JWTPrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("IM_JWT_PRIVATE_KEY_FILE: %w", err)
		}
		return s, nil
	}
	log.Warn("IM_JWT_PRIVATE_KEY_FILE is not set: using an EPHEMERAL signing key; every token dies with this process. Set it in production.")
	return auth.GenerateSigner()
}

// Mailer returns the SMTP sender, or the log sender when IM_SMTP_ADDR is
// unset.
func Mailer(cfg config.Config, log *zap.Logger) (mail.Sender, error) {
	if cfg.SMTPAddr == "" {
		log.Warn("IM_SMTP_ADDR is not set: verification codes will be written to the log (development mode)")
		return mail.Log{L: log}, nil
	}
	return mail.NewSMTP(mail.SMTPOptions{Addr: cfg.SMTPAddr, Username: cfg.SMTPUsername,
		Password: cfg.SMTPPassword, From: cfg.SMTPFrom, TLS: cfg.SMTPTLS})
}

// Core is the service with its token machinery.
type Core struct {
	Service  *service.Service
	Signer   *auth.Signer
	Issuer   *auth.Issuer
	Verifier *auth.Verifier
}

// CoreOptions tune NewCore; the zero value is the production setting.
type CoreOptions struct {
	Limits   service.Limits
	CodeOpts emailcode.Options
	Now      func() time.Time
}

// NewCore builds the service over b.
func NewCore(cfg config.Config, b Backends, signer *auth.Signer, sender mail.Sender, log *zap.Logger, o CoreOptions) (*Core, error) {
	iss := &auth.Issuer{Signer: signer, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, TTL: cfg.AccessTTL, Now: o.Now}
	ver, err := auth.NewVerifier(signer.Keys(), cfg.JWTIssuer, cfg.JWTAudience, auth.VerifierOptions{Now: o.Now})
	if err != nil {
		return nil, err
	}
	sess := &auth.Sessions{Tokens: b.Store, Issuer: iss, RefreshTTL: cfg.RefreshTTL, Now: o.Now}
	if o.Limits.RecallWindow == 0 {
		o.Limits.RecallWindow = cfg.RecallWindow
	}
	if o.Limits.MaxGroupMembers == 0 {
		o.Limits.MaxGroupMembers = cfg.MaxGroupMembers
	}
	if o.Limits.DeletedGrace == 0 {
		o.Limits.DeletedGrace = cfg.DeletedGrace
	}
	o.Limits = IdentityLimits(cfg, o.Limits)
	svc := service.New(service.Deps{
		Store: b.Store, KV: b.KV, Bus: b.Bus, Presence: b.Presence, Stats: b.Stats, Sessions: sess, Mail: sender,
		Codes: emailcode.New(b.KV, sender, o.CodeOpts), Log: log, Limits: o.Limits, Now: o.Now,
		Blobs: b.Blobs, Media: media.Limits{MaxSize: int64(cfg.MaxUpload)},
		Webhooks: b.Webhooks, UserLayout: b.UserLayout,
	})
	return &Core{Service: svc, Signer: signer, Issuer: iss, Verifier: ver}, nil
}

// Hostname is the default node id.
func Hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "node"
	}
	return h
}

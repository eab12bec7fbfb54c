// Package standalone runs the whole product in one process: the REST API,
// the gateway and the web client on one listener, over SQLite in a data
// folder (or a MongoDB server, IM_STORE=mongo) and an in-process bus and
// kv. cmd/standalone calls it; tests start it in process the same way.
//
// One server owns a data folder at a time: it holds an exclusive lock on
// its LOCK file while it runs.
package standalone

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/app"
	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/gateway"
	"github.com/im-websocket-go/im-websocket-go/internal/httpapi"
	"github.com/im-websocket-go/im-websocket-go/internal/mail"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/blob"
	"github.com/im-websocket-go/im-websocket-go/pkg/bus/membus"
	"github.com/im-websocket-go/im-websocket-go/pkg/kv/memkv"
	"github.com/im-websocket-go/im-websocket-go/pkg/outbox/sqliteoutbox"
	"github.com/im-websocket-go/im-websocket-go/pkg/presence/mempresence"
	"github.com/im-websocket-go/im-websocket-go/pkg/stats/memstats"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/webhook"
)

// Options are what differs between the command and tests.
type Options struct {
	Log     *zap.Logger
	Console io.Writer // where mails go without SMTP; default os.Stderr
	Core    app.CoreOptions
	// Web mounts the web client; nil: app.MountWeb.
	Web func(chi.Router)
}

// Server is a running standalone instance.
type Server struct {
	URL     string // http://host:port
	Addr    net.Addr
	Core    *app.Core
	Gateway *gateway.Gateway
	srv     *http.Server
	lock    *os.File
	st      store.Store
	blobs   blob.Store // nil: uploads off
	bus     *membus.Bus
	kv      *memkv.KV
	served  chan error
	closed  bool
	// stopSweeps ends the housekeeping sweeps; sweeps ends when they did.
	stopSweeps context.CancelFunc
	sweeps     chan struct{}

	// Webhooks is the host app's webhooks (nil: none configured);
	// stopWebhooks ends their dispatcher.
	Webhooks     *webhook.Hooks
	stopWebhooks func()
	outbox       *sqliteoutbox.Outbox // their queue (nil: no webhooks)
}

// OutboxFile is the webhook outbox's SQLite file in the data folder.
const OutboxFile = "webhooks.db"

// Start opens the data folder, starts everything and listens on
// cfg.HTTPAddr.
func Start(ctx context.Context, cfg config.Config, o Options) (s *Server, err error) {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.Console == nil {
		o.Console = os.Stderr
	}
	s = &Server{served: make(chan error, 1)}
	started := s
	defer func() {
		if err != nil {
			started.Close(context.Background())
		}
	}()
	if s.lock, err = lockDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	if s.st, err = openStore(ctx, cfg, o.Log); err != nil {
		return nil, err
	}
	var handler app.Deferred
	s.bus = membus.New(&handler, membus.Options{})
	s.kv = memkv.New()
	b := app.Backends{Store: s.st, KV: s.kv, Bus: s.bus, Presence: mempresence.New(), Stats: memstats.New(nil), Ping: s.st.Ping, Close: func() {}}
	if s.blobs, err = app.OpenBlobs(ctx, cfg, filepath.Join(cfg.DataDir, "files")); err != nil {
		return nil, err
	}
	b.Blobs = s.blobs

	signer, err := signer(cfg, o.Log)
	if err != nil {
		return nil, err
	}
	var sender mail.Sender = &mail.Console{W: o.Console}
	if cfg.SMTPAddr != "" {
		if sender, err = app.Mailer(cfg, o.Log); err != nil {
			return nil, err
		}
	}
	reg := prometheus.NewRegistry()
	if len(cfg.Webhooks) > 0 {
		// Deliveries still queued survive a restart, as in Redis.
		if s.outbox, err = sqliteoutbox.Open(ctx, filepath.Join(cfg.DataDir, OutboxFile), sqliteoutbox.Options{}); err != nil {
			return nil, fmt.Errorf("webhook outbox: %w", err)
		}
		b.Outbox = s.outbox
	}
	if err = app.SetupWebhooks(cfg, &b, o.Log, reg); err != nil {
		return nil, err
	}
	s.Webhooks = b.Webhooks
	s.stopWebhooks = app.RunWebhooks(context.WithoutCancel(ctx), cfg, b)
	if s.Core, err = app.NewCore(cfg, b, signer, sender, o.Log, o.Core); err != nil {
		return nil, err
	}
	gwOpts := app.GatewayOptions(cfg, o.Log, reg)
	gwOpts.Presence = b.Presence
	gwOpts.Stats = b.Stats
	tokens, err := app.Tokens(cfg, s.Core.Service, s.Core.Verifier, reg, o.Log)
	if err != nil {
		return nil, err
	}
	if s.Gateway, err = gateway.New(s.Core.Service, tokens, gwOpts); err != nil {
		return nil, err
	}
	s.Gateway.SetBus(s.bus)
	handler.Set(s.Gateway)
	s.Gateway.Run()
	if cfg.SweepInterval > 0 {
		sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		s.stopSweeps, s.sweeps = stop, make(chan struct{})
		go func() { defer close(s.sweeps); s.Core.Service.RunSweeps(sctx, cfg.SweepInterval) }()
	}
	web := o.Web
	if web == nil {
		web = app.MountWeb
	}
	api := httpapi.New(s.Core.Service, tokens, signer.JWKSJSON, o.Log, httpapi.Options{
		AllowedOrigins: cfg.AllowedOrigins,
		Ready:          b.Ping,
		Registry:       reg,
		Mount: func(r chi.Router) {
			r.Get("/ws", s.Gateway.ServeHTTP)
			web(r)
		},
		AdminKeys: cfg.AdminKeys,

		BuiltinAuthDisabled: cfg.IDPIssuer != "" && !cfg.BuiltinAuth,
	})
	l, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, err
	}
	s.Addr = l.Addr()
	s.URL = "http://" + l.Addr().String()
	s.srv = app.HTTPServer(api, o.Log)
	go func() { s.served <- s.srv.Serve(l) }()
	return s, nil
}

// Close drains the gateway and stops everything, within ctx.
func (s *Server) Close(ctx context.Context) error {
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if s.Gateway != nil {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		s.Gateway.Drain(dctx)
		cancel()
	}
	if s.srv != nil {
		errs = append(errs, s.srv.Shutdown(ctx))
		if err := <-s.served; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if s.Gateway != nil {
		errs = append(errs, s.Gateway.Close())
	}
	if s.stopSweeps != nil {
		s.stopSweeps()
		<-s.sweeps
	}
	if s.stopWebhooks != nil {
		s.stopWebhooks()
	}
	if s.Core != nil {
		s.Core.Service.Close()
	}
	if s.outbox != nil {
		errs = append(errs, s.outbox.Close())
	}
	if s.bus != nil {
		errs = append(errs, s.bus.Close())
	}
	if s.kv != nil {
		errs = append(errs, s.kv.Close())
	}
	if s.st != nil {
		errs = append(errs, s.st.Close(ctx))
	}
	if s.blobs != nil {
		errs = append(errs, s.blobs.Close())
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close()) // releases the lock
	}
	return errors.Join(errs...)
}

// DBFile is the SQLite database's file name in the data folder.
const DBFile = app.SQLiteFile

// openStore opens the store cfg.Store names (SQLite by default).
func openStore(ctx context.Context, cfg config.Config, log *zap.Logger) (store.Store, error) {
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "db")); err == nil && (cfg.Store == "" || cfg.Store == "sqlite") {
		log.Warn("the data folder has a db/ folder from an earlier version (embedded FerretDB); " +
			"it is not read: the store is now " + DBFile)
	}
	return app.OpenStore(ctx, cfg, "sqlite")
}

// signer keeps the signing key in the data folder, so tokens survive a
// restart.
func signer(cfg config.Config, log *zap.Logger) (*auth.Signer, error) {
	if cfg.JWTPrivateKeyFile != "" {
		return app.Signer(cfg, log)
	}
	path := filepath.Join(cfg.DataDir, "jwt-ed25519.pem")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, err
		}
		if _, err := auth.GenerateKeyFile(path); err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
	}
	return auth.LoadSigner(path)
}

// Command standalone runs all of im-websocket-go in one process on one
// port: the REST API, the WebSocket gateway and the web client, over an
// embedded MongoDB-compatible store (FerretDB, sqlite files in IM_DATA_DIR)
// and an in-process bus. Nothing else needs to be installed:
//
//	go run ./cmd/standalone
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/app"
	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/embeddb"
	"github.com/im-websocket-go/im-websocket-go/internal/gateway"
	"github.com/im-websocket-go/im-websocket-go/internal/httpapi"
	"github.com/im-websocket-go/im-websocket-go/internal/mail"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/bus/membus"
	"github.com/im-websocket-go/im-websocket-go/pkg/kv/memkv"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/mongo"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "standalone:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	cfg, err := config.Load(flag.NewFlagSet("standalone", flag.ContinueOnError), args, os.Getenv)
	if err != nil {
		return err
	}
	log, err := app.NewLogger(cfg.LogLevel)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	db, err := embeddb.Start(filepath.Join(cfg.DataDir, "db"), "127.0.0.1:0", nil)
	if err != nil {
		return err
	}
	defer db.Stop()
	st, err := mongo.Open(ctx, db.URI, "im", mongo.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = st.Close(context.Background()) }()

	var handler app.Deferred
	mb := membus.New(&handler, membus.Options{})
	defer func() { _ = mb.Close() }()
	kvs := memkv.New()
	defer func() { _ = kvs.Close() }()
	b := app.Backends{Store: st, KV: kvs, Bus: mb, Ping: st.Ping, Close: func() {}}

	signer, err := standaloneSigner(cfg, log)
	if err != nil {
		return err
	}
	var sender mail.Sender = &mail.Console{W: os.Stderr}
	if cfg.SMTPAddr != "" {
		if sender, err = app.Mailer(cfg, log); err != nil {
			return err
		}
	}
	core, err := app.NewCore(cfg, b, signer, sender, log, app.CoreOptions{})
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	gw, err := gateway.New(core.Service, core.Verifier, app.GatewayOptions(cfg, log, reg))
	if err != nil {
		return err
	}
	gw.SetBus(mb)
	handler.Set(gw)
	gw.Run()
	api := httpapi.New(core.Service, core.Verifier, signer.JWKSJSON, log, httpapi.Options{
		AllowedOrigins: cfg.AllowedOrigins,
		Ready:          b.Ping,
		Registry:       reg,
		Mount: func(r chi.Router) {
			r.Get("/ws", gw.ServeHTTP)
			app.MountWeb(r)
		},
	})
	l, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "\n  im-websocket-go standalone is running: open http://%s/\n  data folder: %s\n\n", l.Addr(), cfg.DataDir)
	srv := app.HTTPServer(api, log)
	errc := make(chan error, 1)
	go func() { errc <- app.Serve(ctx, srv, l, cfg.ShutdownGrace) }()
	<-ctx.Done()
	dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	gw.Drain(dctx)
	cancel()
	_ = gw.Close()
	return <-errc
}

// standaloneSigner keeps the signing key in the data folder, so tokens
// survive a restart.
func standaloneSigner(cfg config.Config, log *zap.Logger) (*auth.Signer, error) {
	if cfg.JWTPrivateKeyFile != "" {
		return app.Signer(cfg, log)
	}
	path := filepath.Join(cfg.DataDir, "jwt-ed25519.pem")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, err
		}
		if _, err := auth.GenerateKeyFile(path); err != nil {
			return nil, err
		}
	}
	return auth.LoadSigner(path)
}

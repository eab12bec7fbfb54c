// Command api is the stateless REST service: accounts, friends, groups,
// profile and history over MongoDB, with Redis for codes, limits and seqs.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/app"
	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/httpapi"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	cfg, err := config.Load(flag.NewFlagSet("api", flag.ContinueOnError), args, os.Getenv)
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

	b, err := app.Distributed(ctx, cfg, app.NopHandler{})
	if err != nil {
		return err
	}
	defer b.Close()
	signer, err := app.Signer(cfg, log)
	if err != nil {
		return err
	}
	sender, err := app.Mailer(cfg, log)
	if err != nil {
		return err
	}
	core, err := app.NewCore(cfg, b, signer, sender, log, app.CoreOptions{})
	if err != nil {
		return err
	}
	api := httpapi.New(core.Service, core.Verifier, signer.JWKSJSON, log, httpapi.Options{
		AllowedOrigins: cfg.AllowedOrigins,
		TrustProxy:     cfg.TrustProxy,
		Ready:          b.Ping,
		Mount:          app.MountWeb,
	})
	l, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return err
	}
	log.Info("api listening", zap.String("addr", l.Addr().String()))
	err = app.Serve(ctx, app.HTTPServer(api, log), l, cfg.ShutdownGrace)
	log.Info("api stopped")
	return err
}

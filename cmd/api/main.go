// Command api is the stateless REST service: accounts, friends, groups,
// profile and history over MongoDB, with Redis for codes, limits and seqs.
package main

import (
	"context"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/app"
	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/httpapi"
)

func main() { app.Main("api", run) }

func run(ctx context.Context, cfg config.Config, log *zap.Logger) error {
	b, err := app.Distributed(ctx, cfg, app.NopHandler{}, log)
	if err != nil {
		return err
	}
	defer b.Close()
	if b.Blobs, err = app.OpenBlobs(ctx, cfg, ""); err != nil {
		return err
	}
	if b.Blobs == nil {
		log.Warn("neither IM_S3_BUCKET nor IM_BLOB_DIR is set: file uploads are off")
	} else {
		defer b.Blobs.Close()
	}
	signer, err := app.Signer(cfg, log)
	if err != nil {
		return err
	}
	sender, err := app.Mailer(cfg, log)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := app.SetupWebhooks(cfg, &b, log, reg); err != nil {
		return err
	}
	core, err := app.NewCore(cfg, b, signer, sender, log, app.CoreOptions{})
	if err != nil {
		return err
	}
	defer core.Service.Close()
	if cfg.SweepInterval > 0 {
		go core.Service.RunSweeps(ctx, cfg.SweepInterval)
	}
	// The messages this process stores, for the admin API's stats.
	go core.Service.RunStatsFlush(ctx, 5*time.Second)
	defer app.RunWebhooks(ctx, cfg, b)()
	tokens, err := app.Tokens(cfg, core.Service, core.Verifier, reg, log)
	if err != nil {
		return err
	}
	api := httpapi.New(core.Service, tokens, signer.JWKSJSON, log, httpapi.Options{
		Registry:       reg,
		AllowedOrigins: cfg.AllowedOrigins,
		TrustProxy:     cfg.TrustProxy,
		Ready:          b.Ping,
		Mount:          app.MountWeb,
		AdminKeys:      cfg.AdminKeys,

		BuiltinAuthDisabled: cfg.IDPIssuer != "" && !cfg.BuiltinAuth,
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

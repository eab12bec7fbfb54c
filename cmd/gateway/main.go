// Command gateway holds WebSocket connections: it stores each message,
// publishes it on Redis by room, and delivers to room members connected
// here. Run as many as needed behind a load balancer.
package main

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/app"
	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/gateway"
	"github.com/im-websocket-go/im-websocket-go/internal/service"
)

func main() { app.Main("gateway", run) }

func run(ctx context.Context, cfg config.Config, log *zap.Logger) error {
	ver, _, err := app.GatewayVerifier(cfg)
	if err != nil {
		return err
	}
	var handler app.Deferred
	b, err := app.Distributed(ctx, cfg, &handler, log)
	if err != nil {
		return err
	}
	defer b.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := app.WatchRedis(ctx, b, log, reg); err != nil {
		return err
	}
	if err := app.SetupWebhooks(cfg, &b, log, reg); err != nil {
		return err
	}
	defer app.RunWebhooks(ctx, cfg, b)()
	svc := app.GatewayService(b, log, service.Limits{RecallWindow: cfg.RecallWindow, MaxGroupMembers: cfg.MaxGroupMembers})
	defer svc.Close()
	opts := app.GatewayOptions(cfg, log, reg)
	opts.Presence = b.Presence
	opts.Stats = b.Stats
	tokens, err := app.Tokens(cfg, svc, ver, reg, log)
	if err != nil {
		return err
	}
	gw, err := gateway.New(svc, tokens, opts)
	if err != nil {
		return err
	}
	gw.SetBus(b.Bus)
	handler.Set(gw)
	gw.Run()

	wsl, err := net.Listen("tcp", cfg.WSAddr)
	if err != nil {
		return err
	}
	adl, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ws", gw)
	wsSrv := app.HTTPServer(mux, log)
	adminSrv := app.HTTPServer(app.AdminHandler(gw, b.Ping, reg), log)
	go func() { _ = wsSrv.Serve(wsl) }()
	go func() { _ = adminSrv.Serve(adl) }()
	log.Info("gateway listening", zap.String("ws", wsl.Addr().String()), zap.String("admin", adl.Addr().String()))

	<-ctx.Done()
	// Drain: readiness goes false at once, clients are told to reconnect
	// elsewhere, and the process ends within the grace period.
	log.Info("draining", zap.Int("connections", gw.Len()))
	dctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace*3/4)
	gw.Drain(dctx)
	cancel()
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = wsSrv.Shutdown(sctx)
	_ = gw.Close()
	_ = adminSrv.Shutdown(sctx)
	log.Info("gateway stopped")
	return nil
}

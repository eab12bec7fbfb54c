package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/gateway"
	"github.com/im-websocket-go/im-websocket-go/internal/service"
	"github.com/im-websocket-go/im-websocket-go/internal/wsnet"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
)

// GatewayVerifier builds the gateway's token verifier from the JWKS URL or
// the public key file.
func GatewayVerifier(cfg config.Config) (*auth.Verifier, *auth.JWKSFetcher, error) {
	var keys auth.KeySource
	var fetcher *auth.JWKSFetcher
	switch {
	case cfg.JWTPublicKeyFile != "":
		k, err := auth.LoadPublicKeyFile(cfg.JWTPublicKeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("IM_JWT_PUBLIC_KEY_FILE: %w", err)
		}
		keys = k
	case cfg.JWKSURL != "":
		f, err := auth.NewJWKSFetcher(cfg.JWKSURL, &http.Client{}, auth.JWKSOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("IM_JWKS_URL: %w", err)
		}
		keys, fetcher = f, f
	default:
		return nil, nil, errors.New("set IM_JWKS_URL or IM_JWT_PUBLIC_KEY_FILE so the gateway can verify tokens")
	}
	v, err := auth.NewVerifier(keys, cfg.JWTIssuer, cfg.JWTAudience, auth.VerifierOptions{})
	return v, fetcher, err
}

// GatewayService is the service as a gateway uses it: messages and
// memberships only (no account or token issuing).
func GatewayService(b Backends, log *zap.Logger, lim service.Limits) *service.Service {
	return service.New(service.Deps{Store: b.Store, KV: b.KV, Bus: b.Bus, Presence: b.Presence, Stats: b.Stats, Log: log, Limits: lim,
		Webhooks: b.Webhooks, UserLayout: b.UserLayout})
}

// GatewayOptions maps the configuration onto the gateway's options (the
// caller sets Presence from its backends).
func GatewayOptions(cfg config.Config, log *zap.Logger, reg prometheus.Registerer) gateway.Options {
	node := cfg.NodeID
	if node == "" {
		node = Hostname()
	}
	return gateway.Options{NodeID: node, AllowedOrigins: cfg.AllowedOrigins,
		MaxConnsPerUser: cfg.MaxConnsPerUser, Registry: reg, Log: log,
		Heartbeat: cfg.Heartbeat, PresenceInterval: cfg.PresenceInterval, PresenceGrace: cfg.PresenceGrace,
		StoreMaxFrameAge: cfg.StoreMaxFrameAge,
		UserLayout:       cfg.BusUserLayout,
		WS:               wsnet.Options{Deflate: cfg.WSDeflate, DeflateThreshold: cfg.WSDeflateThreshold, WriteDelay: cfg.WSWriteDelay}}
}

// AdminHandler serves /healthz, /readyz and /metrics for a gateway.
func AdminHandler(gw *gateway.Gateway, ping func(context.Context) error, reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if gw.Draining() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"draining"}` + "\n"))
			return
		}
		if err := ping(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"unavailable"}` + "\n"))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ready"}` + "\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

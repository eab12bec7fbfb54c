package app

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/service"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/identity"
)

// Bring your own identity: the API and every gateway accept the access
// tokens of the host app's identity provider (IM_IDP_*) next to their own.

// IdentityLimits sets lim.ExternalTokenTTL from the configuration (user
// revocations are remembered as long as an external token may live).
func IdentityLimits(cfg config.Config, lim service.Limits) service.Limits {
	if cfg.IDPIssuer != "" && lim.ExternalTokenTTL == 0 {
		lim.ExternalTokenTTL = cfg.IDPMaxTokenTTL
	}
	return lim
}

// Tokens returns the token verifier of REST and the gateway: builtin
// itself when no identity provider is configured, else a
// service.Authenticator routing each token by its iss to builtin or to the
// provider, provisioning first-seen users through svc. Metrics go to reg
// (nil: none). The provider's JWKS is fetched once in the background to
// warm the cache; a failure is logged, and fetched again on use.
func Tokens(cfg config.Config, svc *service.Service, builtin auth.TokenVerifier, reg prometheus.Registerer, log *zap.Logger) (auth.TokenVerifier, error) {
	if cfg.IDPIssuer == "" {
		return builtin, nil
	}
	if log == nil {
		log = zap.NewNop()
	}
	m := identityMetrics(reg)
	keys, err := identity.NewJWKS(cfg.IDPJWKSURL, identity.JWKSOptions{
		MinRefresh: cfg.IDPMinRefresh, FetchTimeout: cfg.IDPFetchTimeout,
		OnFetch: func(err error) {
			if err != nil {
				m.fetches.WithLabelValues("error").Inc()
				log.Warn("identity provider JWKS fetch failed", zap.String("url", cfg.IDPJWKSURL), zap.Error(err))
				return
			}
			m.fetches.WithLabelValues("ok").Inc()
		},
	})
	if err != nil {
		return nil, fmt.Errorf("IM_IDP_JWKS_URL: %w", err)
	}
	src, err := identity.NewProvider(keys, identity.Config{
		Issuer: cfg.IDPIssuer, Audience: cfg.IDPAudience, Algorithms: cfg.IDPAlgorithms,
		UserClaim: cfg.IDPUserClaim, NicknameClaim: cfg.IDPNicknameClaim, AvatarClaim: cfg.IDPAvatarClaim,
		MaxLifetime: cfg.IDPMaxTokenTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("IM_IDP_*: %w", err)
	}
	a, err := service.NewAuthenticator(svc, builtin, []identity.Source{src}, service.AuthenticatorOptions{
		BuiltinIssuer: cfg.JWTIssuer,
		OnVerify:      func(_, outcome string) { m.tokens.WithLabelValues(outcome).Inc() },
	})
	if err != nil {
		return nil, err
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.IDPFetchTimeout+time.Second)
		defer cancel()
		_ = keys.Refresh(ctx) // OnFetch logs a failure
	}()
	return a, nil
}

type idMetrics struct {
	fetches, tokens *prometheus.CounterVec
}

func identityMetrics(reg prometheus.Registerer) idMetrics {
	m := idMetrics{
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "im_idp_jwks_fetches_total", Help: "Fetches of the identity provider's JWKS by result (ok, error).",
		}, []string{"result"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "im_idp_tokens_total", Help: "Identity provider access tokens checked, by outcome (ok, refused, unavailable).",
		}, []string{"outcome"}),
	}
	if reg == nil {
		return m
	}
	for _, c := range []**prometheus.CounterVec{&m.fetches, &m.tokens} {
		if err := reg.Register(*c); err != nil {
			if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
				if old, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
					*c = old
				}
			}
		}
	}
	return m
}

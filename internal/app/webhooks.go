package app

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/pkg/outbox/memoutbox"
	"github.com/im-websocket-go/im-websocket-go/pkg/outbox/redisoutbox"
	"github.com/im-websocket-go/im-websocket-go/pkg/webhook"
)

// SetupWebhooks builds b.Webhooks from the configuration (nothing when no
// endpoint is configured), with its metrics on reg. The outbox is
// b.Outbox when set (standalone: a SQLite file in its data folder), else
// Redis's when b has Redis (the outbox every process shares), else one in
// memory, lost on restart. Endpoints are logged by name and URL only.
func SetupWebhooks(cfg config.Config, b *Backends, log *zap.Logger, reg prometheus.Registerer) error {
	if len(cfg.Webhooks) == 0 {
		return nil
	}
	ob := b.Outbox
	switch {
	case ob != nil:
	case b.redis != nil:
		ob = redisoutbox.New(b.redis, redisoutbox.Options{Prefix: cfg.WebhookOutboxPrefix})
	default:
		ob = memoutbox.New(memoutbox.Options{})
		log.Warn("webhooks: no Redis, so the outbox is in memory: deliveries still queued are lost when the process stops")
	}
	h, err := webhook.New(webhook.Options{
		Endpoints: cfg.Webhooks, Outbox: ob,
		Sender:            webhook.NewSender(webhook.SenderOptions{Timeout: cfg.WebhookTimeout}),
		BeforeSendTimeout: cfg.WebhookBeforeSendTimeout, FailOpen: cfg.WebhookFailOpen,
		Metrics: webhook.NewMetrics(reg), Log: log.Named("webhook"),
	})
	if err != nil {
		return err
	}
	for _, e := range cfg.Webhooks {
		log.Info("webhook endpoint", zap.String("name", e.Name), zap.String("url", e.URL), zap.Strings("events", e.Events))
	}
	b.Webhooks = h
	return nil
}

// RunWebhooks starts the webhook dispatcher of b (when there is one); it
// runs until ctx ends or stop is called, which waits for the calls in
// flight (each bounded by IM_WEBHOOK_TIMEOUT).
func RunWebhooks(ctx context.Context, cfg config.Config, b Backends) (stop func()) {
	if b.Webhooks == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Webhooks.Run(ctx, webhook.DispatcherOptions{Concurrency: cfg.WebhookConcurrency,
			MaxAttempts: cfg.WebhookMaxAttempts, Lease: 3 * cfg.WebhookTimeout})
	}()
	return func() { cancel(); <-done }
}

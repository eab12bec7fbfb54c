package apitest

import (
	"context"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/im-websocket-go/im-websocket-go/internal/app"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
)

// setupWebhooks wires o.Webhooks into the Env's backends (before the
// service is built) and runs their dispatcher until the test ends.
func (e *Env) setupWebhooks(o Options) {
	e.Config.Webhooks = o.Webhooks
	e.Config.WebhookOutboxPrefix = "{ob-" + strings.ToLower(testenv.UniqueName("")[1:]) + "}"
	if o.WebhookConfig != nil {
		o.WebhookConfig(&e.Config)
	}
	e.Metrics = prometheus.NewRegistry()
	if err := app.SetupWebhooks(e.Config, &e.Backends, e.Log, e.Metrics); err != nil {
		e.T.Fatalf("apitest: webhooks: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Backends.Webhooks.Run(ctx, o.Dispatcher) }()
	e.T.Cleanup(func() { cancel(); <-done })
}

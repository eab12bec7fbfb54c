package config

import (
	"fmt"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/webhook"
)

// webhookBindings are the webhook settings read like the others.
// IM_WEBHOOKS itself is not one: it holds the secrets, which must not show
// as a flag's default in -h (see loadWebhooks).
func webhookBindings(c *Config, file, failOpen *string) []binding {
	return []binding{
		{"IM_WEBHOOKS_FILE", "webhooks-file", "file holding the webhook endpoints as JSON (instead of IM_WEBHOOKS)", file, nil, nil, ""},
		{"IM_WEBHOOK_TIMEOUT", "webhook-timeout", "bound on one asynchronous webhook delivery (connect, send, answer)", nil, &c.WebhookTimeout, nil, "10s"},
		{"IM_WEBHOOK_BEFORE_SEND_TIMEOUT", "webhook-before-send-timeout", "bound on the synchronous before_send call", nil, &c.WebhookBeforeSendTimeout, nil, "2s"},
		{"IM_WEBHOOK_FAIL_OPEN", "webhook-fail-open", "true: a message goes through when before_send fails or times out; false: the send answers unavailable", failOpen, nil, nil, "false"},
		{"IM_WEBHOOK_MAX_ATTEMPTS", "webhook-max-attempts", "failed attempts after which a webhook delivery goes to the dead letters", nil, nil, &c.WebhookMaxAttempts, "15"},
		{"IM_WEBHOOK_CONCURRENCY", "webhook-concurrency", "webhook calls in flight per process", nil, nil, &c.WebhookConcurrency, "8"},
	}
}

// loadWebhooks reads IM_WEBHOOKS (JSON, from the environment only: a flag
// would print its secrets in -h) or the file, and checks the settings.
// Errors never quote a secret.
func loadWebhooks(c *Config, getenv func(string) string, file, failOpen string) error {
	eps, err := webhook.Load(getenv("IM_WEBHOOKS"), file)
	if err != nil {
		return fmt.Errorf("config: IM_WEBHOOKS: %w", err)
	}
	c.Webhooks = eps
	switch failOpen {
	case "true", "1":
		c.WebhookFailOpen = true
	case "false", "0", "":
	default:
		return fmt.Errorf("config: IM_WEBHOOK_FAIL_OPEN must be true or false, not %q", failOpen)
	}
	if c.WebhookTimeout < 100*time.Millisecond || c.WebhookTimeout > 5*time.Minute {
		return fmt.Errorf("config: IM_WEBHOOK_TIMEOUT must be 100ms-5m")
	}
	if c.WebhookBeforeSendTimeout < 10*time.Millisecond || c.WebhookBeforeSendTimeout > 30*time.Second {
		return fmt.Errorf("config: IM_WEBHOOK_BEFORE_SEND_TIMEOUT must be 10ms-30s")
	}
	if c.WebhookMaxAttempts < 1 || c.WebhookMaxAttempts > 100 {
		return fmt.Errorf("config: IM_WEBHOOK_MAX_ATTEMPTS must be 1-100")
	}
	if c.WebhookConcurrency < 1 || c.WebhookConcurrency > 256 {
		return fmt.Errorf("config: IM_WEBHOOK_CONCURRENCY must be 1-256")
	}
	return nil
}

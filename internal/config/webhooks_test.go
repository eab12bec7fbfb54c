package config

import (
	"bytes"
	"flag"
	"strings"
	"testing"
)

func TestWebhooksConfig(t *testing.T) {
	const js = `[{"name":"app","url":"http://127.0.0.1:9/h","secret":"very-secret-value-123","events":["after_send"]}]`
	env := map[string]string{"IM_WEBHOOKS": js, "IM_WEBHOOK_FAIL_OPEN": "true"}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	c, err := Load(fs, nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Webhooks) != 1 || c.Webhooks[0].Name != "app" || !c.WebhookFailOpen || c.WebhookMaxAttempts != 15 {
		t.Fatalf("config %+v", c)
	}
	fs.PrintDefaults()
	if strings.Contains(usage.String(), "very-secret-value") {
		t.Fatal("-h shows a webhook secret")
	}
	env["IM_WEBHOOKS"] = strings.Replace(js, "very-secret-value-123", "short-secret", 1)
	_, err = Load(flag.NewFlagSet("t", flag.ContinueOnError), nil, func(k string) string { return env[k] })
	if err == nil || strings.Contains(err.Error(), "short-secret") {
		t.Fatalf("short secret: %v", err)
	}
	env["IM_WEBHOOKS"], env["IM_WEBHOOK_FAIL_OPEN"] = "", "maybe"
	if _, err := Load(flag.NewFlagSet("t", flag.ContinueOnError), nil, func(k string) string { return env[k] }); err == nil {
		t.Fatal("IM_WEBHOOK_FAIL_OPEN=maybe accepted")
	}
}

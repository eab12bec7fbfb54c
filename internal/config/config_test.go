package config

import (
	"flag"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
)

func TestLoadEnvAndFlags(t *testing.T) {
	env := map[string]string{
		"IM_MONGO_URI": "mongodb://db:27017", "IM_HTTP_ADDR": "0.0.0.0:9000",
		"IM_ALLOWED_ORIGINS": "https://a.example, https://b.example", "IM_ACCESS_TTL": "5m",
		"IM_MAX_CONNS_PER_USER": "3", "IM_TRUST_PROXY": "true", "IM_WS_DEFLATE_THRESHOLD": "1024",
		"IM_WS_WRITE_DELAY": "2ms",
	}
	c, err := Load(flag.NewFlagSet("t", flag.ContinueOnError), []string{"-http-addr", "127.0.0.1:1"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.MongoURI != "mongodb://db:27017" || c.HTTPAddr != "127.0.0.1:1" || c.AccessTTL != 5*time.Minute ||
		c.MaxConnsPerUser != 3 || !c.TrustProxy || !slices.Equal(c.AllowedOrigins, []string{"https://a.example", "https://b.example"}) {
		t.Fatalf("%+v", c)
	}
	if c.MongoDB != "im" || c.SMTPTLS != "starttls" || c.RefreshTTL != 720*time.Hour ||
		c.MongoWriteConcern != "majority" || c.MongoReadPreference != "primary" || !c.WSDeflate || c.WSDeflateThreshold != 1024 ||
		c.WSWriteDelay != 2*time.Millisecond || c.BusUserLayout != bus.UserLayoutShards {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestLoadRejectsBadValues(t *testing.T) {
	for k, v := range map[string]string{"IM_SMTP_TLS": "maybe", "IM_ACCESS_TTL": "soon", "IM_TRUST_PROXY": "perhaps", "IM_MAX_CONNS_PER_USER": "x",
		"IM_MONGO_WRITE_CONCERN": "2", "IM_MONGO_READ_PREFERENCE": "secondary", "IM_WS_DEFLATE": "maybe", "IM_WS_DEFLATE_THRESHOLD": "-1",
		"IM_WS_WRITE_DELAY": "1s", "IM_BUS_USER_CHANNELS": "sharded"} {
		_, err := Load(flag.NewFlagSet("t", flag.ContinueOnError), nil, func(key string) string {
			if key == k {
				return v
			}
			return ""
		})
		if err == nil {
			t.Errorf("%s=%s accepted", k, v)
		}
	}
}

// The write concern and read preference allowed, and a clear error naming
// the setting and the allowed values otherwise.
func TestLoadMongoConsistency(t *testing.T) {
	load := func(env map[string]string) (Config, error) {
		return Load(flag.NewFlagSet("t", flag.ContinueOnError), nil, func(k string) string { return env[k] })
	}
	for _, wc := range []string{"majority", "1"} {
		for _, rp := range []string{"primary", "primaryPreferred", "secondaryPreferred", "nearest"} {
			c, err := load(map[string]string{"IM_MONGO_WRITE_CONCERN": wc, "IM_MONGO_READ_PREFERENCE": rp})
			if err != nil || c.MongoWriteConcern != wc || c.MongoReadPreference != rp {
				t.Errorf("%s, %s: %+v, %v", wc, rp, c, err)
			}
		}
	}
	for k, v := range map[string]string{"IM_MONGO_WRITE_CONCERN": "majoritee", "IM_MONGO_READ_PREFERENCE": "secondary"} {
		_, err := load(map[string]string{k: v})
		if err == nil || !strings.Contains(err.Error(), k) || !strings.Contains(err.Error(), v) {
			t.Errorf("%s=%s: error %v, want one naming the setting and the value", k, v, err)
		}
	}
}

func TestEnvListsEverySetting(t *testing.T) {
	names := Env()
	for _, want := range []string{"IM_MONGO_URI", "IM_MONGO_DB", "IM_REDIS_URL", "IM_HTTP_ADDR", "IM_WS_ADDR", "IM_ADMIN_ADDR",
		"IM_JWT_PRIVATE_KEY_FILE", "IM_JWKS_URL", "IM_JWT_PUBLIC_KEY_FILE", "IM_SMTP_ADDR", "IM_SMTP_USERNAME",
		"IM_SMTP_PASSWORD", "IM_SMTP_FROM", "IM_SMTP_TLS", "IM_ALLOWED_ORIGINS", "IM_DATA_DIR", "IM_LOG_LEVEL"} {
		if !slices.Contains(names, want) {
			t.Errorf("Env() lacks %s", want)
		}
	}
}

func TestLoadIdentity(t *testing.T) {
	load := func(env map[string]string) (Config, error) {
		return Load(flag.NewFlagSet("t", flag.ContinueOnError), nil, func(k string) string { return env[k] })
	}
	c, err := load(nil)
	if err != nil || !c.BuiltinAuth || c.IDPIssuer != "" || c.IDPUserClaim != "sub" || c.IDPMinRefresh != 30*time.Second {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	ok := map[string]string{"IM_IDP_ISSUER": "https://idp.example/", "IM_IDP_AUDIENCE": "chat",
		"IM_IDP_JWKS_URL": "https://idp.example/jwks.json", "IM_IDP_ALGORITHMS": "RS256, EdDSA", "IM_BUILTIN_AUTH": "false"}
	c, err = load(ok)
	if err != nil || c.BuiltinAuth || !slices.Equal(c.IDPAlgorithms, []string{"RS256", "EdDSA"}) {
		t.Fatalf("%+v, %v", c, err)
	}
	for k, v := range map[string]string{"IM_IDP_JWKS_URL": "", "IM_IDP_ISSUER": "im-websocket-go", "IM_BUILTIN_AUTH": "nope",
		"IM_IDP_MIN_REFRESH": "1ms", "IM_IDP_FETCH_TIMEOUT": "1h"} {
		env := map[string]string{}
		for a, b := range ok {
			env[a] = b
		}
		env[k] = v
		if _, err := load(env); err == nil {
			t.Errorf("%s=%q accepted", k, v)
		}
	}
	if _, err := load(map[string]string{"IM_BUILTIN_AUTH": "false"}); err == nil {
		t.Error("IM_BUILTIN_AUTH=false without an identity provider accepted")
	}
}

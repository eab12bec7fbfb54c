// Package apitest runs the real API over the real test environment (Redis,
// the MongoDB wire server, an SMTP sink) and gives tests a small HTTP
// client for it. The gateway and browser tests build on it too.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/im-websocket-go/im-websocket-go/internal/app"
	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/emailcode"
	"github.com/im-websocket-go/im-websocket-go/internal/httpapi"
	"github.com/im-websocket-go/im-websocket-go/internal/mail"
	"github.com/im-websocket-go/im-websocket-go/internal/ratelimit"
	"github.com/im-websocket-go/im-websocket-go/internal/service"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/blob/fsblob"
	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
	"github.com/im-websocket-go/im-websocket-go/pkg/webhook"
)

// Options tune an Env; the zero value gives generous limits so tests that
// share 127.0.0.1 do not trip each other's rate limits.
type Options struct {
	RedisURL string // default: the shared test Redis
	Limits   *service.Limits
	Codes    *emailcode.Options
	Log      *zap.Logger
	// AccessTTL overrides the access-token lifetime (default 15m).
	AccessTTL time.Duration
	// RefreshTTL overrides the refresh-token (session) lifetime (default 24h).
	RefreshTTL time.Duration
	// Store is the store the API and the nodes share: "" or "mongo" (the
	// test MongoDB wire server), "postgres" (the test PostgreSQL).
	Store string
	// PostgresURL is the database of Store "postgres"; default: a fresh
	// schema of the shared test PostgreSQL (testenv.PostgresURL).
	PostgresURL string

	// Webhooks are the host app's endpoints (none: no webhooks); their
	// outbox gets a key space of its own in the shared Redis, and
	// Dispatcher tunes the dispatcher that runs with the API.
	Webhooks   []webhook.Endpoint
	Dispatcher webhook.DispatcherOptions
	// WebhookConfig adjusts the webhook settings (fail open, timeouts).
	WebhookConfig func(*config.Config)
}

// Env is a running API with its backends.
type Env struct {
	T        testing.TB
	URL      string
	SMTP     *testenv.SMTPSink
	Core     *app.Core
	Backends app.Backends
	Config   config.Config
	Redis    *redis.Client
	Server   *httptest.Server
	API      *httpapi.Server
	Log      *zap.Logger

	// Metrics holds the webhook metrics when Options.Webhooks is set.
	Metrics *prometheus.Registry
}

// Generous are limits high enough not to matter in functional tests.
func Generous() service.Limits {
	big := ratelimit.Rule{N: 1 << 30, Window: time.Hour}
	return service.Limits{LoginPerAccount: big, LoginPerIP: big, RegisterPerIP: big, SendPerUser: big, PasswordPerUser: big}
}

// GenerousCodes are email-code limits that do not trip in tests.
func GenerousCodes() emailcode.Options {
	big := ratelimit.Rule{N: 1 << 30, Window: time.Hour}
	return emailcode.Options{PerEmail: big, PerEmailHour: big, PerIP: big}
}

// TestConfig is the configuration the test wiring uses.
func TestConfig(t testing.TB, redisURL string) config.Config {
	uri, db := testenv.MongoDB(t)
	return config.Config{
		MongoURI: uri, MongoDB: db, RedisURL: redisURL,
		JWTIssuer: "im-test", JWTAudience: "im-test-clients",
		AccessTTL: 15 * time.Minute, RefreshTTL: 24 * time.Hour,
		ShutdownGrace: 5 * time.Second, MaxUpload: 25 << 20,
		PresencePrefix: testenv.UniqueName("pr"),
	}
}

// Backends connects the distributed backends for a test, closed at its end.
func Backends(t testing.TB, cfg config.Config, h bus.Handler) app.Backends {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := app.Distributed(ctx, cfg, h)
	if err != nil {
		t.Fatalf("apitest: backends: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// New starts an API on a loopback port.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	if o.RedisURL == "" {
		o.RedisURL = testenv.RedisURL(t)
	}
	if o.Log == nil {
		o.Log = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	}
	lim := Generous()
	if o.Limits != nil {
		lim = *o.Limits
	}
	codes := GenerousCodes()
	if o.Codes != nil {
		codes = *o.Codes
	}
	e := &Env{T: t, Config: TestConfig(t, o.RedisURL), Log: o.Log}
	if o.AccessTTL > 0 {
		e.Config.AccessTTL = o.AccessTTL
	}
	if o.RefreshTTL > 0 {
		e.Config.RefreshTTL = o.RefreshTTL
	}
	if o.Store == "postgres" {
		e.Config.Store, e.Config.PostgresURL = "postgres", o.PostgresURL
		if o.PostgresURL == "" {
			e.Config.PostgresURL = testenv.PostgresURL(t)
		}
	}
	e.Backends = Backends(t, e.Config, app.NopHandler{})
	blobs, err := fsblob.New(t.TempDir(), fsblob.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	e.Backends.Blobs = blobs
	e.SMTP = testenv.NewSMTPSink(t)
	sender, err := mail.NewSMTP(mail.SMTPOptions{Addr: e.SMTP.Addr, From: "im <no-reply@im.test>", TLS: "none"})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.GenerateSigner()
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Webhooks) > 0 {
		e.setupWebhooks(o)
	}
	e.Core, err = app.NewCore(e.Config, e.Backends, signer, sender, o.Log, app.CoreOptions{Limits: lim, CodeOpts: codes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Core.Service.Close)
	e.API = httpapi.New(e.Core.Service, e.Core.Verifier, signer.JWKSJSON, o.Log, httpapi.Options{Ready: e.Backends.Ping})
	e.Server = httptest.NewServer(e.API)
	t.Cleanup(e.Server.Close)
	e.URL = e.Server.URL
	opt, _ := redis.ParseURL(o.RedisURL)
	e.Redis = redis.NewClient(opt)
	t.Cleanup(func() { _ = e.Redis.Close() })
	return e
}

// Resp is an HTTP answer.
type Resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test on error.
func (r Resp) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// ErrCode returns the contract error code of an error answer.
func (r Resp) ErrCode() string {
	var b struct {
		Error struct{ Code, Message string }
	}
	_ = json.Unmarshal(r.Body, &b)
	return b.Error.Code
}

// Do sends a request with an optional bearer token and JSON body (a string
// is sent as is).
func (e *Env) Do(method, path, token string, body any) Resp {
	e.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.T.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.T.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return Resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// User is a registered test user.
type User struct {
	ID, Account, Email, Password string
	Token, Refresh               string
}

var seq atomic.Int64

// Unique returns a fresh lower-case name.
func Unique(prefix string) string {
	return fmt.Sprintf("%s%d%s", prefix, seq.Add(1), strings.ToLower(testenv.UniqueName("")[1:7]))
}

// Code asks for a verification code for email and reads it from the SMTP sink.
func (e *Env) Code(email string) string {
	e.T.Helper()
	n := e.SMTP.Count(email)
	if r := e.Do("POST", "/v1/auth/email-code", "", map[string]string{"email": email}); r.Status != 202 {
		e.T.Fatalf("email-code: %d %s", r.Status, r.Body)
	}
	m, err := e.SMTP.WaitFor(email, n, 10*time.Second)
	if err != nil {
		e.T.Fatal(err)
	}
	c := m.Code()
	if c == "" {
		e.T.Fatalf("no code in mail %q", m.Data)
	}
	return c
}

// Register creates a user through the API with a code read from SMTP.
func (e *Env) Register(prefix string) *User {
	e.T.Helper()
	acc := Unique(prefix)
	u := &User{Account: acc, Email: acc + "@example.com", Password: "correct horse " + acc}
	code := e.Code(u.Email)
	r := e.Do("POST", "/v1/auth/register", "", map[string]string{
		"email": u.Email, "code": code, "account": acc, "password": u.Password, "nickname": "Nick " + acc})
	if r.Status != 201 {
		e.T.Fatalf("register %s: %d %s", acc, r.Status, r.Body)
	}
	var s struct {
		User         struct{ ID string }
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	r.JSON(e.T, &s)
	u.ID, u.Token, u.Refresh = s.User.ID, s.AccessToken, s.RefreshToken
	return u
}

// Befriend makes a and b friends through requests and returns their room.
func (e *Env) Befriend(a, b *User) string {
	e.T.Helper()
	r := e.Do("POST", "/v1/friend-requests", a.Token, map[string]string{"account": b.Account})
	if r.Status != 201 {
		e.T.Fatalf("friend request: %d %s", r.Status, r.Body)
	}
	var req struct{ Request struct{ ID string } }
	r.JSON(e.T, &req)
	r = e.Do("POST", "/v1/friend-requests/"+req.Request.ID+"/accept", b.Token, nil)
	if r.Status != 200 {
		e.T.Fatalf("accept: %d %s", r.Status, r.Body)
	}
	var f struct {
		Friend struct {
			RoomID string `json:"room_id"`
		}
	}
	r.JSON(e.T, &f)
	return f.Friend.RoomID
}

// Session is a login's tokens.
type Session struct {
	Token, Refresh, ID string
}

// Login logs u in with password (u.Password when empty) from a device label
// and returns the new session, failing the test unless it succeeds.
func (e *Env) Login(u *User, password, device string) Session {
	e.T.Helper()
	if password == "" {
		password = u.Password
	}
	r := e.Do("POST", "/v1/auth/login", "", map[string]string{"login": u.Account, "password": password, "device": device})
	if r.Status != 200 {
		e.T.Fatalf("login %s: %d %s", u.Account, r.Status, r.Body)
	}
	var s struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		SessionID    string `json:"session_id"`
	}
	r.JSON(e.T, &s)
	return Session{Token: s.AccessToken, Refresh: s.RefreshToken, ID: s.SessionID}
}

// CanLogin reports whether a login of u with password succeeds (200) or is
// refused (401); anything else fails the test.
func (e *Env) CanLogin(u *User, password string) bool {
	e.T.Helper()
	r := e.Do("POST", "/v1/auth/login", "", map[string]string{"login": u.Account, "password": password})
	switch r.Status {
	case 200:
		return true
	case 401:
		return false
	}
	e.T.Fatalf("login %s: %d %s", u.Account, r.Status, r.Body)
	return false
}

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
	// AdminKeys enable the admin API with these keys (see AdminKey).
	AdminKeys []string

	// Config, when set, edits the configuration of the API and of the
	// cluster's nodes (an identity provider, IM_IDP_*).
	Config func(*config.Config)

	// Webhooks are the host app's endpoints (none: no webhooks); their
	// outbox gets a key space of its own in the shared Redis, and
	// Dispatcher tunes the dispatcher that runs with the API.
	Webhooks   []webhook.Endpoint
	Dispatcher webhook.DispatcherOptions
	// WebhookConfig adjusts the webhook settings (fail open, timeouts).
	WebhookConfig func(*config.Config)

	// Redis is the topology: "" or config.RedisSingle (RedisURL),
	// config.RedisSentinel or config.RedisCluster (the shared test
	// Sentinel setup or Redis Cluster of testenv).
	Redis string
}

// AdminKey is an admin key tests may pass in Options.AdminKeys.
const AdminKey = "test-admin-key-0123456789abcdef0123456789"

// Env is a running API with its backends.
type Env struct {
	T        testing.TB
	URL      string
	SMTP     *testenv.SMTPSink
	Core     *app.Core
	Backends app.Backends
	Config   config.Config
	Redis    redis.UniversalClient
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
		// As in production: only clients that offer it get it.
		WSDeflate: true, WSDeflateThreshold: 512,
	}
}

// Backends connects the distributed backends for a test, closed at its end.
func Backends(t testing.TB, cfg config.Config, h bus.Handler) app.Backends {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := app.Distributed(ctx, cfg, h, nil)
	if err != nil {
		t.Fatalf("apitest: backends: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// New starts an API on a loopback port.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	if o.RedisURL == "" && o.Redis != "" && o.Redis != config.RedisSingle {
		o.RedisURL = "redis://127.0.0.1/0" // credentials only: none
	}
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
	switch o.Redis {
	case "", config.RedisSingle:
	case config.RedisCluster:
		e.Config.RedisTopology, e.Config.RedisClusterAddrs = config.RedisCluster, testenv.RedisCluster(t)
	case config.RedisSentinel:
		e.Config.RedisTopology = config.RedisSentinel
		e.Config.RedisSentinelMaster, e.Config.RedisSentinelAddrs = testenv.RedisSentinel(t)
	default:
		t.Fatalf("apitest: unknown Redis topology %q", o.Redis)
	}
	if o.Config != nil {
		o.Config(&e.Config)
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
	tokens, err := app.Tokens(e.Config, e.Core.Service, e.Core.Verifier, nil, o.Log)
	if err != nil {
		t.Fatal(err)
	}
	e.API = httpapi.New(e.Core.Service, tokens, signer.JWKSJSON, o.Log, httpapi.Options{Ready: e.Backends.Ping,
		AdminKeys: o.AdminKeys, BuiltinAuthDisabled: e.Config.IDPIssuer != "" && !e.Config.BuiltinAuth})
	e.Server = httptest.NewServer(e.API)
	t.Cleanup(e.Server.Close)
	e.URL = e.Server.URL
	if e.Redis, err = app.NewRedisClient(e.Config); err != nil {
		t.Fatal(err)
	}
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
	var s struct {
		User         struct{ ID string }
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	// Like a client: unavailable is retried; when an earlier attempt did
	// land (its answer was lost), the retry finds the code used or the
	// account taken, and logging in with the password tells it so.
	r := e.retry(func() Resp {
		return e.Do("POST", "/v1/auth/register", "", map[string]string{
			"email": u.Email, "code": code, "account": acc, "password": u.Password, "nickname": "Nick " + acc})
	}, 201)
	if r.Status != 201 && r.tries > 1 {
		r = e.retry(func() Resp {
			return e.Do("POST", "/v1/auth/login", "", map[string]string{"login": acc, "password": u.Password})
		}, 200)
		if r.Status == 200 {
			r.JSON(e.T, &s)
			me := e.retry(func() Resp { return e.Do("GET", "/v1/me", s.AccessToken, nil) }, 200)
			me.JSON(e.T, &s.User)
		}
	}
	if r.Status != 201 && r.Status != 200 {
		e.T.Fatalf("register %s: %d %s", acc, r.Status, r.Body)
	}
	if r.Status == 201 {
		r.JSON(e.T, &s)
	}
	u.ID, u.Token, u.Refresh = s.User.ID, s.AccessToken, s.RefreshToken
	return u
}

// retried is an answer after retries, with how many tries it took.
type retried struct {
	Resp
	tries int
}

// retry calls do until it answers want or anything but 503 (unavailable,
// which a client retries), backing off, at most 8 tries.
func (e *Env) retry(do func() Resp, want int) retried {
	e.T.Helper()
	for try := 1; ; try++ {
		r := do()
		if r.Status == want || r.Status != 503 || try == 8 {
			return retried{r, try}
		}
		time.Sleep(time.Duration(50<<min(try, 5)) * time.Millisecond)
	}
}

// Befriend makes a and b friends through requests and returns their room.
// Like a client it retries unavailable answers, and takes the conflicts
// that a landed earlier attempt causes as that attempt's success.
func (e *Env) Befriend(a, b *User) string {
	e.T.Helper()
	r := e.retry(func() Resp {
		return e.Do("POST", "/v1/friend-requests", a.Token, map[string]string{"account": b.Account})
	}, 201)
	var req struct{ Request struct{ ID string } }
	switch {
	case r.Status == 201:
		r.JSON(e.T, &req)
	case r.Status == 409 && r.tries > 1:
		req.Request.ID = e.pendingRequest(b, a.ID)
	default:
		e.T.Fatalf("friend request: %d %s", r.Status, r.Body)
	}
	r = e.retry(func() Resp {
		return e.Do("POST", "/v1/friend-requests/"+req.Request.ID+"/accept", b.Token, nil)
	}, 200)
	if r.Status != 200 && !(r.tries > 1 && r.Status < 500) {
		e.T.Fatalf("accept: %d %s", r.Status, r.Body)
	}
	if r.Status != 200 {
		r = e.retry(func() Resp { return e.Do("GET", "/v1/friends/"+b.Account, a.Token, nil) }, 200)
		var st struct {
			IsFriend bool   `json:"is_friend"`
			RoomID   string `json:"room_id"`
		}
		if r.Status == 200 {
			r.JSON(e.T, &st)
		}
		if !st.IsFriend {
			e.T.Fatalf("accept (retried), then the friendship: %d %s", r.Status, r.Body)
		}
		return st.RoomID
	}
	var f struct {
		Friend struct {
			RoomID string `json:"room_id"`
		}
	}
	r.JSON(e.T, &f)
	return f.Friend.RoomID
}

// pendingRequest is the id of the request from user id from to u.
func (e *Env) pendingRequest(u *User, from string) string {
	e.T.Helper()
	r := e.retry(func() Resp { return e.Do("GET", "/v1/friend-requests", u.Token, nil) }, 200)
	var page struct {
		Incoming []struct {
			ID   string
			From struct{ ID string } `json:"from"`
		}
	}
	r.JSON(e.T, &page)
	for _, q := range page.Incoming {
		if q.From.ID == from {
			return q.ID
		}
	}
	e.T.Fatalf("friend request: conflict, and no pending request from %s: %s", from, r.Body)
	return ""
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

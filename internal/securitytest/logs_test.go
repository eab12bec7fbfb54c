package securitytest

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// captureLog returns a debug-level JSON logger writing into a buffer.
// Times and durations are strings, so that no long digit run appears by
// chance next to a verification code.
func captureLog() (*zap.Logger, *lockedBuffer) {
	buf := &lockedBuffer{}
	cfg := zap.NewProductionEncoderConfig()
	cfg.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg.EncodeDuration = zapcore.StringDurationEncoder
	return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(cfg), buf, zap.DebugLevel)), buf
}

// secretSet collects what must never reach a log.
type secretSet struct {
	plain  map[string]string // name -> value, matched as substrings
	digits map[string]string // name -> code, matched as a whole number
}

func (s *secretSet) add(name, v string) {
	if v != "" {
		s.plain[name] = v
	}
}

// token adds an access token and, separately, its claims and signature
// segments (a log line with a part of the token leaks it too; the header
// segment is the same for every token and is no secret).
func (s *secretSet) token(name, tok string) {
	s.add(name, tok)
	if parts := strings.Split(tok, "."); len(parts) == 3 {
		s.add(name+" (claims)", parts[1])
		s.add(name+" (signature)", parts[2])
	}
}

type session struct {
	User         struct{ ID string }
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// TestSecretsNeverLogged runs a whole session with deliberate errors —
// registration with a wrong code, logins with a wrong password, refresh
// token reuse, bad and expired tokens over REST and WebSocket (header and
// query parameter), a refresh frame with a bad token, bad frames — with
// the API and a gateway logging at debug level into a buffer, then checks
// that no password, access token, refresh token or verification code
// appears in it. (The dev mode without SMTP, which logs codes on purpose,
// is not used: the SMTP sink is configured.)
func TestSecretsNeverLogged(t *testing.T) {
	log, buf := captureLog()
	cl := apitest.NewCluster(t, 1, apitest.Options{Log: log})
	node := cl.Nodes[0].URL
	s := &secretSet{plain: map[string]string{}, digits: map[string]string{}}

	acc := apitest.Unique("lg")
	email := acc + "@example.com"
	password := "Tr0ub4dor&3-" + randomHex(6)
	wrongPassword := "hunter2-" + randomHex(6)
	s.add("password", password)
	s.add("wrong password", wrongPassword)

	code := cl.Code(email)
	s.digits["verification code"] = code
	n, _ := strconv.Atoi(code)
	reg := func(c string) apitest.Resp {
		return cl.Do("POST", "/v1/auth/register", "", map[string]string{
			"email": email, "code": c, "account": acc, "password": password, "nickname": "Logger"})
	}
	if r := reg(fmt.Sprintf("%06d", (n+1)%1000000)); r.Status != 400 {
		t.Fatalf("wrong code: %d %s", r.Status, r.Body)
	}
	if r := cl.Do("POST", "/v1/auth/register", "", map[string]string{
		"email": email, "code": code, "account": acc, "password": "short"}); r.Status != 400 {
		t.Fatalf("short password: %d %s", r.Status, r.Body)
	}
	var first session
	r := reg(code)
	if r.Status != 201 {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &first)
	s.token("access token (register)", first.AccessToken)
	s.add("refresh token (register)", first.RefreshToken)

	for _, login := range []string{acc, email, "nobody-" + acc} {
		if r := cl.Do("POST", "/v1/auth/login", "", map[string]string{"login": login, "password": wrongPassword}); r.Status != 401 {
			t.Fatalf("wrong password: %d %s", r.Status, r.Body)
		}
	}
	// A password sent in the wrong field, and one with a bad JSON type.
	cl.Do("POST", "/v1/auth/login", "", `{"login":"`+acc+`","passwd":"`+wrongPassword+`"}`)
	cl.Do("POST", "/v1/auth/login", "", `{"login":"`+acc+`","password":["`+wrongPassword+`"]}`)
	var second session
	cl.Do("POST", "/v1/auth/login", "", map[string]string{"login": acc, "password": password}).JSON(t, &second)
	s.token("access token (login)", second.AccessToken)
	s.add("refresh token (login)", second.RefreshToken)

	var third session
	r = cl.Do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": second.RefreshToken})
	if r.Status != 200 {
		t.Fatalf("refresh: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &third)
	s.token("access token (refresh)", third.AccessToken)
	s.add("refresh token (refresh)", third.RefreshToken)
	// Reuse of a rotated token: refused, and the family is revoked.
	if r := cl.Do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": second.RefreshToken}); r.Status != 401 {
		t.Fatalf("reuse: %d %s", r.Status, r.Body)
	}
	cl.Do("POST", "/v1/auth/refresh", "", `{"refresh_token":"`+first.RefreshToken+`","extra":1}`)
	cl.Do("POST", "/v1/auth/logout", "", map[string]string{"refresh_token": first.RefreshToken})

	// The reuse above ended that session, and the logout the first: a
	// fourth login for the socket below.
	var fourth session
	cl.Do("POST", "/v1/auth/login", "", map[string]string{"login": acc, "password": password}).JSON(t, &fourth)
	s.token("access token (second login)", fourth.AccessToken)
	s.add("refresh token (second login)", fourth.RefreshToken)

	// Bad and good tokens over REST, in the header and in a query string.
	k := newJWTKit(t, cl.Env)
	expired := k.issue(first.User.ID, func(i *auth.Issuer) {
		i.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	})
	s.token("expired access token", expired)
	tampered := k.tamper(first.AccessToken, func(m map[string]any) { m["sub"] = "someone-else" })
	for _, tok := range []string{expired, tampered, first.AccessToken + "x"} {
		cl.Do("GET", "/v1/me", tok, nil)
	}
	cl.Do("GET", "/v1/me?access_token="+first.AccessToken, "", nil)
	cl.Do("GET", "/v1/rooms/01ARZ3NDEKTSV4RRFFQ69G5FAV/messages", first.AccessToken, nil)
	cl.Do("GET", "/v1/nowhere?token="+first.AccessToken, first.AccessToken, nil)

	// The same through the production http.Server (its error log goes to
	// zap too): a query with a semicolon makes net/http log a warning.
	addr := serveWithTimeouts(t, cl.Env, 5*time.Second, 10*time.Second)
	for _, q := range []string{"access_token=" + first.AccessToken + ";x=1", "x=1;access_token=" + first.AccessToken} {
		if res, err := http.Get("http://" + addr + "/v1/me?" + q); err == nil {
			res.Body.Close()
		}
	}

	// WebSocket: refused upgrades, a good one by query parameter, and a
	// session with bad frames.
	upgrade(t, node, expired, nil)
	upgrade(t, node+"?access_token="+expired, "", nil)
	upgrade(t, node+"?access_token="+tampered, "", http.Header{"Origin": {"https://elsewhere.example"}})
	if c, err := apitest.TryDialWS(node+"?access_token="+first.AccessToken, "", nil); err == nil {
		_, _ = c.Next(wait)
		c.Conn.Close()
	}
	c := apitest.DialWS(t, node, fourth.AccessToken)
	fresh, _, err := cl.Core.Issuer.Issue(first.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	s.token("access token (issued for the refresh frame)", fresh)
	for _, f := range []any{
		map[string]string{"type": "refresh", "access_token": expired},
		map[string]string{"type": "refresh", "access_token": tampered},
		map[string]string{"type": "refresh", "access_token": fresh},
		map[string]string{"type": "refresh", "access_token": fresh, "password": password},
		map[string]string{"type": "send", "room_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "body": "x", "client_msg_id": "c1"},
		`{"type":"refresh","access_token":["` + fresh + `"]}`,
		map[string]string{"type": "ping"},
	} {
		if err := c.Send(f); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.WaitFor(wait, func(o protocol.Outbound) bool { return o.Type == protocol.TypePong }); err != nil {
		t.Fatal(err)
	}
	_ = c.Send(`{"type":"refresh","access_token":"` + fresh + `"`) // malformed: close 1007
	c.CloseCode(wait)
	time.Sleep(200 * time.Millisecond) // let the last lines be written

	out := buf.String()
	if !strings.Contains(out, `"/v1/auth/login"`) {
		t.Fatalf("the debug access log was not captured; log:\n%s", out)
	}
	for name, v := range s.plain {
		if i := strings.Index(out, v); i >= 0 {
			t.Errorf("the log contains the %s: ...%s...", name, out[max(0, i-200):min(len(out), i+len(v)+50)])
		}
	}
	for name, v := range s.digits {
		re := regexp.MustCompile(`(^|[^0-9])` + v + `([^0-9]|$)`)
		if loc := re.FindStringIndex(out); loc != nil {
			t.Errorf("the log contains the %s: ...%s...", name, out[max(0, loc[0]-200):min(len(out), loc[1]+50)])
		}
	}
	if testing.Verbose() {
		t.Logf("captured log:\n%s", out)
	}
	t.Logf("%d log lines checked for %d secrets", strings.Count(out, "\n"), len(s.plain)+len(s.digits))
}

package httpapi_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/emailcode"
	"github.com/im-websocket-go/im-websocket-go/internal/ratelimit"
	"github.com/im-websocket-go/im-websocket-go/internal/service"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
)

func TestRegisterWithCodeFromSMTP(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	acc := apitest.Unique("reg")
	email := strings.ToUpper(acc) + "@Example.com" // stored lower-cased
	code := e.Code(strings.ToLower(email))
	wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1000000)
	body := func(c string) map[string]string {
		return map[string]string{"email": email, "code": c, "account": acc, "password": "s3cret-pass", "nickname": "Ann"}
	}
	if r := e.Do("POST", "/v1/auth/register", "", body(wrong)); r.Status != 400 || r.ErrCode() != "invalid_argument" {
		t.Fatalf("wrong code: %d %s", r.Status, r.Body)
	}
	r := e.Do("POST", "/v1/auth/register", "", body(code))
	if r.Status != 201 {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	var s struct {
		User struct {
			ID, Account, Email, Nickname string
		}
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int    `json:"expires_in"`
	}
	r.JSON(t, &s)
	if s.User.Account != acc || s.User.Email != strings.ToLower(email) || s.AccessToken == "" || s.RefreshToken == "" || s.ExpiresIn <= 0 {
		t.Fatalf("bad session %+v", s)
	}
	// A used code does not work twice.
	b := body(code)
	b["account"] = acc + "x"
	if r := e.Do("POST", "/v1/auth/register", "", b); r.Status != 400 {
		t.Fatalf("reused code: %d %s", r.Status, r.Body)
	}
	// Login by account and by email, in any case.
	for _, login := range []string{acc, strings.ToUpper(email)} {
		r := e.Do("POST", "/v1/auth/login", "", map[string]string{"login": login, "password": "s3cret-pass"})
		if r.Status != 200 {
			t.Fatalf("login %s: %d %s", login, r.Status, r.Body)
		}
	}
	if r := e.Do("POST", "/v1/auth/login", "", map[string]string{"login": acc, "password": "wrong-pass"}); r.Status != 401 || r.ErrCode() != "unauthenticated" {
		t.Fatalf("wrong password: %d %s", r.Status, r.Body)
	}
	if r := e.Do("POST", "/v1/auth/login", "", map[string]string{"login": "nobody-" + acc, "password": "wrong-pass"}); r.Status != 401 {
		t.Fatalf("unknown account: %d %s", r.Status, r.Body)
	}
	r = e.Do("GET", "/v1/me", s.AccessToken, nil)
	var me struct{ ID, Account, Email string }
	r.JSON(t, &me)
	if r.Status != 200 || me.ID != s.User.ID || me.Email != strings.ToLower(email) {
		t.Fatalf("me: %d %s", r.Status, r.Body)
	}
	// Taken account and email: conflict (with a fresh code).
	other := apitest.Unique("reg") + "@example.com"
	c2 := e.Code(other)
	if r := e.Do("POST", "/v1/auth/register", "", map[string]string{"email": other, "code": c2, "account": acc, "password": "s3cret-pass"}); r.Status != 409 {
		t.Fatalf("taken account: %d %s", r.Status, r.Body)
	}
	// The code survived the conflict: the account name was checked first.
	if r := e.Do("POST", "/v1/auth/register", "", map[string]string{"email": other, "code": c2, "account": acc + "2", "password": "s3cret-pass"}); r.Status != 201 {
		t.Fatalf("second account: %d %s", r.Status, r.Body)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestEmailCodeSameAnswerForTakenEmail(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	u := e.Register("same")
	r1 := e.Do("POST", "/v1/auth/email-code", "", map[string]string{"email": u.Email})
	r2 := e.Do("POST", "/v1/auth/email-code", "", map[string]string{"email": apitest.Unique("free") + "@example.com"})
	if r1.Status != 202 || r2.Status != 202 || string(r1.Body) != string(r2.Body) {
		t.Fatalf("answers differ: %d %s / %d %s", r1.Status, r1.Body, r2.Status, r2.Body)
	}
	if r := e.Do("POST", "/v1/auth/email-code", "", map[string]string{"email": "not-an-email"}); r.Status != 400 {
		t.Fatalf("bad email: %d %s", r.Status, r.Body)
	}
}

func TestEmailCodeExpiresAndBurnsAfterWrongTries(t *testing.T) {
	e := apitest.New(t, apitest.Options{Codes: func() *emailcode.Options {
		o := apitest.GenerousCodes()
		o.TTL = 1500 * time.Millisecond
		return &o
	}()})
	reg := func(email, code, acc string) apitest.Resp {
		return e.Do("POST", "/v1/auth/register", "", map[string]string{"email": email, "code": code, "account": acc, "password": "s3cret-pass"})
	}
	// Expired.
	email := apitest.Unique("exp") + "@example.com"
	code := e.Code(email)
	time.Sleep(1700 * time.Millisecond)
	if r := reg(email, code, apitest.Unique("exp")); r.Status != 400 {
		t.Fatalf("expired code accepted: %d %s", r.Status, r.Body)
	}
	// Five wrong tries burn the right code too.
	email = apitest.Unique("burn") + "@example.com"
	code = e.Code(email)
	for i := 1; i <= 5; i++ {
		w := fmt.Sprintf("%06d", (atoi(code)+i)%1000000)
		if r := reg(email, w, apitest.Unique("burn")); r.Status != 400 {
			t.Fatalf("wrong try %d: %d", i, r.Status)
		}
	}
	if r := reg(email, code, apitest.Unique("burn")); r.Status != 400 {
		t.Fatalf("code still works after 5 wrong tries: %d %s", r.Status, r.Body)
	}
}

func TestEmailCodeRateLimited(t *testing.T) {
	rs := testenv.NewRedisServer(t) // limits count per IP: keep them private
	o := apitest.GenerousCodes()
	o.PerEmail = ratelimit.Rule{N: 1, Window: time.Minute}
	o.PerIP = ratelimit.Rule{N: 3, Window: time.Hour}
	e := apitest.New(t, apitest.Options{RedisURL: rs.URL(), Codes: &o})
	email := apitest.Unique("rl") + "@example.com"
	if r := e.Do("POST", "/v1/auth/email-code", "", map[string]string{"email": email}); r.Status != 202 {
		t.Fatal(r.Status)
	}
	r := e.Do("POST", "/v1/auth/email-code", "", map[string]string{"email": email})
	if r.Status != 429 || r.ErrCode() != "rate_limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("second code in a minute: %d %s %v", r.Status, r.Body, r.Header)
	}
	e.Do("POST", "/v1/auth/email-code", "", map[string]string{"email": apitest.Unique("rl") + "@example.com"})
	r = e.Do("POST", "/v1/auth/email-code", "", map[string]string{"email": apitest.Unique("rl") + "@example.com"})
	if r.Status != 429 {
		t.Fatalf("per-IP limit: %d %s", r.Status, r.Body)
	}
}

func TestLoginBruteForceLimited(t *testing.T) {
	rs := testenv.NewRedisServer(t)
	lim := apitest.Generous()
	lim.LoginPerAccount = ratelimit.Rule{N: 3, Window: time.Minute}
	e := apitest.New(t, apitest.Options{RedisURL: rs.URL(), Limits: &lim})
	u := e.Register("bf")
	for _, login := range []string{u.Account, "ghost-" + u.Account} {
		for i := 0; i < 3; i++ {
			if r := e.Do("POST", "/v1/auth/login", "", map[string]string{"login": login, "password": "nope-nope"}); r.Status != 401 {
				t.Fatalf("%s try %d: %d", login, i, r.Status)
			}
		}
		r := e.Do("POST", "/v1/auth/login", "", map[string]string{"login": login, "password": u.Password})
		if r.Status != 429 || r.Header.Get("Retry-After") == "" {
			t.Fatalf("%s after 3 failures: %d %s", login, r.Status, r.Body)
		}
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	u := e.Register("rt")
	refresh := func(tok string) apitest.Resp {
		return e.Do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": tok})
	}
	r := refresh(u.Refresh)
	if r.Status != 200 {
		t.Fatalf("refresh: %d %s", r.Status, r.Body)
	}
	var s struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	r.JSON(t, &s)
	if s.RefreshToken == u.Refresh {
		t.Fatal("refresh token not rotated")
	}
	// Reusing the old one fails and revokes the family: the new one dies too.
	if r := refresh(u.Refresh); r.Status != 401 {
		t.Fatalf("reuse: %d %s", r.Status, r.Body)
	}
	if r := refresh(s.RefreshToken); r.Status != 401 {
		t.Fatalf("family not revoked: %d %s", r.Status, r.Body)
	}
	// Logout ends a session.
	r = e.Do("POST", "/v1/auth/login", "", map[string]string{"login": u.Account, "password": u.Password})
	r.JSON(t, &s)
	if r := e.Do("POST", "/v1/auth/logout", "", map[string]string{"refresh_token": s.RefreshToken}); r.Status != 204 {
		t.Fatalf("logout: %d %s", r.Status, r.Body)
	}
	if r := refresh(s.RefreshToken); r.Status != 401 {
		t.Fatalf("refresh after logout: %d", r.Status)
	}
}

func TestConcurrentRegistrationsGiveOneUser(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	const n = 8
	// One account name, eight verified emails.
	acc := apitest.Unique("race")
	emails := make([]string, n)
	codes := make([]string, n)
	for i := range emails {
		emails[i] = apitest.Unique("race") + "@example.com"
		codes[i] = e.Code(emails[i])
	}
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			statuses[i] = e.Do("POST", "/v1/auth/register", "", map[string]string{
				"email": emails[i], "code": codes[i], "account": acc, "password": "s3cret-pass"}).Status
		}(i)
	}
	wg.Wait()
	if got := count(statuses, 201); got != 1 || count(statuses, 409) != n-1 {
		t.Fatalf("same account: statuses %v", statuses)
	}
	// One email, one code, eight account names.
	email := apitest.Unique("race") + "@example.com"
	code := e.Code(email)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			statuses[i] = e.Do("POST", "/v1/auth/register", "", map[string]string{
				"email": email, "code": code, "account": apitest.Unique("race"), "password": "s3cret-pass"}).Status
		}(i)
	}
	wg.Wait()
	if count(statuses, 201) != 1 {
		t.Fatalf("same email: statuses %v", statuses)
	}
	if _, err := e.Backends.Store.UserByEmail(t.Context(), email); err != nil {
		t.Fatal(err)
	}
}

func count(xs []int, v int) int {
	n := 0
	for _, x := range xs {
		if x == v {
			n++
		}
	}
	return n
}

func TestValidationAndLimits(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	u := e.Register("val")
	cases := []struct {
		name, method, path, token string
		body                      any
		status                    int
		code                      string
	}{
		{"unknown field", "POST", "/v1/auth/login", "", `{"login":"a","password":"b","admin":true}`, 400, "invalid_argument"},
		{"not json", "POST", "/v1/auth/login", "", `{login`, 400, "invalid_argument"},
		{"empty body", "POST", "/v1/auth/login", "", ``, 400, "invalid_argument"},
		{"two objects", "POST", "/v1/auth/login", "", `{"login":"a","password":"b"}{}`, 400, "invalid_argument"},
		{"wrong type", "POST", "/v1/auth/login", "", `{"login":1,"password":"b"}`, 400, "invalid_argument"},
		{"too large", "POST", "/v1/auth/login", "", `{"login":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "payload_too_large"},
		{"short password", "POST", "/v1/auth/register", "", map[string]string{"email": "x@example.com", "code": "123456", "account": "abcd", "password": "short"}, 400, "invalid_argument"},
		{"bad account", "POST", "/v1/auth/register", "", map[string]string{"email": "x@example.com", "code": "123456", "account": "A!", "password": "long-enough"}, 400, "invalid_argument"},
		{"bad code form", "POST", "/v1/auth/register", "", map[string]string{"email": "x@example.com", "code": "12ab56", "account": "abcd", "password": "long-enough"}, 400, "invalid_argument"},
		{"long nickname", "PATCH", "/v1/me", u.Token, map[string]string{"nickname": strings.Repeat("n", 33)}, 400, "invalid_argument"},
		{"bad sex", "PATCH", "/v1/me", u.Token, map[string]int{"sex": 7}, 400, "invalid_argument"},
		{"limit too big", "GET", "/v1/rooms/01ARZ3NDEKTSV4RRFFQ69G5FAV/messages?limit=101", u.Token, nil, 400, "invalid_argument"},
		{"negative before", "GET", "/v1/rooms/01ARZ3NDEKTSV4RRFFQ69G5FAV/messages?before=-1", u.Token, nil, 400, "invalid_argument"},
		{"no token", "GET", "/v1/me", "", nil, 401, "unauthenticated"},
		{"garbage token", "GET", "/v1/me", "not.a.jwt", nil, 401, "unauthenticated"},
		{"unknown route", "GET", "/v1/nothing", "", nil, 404, "not_found"},
		{"unknown user", "GET", "/v1/users/nobody-here", u.Token, nil, 404, "not_found"},
	}
	for _, c := range cases {
		r := e.Do(c.method, c.path, c.token, c.body)
		if r.Status != c.status || r.ErrCode() != c.code {
			t.Errorf("%s: got %d %s, want %d %s", c.name, r.Status, r.Body, c.status, c.code)
		}
	}
	// Profile update works.
	r := e.Do("PATCH", "/v1/me", u.Token, map[string]any{"nickname": "Zoë", "sex": 2, "avatar": "https://example.com/a.png"})
	var me struct {
		Nickname, Avatar string
		Sex              int
	}
	r.JSON(t, &me)
	if r.Status != 200 || me.Nickname != "Zoë" || me.Sex != 2 || me.Avatar != "https://example.com/a.png" {
		t.Fatalf("profile: %d %s", r.Status, r.Body)
	}
	if r := e.Do("GET", "/healthz", "", nil); r.Status != 200 {
		t.Fatal("healthz", r.Status)
	}
	if r := e.Do("GET", "/readyz", "", nil); r.Status != 200 {
		t.Fatal("readyz", r.Status, string(r.Body))
	}
	if r := e.Do("GET", "/.well-known/jwks.json", "", nil); r.Status != 200 || !strings.Contains(string(r.Body), `"OKP"`) {
		t.Fatal("jwks", r.Status, string(r.Body))
	}
}

var _ = service.MaxPage

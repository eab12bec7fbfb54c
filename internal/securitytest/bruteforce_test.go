package securitytest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/emailcode"
	"github.com/im-websocket-go/im-websocket-go/internal/httpapi"
	"github.com/im-websocket-go/im-websocket-go/internal/ratelimit"
	"github.com/im-websocket-go/im-websocket-go/internal/service"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/kv"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

func login(e *apitest.Env, account, password string) apitest.Resp {
	return e.Do("POST", "/v1/auth/login", "", map[string]string{"login": account, "password": password})
}

// expectRateLimited checks a 429 with the contract body and a Retry-After
// of whole seconds within the window.
func expectRateLimited(t *testing.T, what string, r apitest.Resp, window time.Duration) {
	t.Helper()
	expectError(t, what, r, 429, protocol.CodeRateLimited)
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > int(window/time.Second)+1 {
		t.Errorf("%s: Retry-After %q, want 1..%d seconds", what, r.Header.Get("Retry-After"), int(window/time.Second)+1)
	}
}

// TestLoginBruteForcePerAccount: wrong passwords against one account, and
// against an account that does not exist, get the same 401s and then the
// same 429 with Retry-After — even with the right password.
func TestLoginBruteForcePerAccount(t *testing.T) {
	lim := apitest.Generous()
	lim.LoginPerAccount = ratelimit.Rule{N: 3, Window: time.Minute}
	e := apitest.New(t, apitest.Options{Limits: &lim, RedisURL: testenv.NewRedisServer(t).URL()})
	u := e.Register("bfa")
	ghost := "ghost-" + u.Account

	var answers [2][]apitest.Resp
	for i, acc := range []string{u.Account, ghost} {
		for try := 1; try <= 3; try++ {
			r := login(e, acc, fmt.Sprintf("guess number %d", try))
			expectError(t, fmt.Sprintf("%s wrong try %d", acc, try), r, 401, protocol.CodeUnauthenticated)
			answers[i] = append(answers[i], r)
		}
		r := login(e, acc, fmt.Sprintf("guess number %d", 4))
		expectRateLimited(t, acc+" 4th try", r, time.Minute)
		answers[i] = append(answers[i], r)
	}
	// The right password no longer gets in either.
	expectRateLimited(t, "right password after the limit", login(e, u.Account, u.Password), time.Minute)
	// Existing and unknown accounts are indistinguishable by the answers.
	for k := range answers[0] {
		a, b := answers[0][k], answers[1][k]
		if a.Status != b.Status || string(a.Body) != string(b.Body) {
			t.Errorf("answer %d differs: existing %d %s, unknown %d %s", k+1, a.Status, a.Body, b.Status, b.Body)
		}
	}
	// Another account from the same address is not affected.
	v := e.Register("bfb")
	if r := login(e, v.Account, v.Password); r.Status != 200 {
		t.Fatalf("other account: %d %s", r.Status, r.Body)
	}
}

// TestLoginLimitCoversEveryLoginForm: the per-account limit is one budget
// for the account, whether the guesses name it by account or by email.
func TestLoginLimitCoversEveryLoginForm(t *testing.T) {
	lim := apitest.Generous()
	lim.LoginPerAccount = ratelimit.Rule{N: 3, Window: time.Minute}
	e := apitest.New(t, apitest.Options{Limits: &lim, RedisURL: testenv.NewRedisServer(t).URL()})
	u := e.Register("lf")
	forms := []string{u.Account, u.Email, strings.ToUpper(u.Email)}
	for try := 0; try < 3; try++ {
		r := login(e, forms[try%len(forms)], fmt.Sprintf("guess %d", try))
		expectError(t, fmt.Sprintf("try %d", try), r, 401, protocol.CodeUnauthenticated)
	}
	for _, f := range forms {
		expectRateLimited(t, "by "+f+" after 3 failures", login(e, f, "one more guess"), time.Minute)
	}
}

// TestLoginBruteForcePerAddress: spraying one password over many accounts
// (existing or not) from one address is refused after the per-address
// limit, for every account — and a forged X-Forwarded-For does not make
// a new address, neither directly (TrustProxy off) nor behind a proxy that
// appends the real address (TrustProxy on: only the last entry counts).
func TestLoginBruteForcePerAddress(t *testing.T) {
	lim := apitest.Generous()
	lim.LoginPerIP = ratelimit.Rule{N: 4, Window: time.Minute}
	e := apitest.New(t, apitest.Options{Limits: &lim, RedisURL: testenv.NewRedisServer(t).URL()})
	u := e.Register("bfi")
	spray := func(acc, password string, i int) apitest.Resp {
		req, _ := http.NewRequest("POST", e.URL+"/v1/auth/login",
			strings.NewReader(`{"login":"`+acc+`","password":"`+password+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i+1))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return apitest.Resp{Status: res.StatusCode, Header: res.Header, Body: b}
	}
	for i, acc := range []string{u.Account, "ghost1-" + u.Account, "ghost2-" + u.Account, "ghost3-" + u.Account} {
		expectError(t, fmt.Sprintf("spray %d", i), spray(acc, "Summer2024!", i), 401, protocol.CodeUnauthenticated)
	}
	expectRateLimited(t, "fresh unknown account", spray("ghost4-"+u.Account, "Summer2024!", 4), time.Minute)
	expectRateLimited(t, "right password", spray(u.Account, u.Password, 5), time.Minute)

	// Behind a proxy that appends the client's address.
	api := httpapi.New(e.Core.Service, e.Core.Verifier, e.Core.Signer.JWKSJSON, zap.NewNop(), httpapi.Options{TrustProxy: true})
	viaProxy := func(acc, password string, i int) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/v1/auth/login", strings.NewReader(`{"login":"`+acc+`","password":"`+password+`"}`))
		req.RemoteAddr = "10.0.0.2:40000" // the proxy
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d, 203.0.113.77", i+1))
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		return rec
	}
	for i := 0; i < 4; i++ {
		if rec := viaProxy(fmt.Sprintf("ghost-p%d-%s", i, u.Account), "Winter2024!", i); rec.Code != 401 {
			t.Fatalf("via proxy %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	if rec := viaProxy(u.Account, u.Password, 9); rec.Code != 429 || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("via proxy with a forged first X-Forwarded-For entry: %d %s", rec.Code, rec.Body)
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestLoginTimingSameForUnknownAccounts: a wrong password for an existing
// account and any password for an unknown one both cost one argon2id
// verification (the unknown one against a dummy hash), so the time of the
// answer does not tell whether the account exists. Medians of a few tries
// are compared with a generous factor.
func TestLoginTimingSameForUnknownAccounts(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	u := e.Register("tim")
	login(e, u.Account, "warm up the pool") // first argon2 allocation
	const tries = 7
	var known, unknown []time.Duration
	for i := 0; i < tries; i++ {
		for _, acc := range []string{u.Account, "nobody-" + u.Account} {
			start := time.Now()
			r := login(e, acc, "wrong password "+strconv.Itoa(i))
			d := time.Since(start)
			if r.Status != 401 {
				t.Fatalf("%s: %d %s", acc, r.Status, r.Body)
			}
			if acc == u.Account {
				known = append(known, d)
			} else {
				unknown = append(unknown, d)
			}
		}
	}
	mk, mu := median(known), median(unknown)
	t.Logf("median login time: existing account %v, unknown account %v", mk, mu)
	if mk > 3*mu || mu > 3*mk {
		t.Fatalf("login time tells whether an account exists: existing %v, unknown %v", mk, mu)
	}
	// Each guess costs the server (and so the attacker) a real hash: far
	// more than a lookup would.
	if mu < 2*time.Millisecond || mk < 2*time.Millisecond {
		t.Fatalf("a login attempt costs too little to slow guessing: existing %v, unknown %v", mk, mu)
	}
}

// holdKV holds the first n Get calls of keys with a prefix until release
// is closed (or a bound passes), to line concurrent requests up exactly
// the way a burst of parallel requests can.
type holdKV struct {
	kv.KV
	prefix  string
	n       int64
	calls   atomic.Int64
	arrived chan struct{}
	release chan struct{}
}

func newHoldKV(inner kv.KV, prefix string, n int) *holdKV {
	return &holdKV{KV: inner, prefix: prefix, n: int64(n), arrived: make(chan struct{}, n), release: make(chan struct{})}
}

func (h *holdKV) Get(ctx context.Context, key string) (string, error) {
	if strings.HasPrefix(key, h.prefix) && h.calls.Add(1) <= h.n {
		h.arrived <- struct{}{}
		select {
		case <-h.release:
		case <-time.After(wait):
		}
	}
	return h.KV.Get(ctx, key)
}

// waitHeld waits until the n held calls arrived or the callers all
// finished (an implementation that no longer calls Get there), bounded.
func (h *holdKV) waitHeld(done <-chan struct{}) {
	deadline := time.After(wait)
	for got := int64(0); got < h.n; {
		select {
		case <-h.arrived:
			got++
		case <-done:
			return
		case <-deadline:
			return
		}
	}
}

// TestLoginConcurrentGuessesBounded: guesses sent in parallel count
// against the per-account limit too — with a limit of 3, a burst of 10
// parallel wrong guesses must not leave room for the right password.
func TestLoginConcurrentGuessesBounded(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	u := e.Register("par")
	lim := apitest.Generous()
	lim.LoginPerAccount = ratelimit.Rule{N: 3, Window: time.Minute}
	const burst = 10
	hold := newHoldKV(e.Backends.KV, "rl:login:a:", burst)
	svc := service.New(service.Deps{Store: e.Backends.Store, KV: hold, Limits: lim, Log: e.Log,
		Sessions: &auth.Sessions{Tokens: e.Backends.Store, Issuer: e.Core.Issuer}})
	t.Cleanup(svc.Close)

	ctx := context.Background()
	done := make(chan struct{})
	var wg sync.WaitGroup
	var checked atomic.Int64
	for i := 0; i < burst; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := svc.Login(ctx, u.Account, fmt.Sprintf("parallel guess %d", i), "", "198.51.100.7")
			if protocol.AsError(err).Code == protocol.CodeUnauthenticated {
				checked.Add(1)
			}
		}(i)
	}
	go func() { wg.Wait(); close(done) }()
	hold.waitHeld(done)
	// The burst is in flight; now the right password.
	_, err := svc.Login(ctx, u.Account, u.Password, "", "198.51.100.7")
	close(hold.release)
	<-done
	if err == nil {
		t.Errorf("the right password got in while %d parallel wrong guesses were in flight (limit 3)", burst)
	}
	if n := checked.Load(); n > 3 {
		t.Errorf("%d of %d parallel wrong guesses were verified; the limit is 3", n, burst)
	}
}

// TestEmailCodeGuessing: a code allows at most 5 wrong tries — after them
// even the right code fails — and 4 wrong tries do not stop the right
// one.
func TestEmailCodeGuessing(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	register := func(email, code string) apitest.Resp {
		return e.Do("POST", "/v1/auth/register", "", map[string]string{
			"email": email, "code": code, "account": apitest.Unique("cg"), "password": "long enough pw"})
	}
	wrong := func(code string, i int) string {
		n, _ := strconv.Atoi(code)
		return fmt.Sprintf("%06d", (n+i)%1000000)
	}
	for _, c := range []struct {
		wrongTries int
		want       int
	}{{4, 201}, {5, 400}, {8, 400}} {
		email := apitest.Unique("cg") + "@example.com"
		code := e.Code(email)
		var first apitest.Resp
		for i := 1; i <= c.wrongTries; i++ {
			r := register(email, wrong(code, i))
			expectError(t, fmt.Sprintf("wrong try %d", i), r, 400, protocol.CodeInvalidArgument)
			if i == 1 {
				first = r
			} else if string(r.Body) != string(first.Body) {
				t.Errorf("wrong try %d answers differently: %s vs %s", i, r.Body, first.Body)
			}
		}
		if r := register(email, code); r.Status != c.want {
			t.Errorf("right code after %d wrong tries: %d %s, want %d", c.wrongTries, r.Status, r.Body, c.want)
		} else if c.want == 400 && string(r.Body) != string(first.Body) {
			t.Errorf("burnt code answers differently from a wrong one: %s vs %s", r.Body, first.Body)
		}
	}
}

// TestEmailCodeRequestsRateLimited: code requests are limited per address
// (here 2 a minute) and per client (here 6 an hour; every request counts),
// with 429 and Retry-After; the answer for a registered address is the
// same as for a free one.
func TestEmailCodeRequestsRateLimited(t *testing.T) {
	o := apitest.GenerousCodes()
	o.PerEmail = ratelimit.Rule{N: 2, Window: time.Minute}
	o.PerIP = ratelimit.Rule{N: 6, Window: time.Hour}
	e := apitest.New(t, apitest.Options{Codes: &o, RedisURL: testenv.NewRedisServer(t).URL()})
	ask := func(email string) apitest.Resp {
		return e.Do("POST", "/v1/auth/email-code", "", map[string]string{"email": email})
	}
	a := apitest.Unique("rq") + "@example.com"
	r1 := ask(a) // client: 1
	if r1.Status != 202 {
		t.Fatalf("first request: %d %s", r1.Status, r1.Body)
	}
	if r := ask(a); r.Status != 202 { // 2
		t.Fatalf("second request: %d %s", r.Status, r.Body)
	}
	expectRateLimited(t, "third code for one address within a minute", ask(a), time.Minute)  // 3
	expectRateLimited(t, "same address in upper case", ask(strings.ToUpper(a)), time.Minute) // 4
	// A registered address gets the same answer as a free one.
	u := e.Register("rqu") // 5
	r2 := ask(u.Email)     // 6
	if r2.Status != r1.Status || string(r2.Body) != string(r1.Body) {
		t.Fatalf("registered address: %d %s, free address: %d %s", r2.Status, r2.Body, r1.Status, r1.Body)
	}
	expectRateLimited(t, "per-client limit, fresh address", ask(apitest.Unique("rq")+"@example.com"), time.Hour) // 7
	if got := len(e.SMTP.Mails()); got != 4 {
		t.Fatalf("%d mails sent, want 4", got)
	}
}

// TestEmailCodeConcurrentGuessesBounded: wrong codes sent in parallel
// count against the 5 tries too — while 19 parallel wrong guesses are in
// flight, the right code must not be accepted.
func TestEmailCodeConcurrentGuessesBounded(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	const burst = 19
	hold := newHoldKV(e.Backends.KV, "ec:code:", burst)
	sent := make(chan string, 1)
	codes := emailcode.New(hold, senderFunc(func(body string) { sent <- body }), emailcode.Options{
		PerEmail: ratelimit.Rule{N: 100, Window: time.Hour}, PerEmailHour: ratelimit.Rule{N: 100, Window: time.Hour},
		PerIP: ratelimit.Rule{N: 100, Window: time.Hour}})
	ctx := context.Background()
	email := apitest.Unique("pc") + "@example.com"
	if err := codes.Request(ctx, email, "198.51.100.8"); err != nil {
		t.Fatal(err)
	}
	var code string
	select {
	case body := <-sent:
		code = strings.Fields(strings.SplitN(body, "is ", 2)[1])[0]
	case <-time.After(wait):
		t.Fatal("no code sent")
	}
	n, _ := strconv.Atoi(code)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := 1; i <= burst; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_ = codes.Check(ctx, email, fmt.Sprintf("%06d", (n+i)%1000000))
		}(i)
	}
	go func() { wg.Wait(); close(done) }()
	hold.waitHeld(done)
	// As registration does: Check (counts a try), then Consume.
	err := codes.Check(ctx, email, code)
	if err == nil {
		err = codes.Consume(ctx, email, code)
	}
	close(hold.release)
	<-done
	if err == nil {
		t.Errorf("the right code was accepted while %d parallel wrong guesses were in flight (limit 5)", burst)
	}
}

type senderFunc func(body string)

func (f senderFunc) Send(_ context.Context, _, _, body string) error { f(body); return nil }

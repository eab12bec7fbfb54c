package gateway_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/identitytest"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// Bring your own identity, end to end: a real IdP (JWKS over HTTP on
// 127.0.0.1), the API and gateway nodes of a cluster on the shared Redis
// and store.

func idpConfig(idp *identitytest.IdP, builtin bool) func(*config.Config) {
	return func(c *config.Config) {
		c.IDPIssuer, c.IDPAudience, c.IDPJWKSURL = idp.Issuer, idp.Audience, idp.JWKSURL()
		c.IDPAlgorithms = []string{"RS256", "ES256", "EdDSA"}
		c.IDPUserClaim, c.IDPNicknameClaim, c.IDPAvatarClaim = "sub", "name", "picture"
		c.IDPMinRefresh, c.IDPFetchTimeout, c.IDPMaxTokenTTL = time.Second, time.Second, time.Hour
		c.BuiltinAuth = builtin
	}
}

type meBody struct {
	ID       string `json:"id"`
	Account  string `json:"account"`
	Nickname string `json:"nickname"`
	Avatar   string `json:"avatar"`
}

func me(t *testing.T, c *apitest.Env, tok string) meBody {
	t.Helper()
	r := c.Do("GET", "/v1/me", tok, nil)
	if r.Status != 200 {
		t.Fatalf("GET /v1/me: %d %s", r.Status, r.Body)
	}
	var m meBody
	r.JSON(t, &m)
	return m
}

// wantTokenRefused checks a 401 with the contract's body whose message says
// why.
func wantTokenRefused(t *testing.T, r apitest.Resp, reason string) {
	t.Helper()
	var b struct {
		Error struct{ Code, Message string }
	}
	_ = json.Unmarshal(r.Body, &b)
	if r.Status != 401 || b.Error.Code != protocol.CodeUnauthenticated || !strings.Contains(b.Error.Message, reason) {
		t.Fatalf("got %d %s, want 401 unauthenticated mentioning %q", r.Status, r.Body, reason)
	}
}

// wsRefused asks a gateway node's upgrade with tok and checks its 401.
func wsRefused(t *testing.T, node *apitest.Node, tok, reason string) {
	t.Helper()
	req, err := http.NewRequest("GET", node.Server.URL+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	wantTokenRefused(t, apitest.Resp{Status: res.StatusCode, Body: b}, reason)
}

func TestExternalIdentityChatsWithBuiltinUser(t *testing.T) {
	idp := identitytest.New(t, jwa.RS256)
	c := apitest.NewCluster(t, 2, apitest.Options{Config: idpConfig(idp, true)})
	sub := apitest.Unique("ext")
	tok := idp.Token(sub)

	// REST: first sight provisions the user, later requests find it.
	m := me(t, c.Env, tok)
	if m.ID == "" || m.Nickname != "Ext "+sub || m.Avatar != "https://img.example/"+sub+".png" || m.Account != sub {
		t.Fatalf("provisioned user %+v", m)
	}
	if again := me(t, c.Env, idp.Token(sub)); again.ID != m.ID {
		t.Fatalf("second token of %s is user %s, want %s", sub, again.ID, m.ID)
	}
	// No password works for an external user, and asking is no error.
	for _, pw := range []string{"", "guess password 1"} {
		r := c.Do("POST", "/v1/auth/login", "", map[string]string{"login": m.Account, "password": pw})
		if r.Status != 400 && r.Status != 401 {
			t.Fatalf("password login of an external user: %d %s", r.Status, r.Body)
		}
	}
	if r := c.Do("POST", "/v1/me/password", tok, map[string]string{"current_password": "guess password 1", "new_password": "another password 2"}); r.Status < 400 || r.Status >= 500 {
		t.Fatalf("password change of an external user: %d %s", r.Status, r.Body)
	}

	// Chat with a built-in user, over two gateway nodes.
	bob := c.Register("bob")
	ext := &apitest.User{ID: m.ID, Account: m.Account, Token: tok}
	room := c.Befriend(ext, bob)
	ew := apitest.DialWS(t, c.Nodes[0].URL, tok)
	if ew.Hello.UserID != m.ID {
		t.Fatalf("hello user %s, want %s", ew.Hello.UserID, m.ID)
	}
	bw := apitest.DialWS(t, c.Nodes[1].URL, bob.Token)
	c.Settle()
	if _, _, err := ew.SendReliably(room, "hi from the host app", "ext-1", 20, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	got, err := bw.WaitFor(10*time.Second, func(o protocol.Outbound) bool {
		return o.Type == protocol.TypeMessage && o.Message != nil && o.Message.Body == "hi from the host app"
	})
	if err != nil || got.Message.From != m.ID {
		t.Fatalf("bob's message: %+v %v", got, err)
	}
	if _, _, err := bw.SendReliably(room, "hello external", "bob-1", 20, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := ew.WaitFor(10*time.Second, func(o protocol.Outbound) bool {
		return o.Type == protocol.TypeMessage && o.Message != nil && o.Message.Body == "hello external" && o.Message.From == bob.ID
	}); err != nil {
		t.Fatalf("external user's message: %v", err)
	}
	// A refresh frame with another token of the same external user.
	if err := ew.Send(map[string]string{"type": "refresh", "access_token": idp.Token(sub)}); err != nil {
		t.Fatal(err)
	}
	if err := ew.Send(map[string]string{"type": "ping"}); err != nil {
		t.Fatal(err)
	}
	if o, err := ew.WaitFor(5*time.Second, func(o protocol.Outbound) bool {
		return o.Type == protocol.TypePong || o.Type == protocol.TypeError
	}); err != nil || o.Type != protocol.TypePong {
		t.Fatalf("after refresh: %+v %v", o, err)
	}

	// Key rotation at the IdP: a token of a new kid is accepted (by the
	// API and by a node) once the minimum refresh interval allows a fetch,
	// as a client retrying would see.
	idp.AddKey(jwa.ES256)
	rotated := idp.Token(sub)
	deadline := time.Now().Add(10 * time.Second)
	for n := 0; ; n++ {
		r := c.Do("GET", "/v1/me", rotated, nil)
		if r.Status == 200 {
			break
		}
		if r.Status != 401 || time.Now().After(deadline) || n > 100 {
			t.Fatalf("token of the rotated key: %d %s", r.Status, r.Body)
		}
		time.Sleep(200 * time.Millisecond) // a client's retry pace
	}
	var rw *apitest.WS
	for n := 0; ; n++ {
		w, err := apitest.TryDialWS(c.Nodes[1].URL, rotated, nil)
		if err == nil {
			rw = w
			break
		}
		if time.Now().After(deadline) || n > 100 {
			t.Fatalf("WS with the rotated key: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Cleanup(func() { _ = rw.Conn.Close() })
	if h, err := rw.Next(5 * time.Second); err != nil || h.Type != protocol.TypeHello || h.UserID != m.ID {
		t.Fatalf("hello with the rotated key: %+v %v", h, err)
	}
}

// TestExternalFirstSightConcurrent: first requests at once of a new
// subject create one user.
func TestExternalFirstSightConcurrent(t *testing.T) {
	idp := identitytest.New(t, jwa.EdDSA)
	c := apitest.New(t, apitest.Options{Config: idpConfig(idp, true)})
	sub := apitest.Unique("race")
	const n = 8
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", c.URL+"/v1/me", nil)
			req.Header.Set("Authorization", "Bearer "+idp.Token(sub))
			// A real client retries unavailable.
			for try := 0; try < 10; try++ {
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					errs[i] = err
					return
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode == 503 {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				if res.StatusCode != 200 {
					errs[i] = fmt.Errorf("%d %s", res.StatusCode, b)
					return
				}
				var m meBody
				errs[i] = json.Unmarshal(b, &m)
				ids[i] = m.ID
				return
			}
			errs[i] = fmt.Errorf("still unavailable")
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Fatalf("request %d got user %s, request 0 %s", i, ids[i], ids[0])
		}
	}
	r := c.Do("GET", "/v1/users/"+sub, idp.Token(sub), nil)
	if r.Status != 200 {
		t.Fatalf("the account %s: %d %s", sub, r.Status, r.Body)
	}
}

func TestExternalTokensRefused(t *testing.T) {
	idp := identitytest.New(t, jwa.RS256)
	c := apitest.NewCluster(t, 1, apitest.Options{Config: idpConfig(idp, true)})
	node := c.Nodes[0]
	sub := apitest.Unique("bad")
	good := idp.Token(sub)
	me(t, c.Env, good)
	cur := idp.Current()
	claims := func(edit func(map[string]any)) map[string]any {
		cl := idp.Claims(sub)
		edit(cl)
		return cl
	}
	der, err := x509.MarshalPKIXPublicKey(cur.Private.Public())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	noneHdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"` + cur.ID + `"}`))
	noneBody := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"` + idp.Issuer + `","aud":"` + idp.Audience +
		`","sub":"` + sub + `","iat":` + strconv.FormatInt(now.Unix(), 10) + `,"exp":` + strconv.FormatInt(now.Add(time.Minute).Unix(), 10) + `}`))
	other := identitytest.New(t, jwa.RS256) // an IdP nobody configured
	for _, tc := range []struct {
		name, tok, reason string
	}{
		{"HS256 with the public key", identitytest.SignWith(t, jwa.HS256, der, cur.ID, idp.Claims(sub)), "algorithm not allowed"},
		{"alg none", noneHdr + "." + noneBody + ".", "invalid"},
		{"alg none signed", noneHdr + "." + noneBody + ".AAAA", "algorithm not allowed"},
		{"wrong aud", idp.Sign(cur, claims(func(c map[string]any) { c["aud"] = "another-app" })), "audience mismatch"},
		{"expired", idp.Sign(cur, claims(func(c map[string]any) {
			c["iat"], c["exp"] = now.Add(-time.Hour).Unix(), now.Add(-10*time.Minute).Unix()
		})), "expired"},
		{"lifetime too long", idp.Sign(cur, claims(func(c map[string]any) { c["exp"] = now.Add(3 * time.Hour).Unix() })), "lifetime too long"},
		{"unconfigured issuer", other.Token(sub), "issuer is not accepted"},
		{"issuer claim forged", other.Sign(other.Current(), claims(func(map[string]any) {})), "invalid token: "},
		{"garbage", "not-a-token", "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantTokenRefused(t, c.Do("GET", "/v1/me", tc.tok, nil), tc.reason)
			wsRefused(t, node, tc.tok, tc.reason)
		})
	}

	// Made-up kids: refused, and the IdP sees at most one fetch per
	// IM_IDP_MIN_REFRESH (1s here) from the API.
	start, before := time.Now(), idp.Requests()
	for i := range 30 {
		k := *cur
		k.ID = fmt.Sprintf("made-up-%d", i)
		wantTokenRefused(t, c.Do("GET", "/v1/me", idp.Sign(&k, idp.Claims(sub)), nil), "signing key unknown")
	}
	if got, bound := idp.Requests()-before, int64(time.Since(start)/time.Second)+1; got > bound {
		t.Fatalf("%d JWKS requests for 30 unknown kids in %s, want at most %d", got, time.Since(start), bound)
	}

	// The IdP fails: a new kid is refused with a clear reason, the keys
	// already known keep working.
	idp.Fail(http.StatusInternalServerError)
	fresh := idp.AddKey(jwa.ES256)
	wantTokenRefused(t, c.Do("GET", "/v1/me", idp.Sign(fresh, idp.Claims(sub)), nil), "signing key unknown")
	me(t, c.Env, idp.Sign(cur, idp.Claims(sub)))
	idp.Fail(0)

	// The IdP hangs: the answer still comes within the fetch timeout.
	// Every answer is bounded; asking until the IdP sees the (hanging)
	// fetch, as IM_IDP_MIN_REFRESH allows one.
	idp.Hang()
	hung := idp.AddKey(jwa.EdDSA)
	hungTok := idp.Sign(hung, idp.Claims(sub))
	before = idp.Requests()
	for n := 0; idp.Requests() == before; n++ {
		if n == 40 {
			t.Fatal("the API never fetched the JWKS again")
		}
		t0 := time.Now()
		wantTokenRefused(t, c.Do("GET", "/v1/me", hungTok, nil), "signing key unknown")
		if d := time.Since(t0); d > 5*time.Second {
			t.Fatalf("answer took %s with a hanging JWKS (fetch timeout 1s)", d)
		}
		time.Sleep(100 * time.Millisecond) // a client's retry pace
	}
	idp.Unhang()
}

// TestExternalTokensFollowUserRevocation: a user-level revocation (logout
// everywhere here; a ban or a deletion sets the same cut-off) refuses the
// external tokens issued before it, over REST and on the gateway.
func TestExternalTokensFollowUserRevocation(t *testing.T) {
	idp := identitytest.New(t, jwa.ES256)
	c := apitest.NewCluster(t, 1, apitest.Options{Config: idpConfig(idp, true)})
	sub := apitest.Unique("rev")
	old := idp.Sign(idp.Current(), func() map[string]any {
		cl := idp.Claims(sub)
		cl["iat"] = time.Now().Add(-5 * time.Second).Unix()
		return cl
	}())
	me(t, c.Env, old)
	if r := c.Do("POST", "/v1/auth/logout-all", old, nil); r.Status != 204 {
		t.Fatalf("logout-all: %d %s", r.Status, r.Body)
	}
	wantTokenRefused(t, c.Do("GET", "/v1/me", old, nil), "session has ended")
	wsRefused(t, c.Nodes[0], old, "session has ended")
	// A token the host issues afterwards works.
	later := idp.Sign(idp.Current(), func() map[string]any {
		cl := idp.Claims(sub)
		cl["iat"] = time.Now().Add(2 * time.Second).Unix()
		return cl
	}())
	me(t, c.Env, later)
}

// TestBuiltinAuthOff: with IM_BUILTIN_AUTH=false the email sign-in routes
// answer forbidden and the IdP's users still get in.
func TestBuiltinAuthOff(t *testing.T) {
	idp := identitytest.New(t, jwa.EdDSA)
	c := apitest.New(t, apitest.Options{Config: idpConfig(idp, false)})
	for _, p := range []string{"/v1/auth/email-code", "/v1/auth/register", "/v1/auth/login", "/v1/auth/password-reset"} {
		r := c.Do("POST", p, "", map[string]string{"email": "a@example.com"})
		if r.Status != 403 || r.ErrCode() != protocol.CodeForbidden {
			t.Errorf("POST %s: %d %s, want 403 forbidden", p, r.Status, r.Body)
		}
	}
	me(t, c, idp.Token(apitest.Unique("only")))
}

package identity_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/im-websocket-go/im-websocket-go/internal/identitytest"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/identity"
)

func newProvider(t *testing.T, idp *identitytest.IdP, jo identity.JWKSOptions, cfg identity.Config) (*identity.Provider, *identity.JWKS) {
	t.Helper()
	keys, err := identity.NewJWKS(idp.JWKSURL(), jo)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Issuer == "" {
		cfg.Issuer = idp.Issuer
	}
	if cfg.Audience == "" {
		cfg.Audience = idp.Audience
	}
	p, err := identity.NewProvider(keys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, keys
}

// clock is a test clock moved by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func refused(t *testing.T, p *identity.Provider, tok, wantReason string) {
	t.Helper()
	_, err := p.Verify(t.Context(), tok)
	if err == nil {
		t.Fatalf("token accepted, want refused (%s)", wantReason)
	}
	if !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("error %v does not wrap auth.ErrInvalidToken", err)
	}
	if got := identity.Reason(err); !strings.Contains(got, wantReason) {
		t.Fatalf("reason %q, want it to contain %q (err %v)", got, wantReason, err)
	}
}

func TestVerifyEveryAlgorithm(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.RS256, jwa.ES256, jwa.EdDSA} {
		t.Run(alg.String(), func(t *testing.T) {
			idp := identitytest.New(t, alg)
			p, _ := newProvider(t, idp, identity.JWKSOptions{}, identity.Config{NicknameClaim: "name", AvatarClaim: "picture"})
			c, err := p.Verify(t.Context(), idp.Token("alice"))
			if err != nil {
				t.Fatal(err)
			}
			if c.Subject != "alice" || c.Issuer != idp.Issuer || c.Nickname != "Ext alice" ||
				c.Avatar != "https://img.example/alice.png" || c.IssuedAt.IsZero() || c.ExpiresAt.IsZero() {
				t.Fatalf("claims %+v", c)
			}
		})
	}
}

func TestUserClaim(t *testing.T) {
	idp := identitytest.New(t, jwa.ES256)
	p, _ := newProvider(t, idp, identity.JWKSOptions{}, identity.Config{UserClaim: "uid"})
	cl := idp.Claims("ignored")
	cl["uid"] = "user-42"
	c, err := p.Verify(t.Context(), idp.Sign(idp.Current(), cl))
	if err != nil || c.Subject != "user-42" {
		t.Fatalf("claims %+v, %v", c, err)
	}
	delete(cl, "uid")
	refused(t, p, idp.Sign(idp.Current(), cl), "user claim")
	cl["uid"] = 42 // not a string
	refused(t, p, idp.Sign(idp.Current(), cl), "user claim")
	cl["uid"] = strings.Repeat("x", identity.MaxSubjectLen+1)
	refused(t, p, idp.Sign(idp.Current(), cl), "user claim")
}

// TestRotation: a token signed with a key published after the set was
// fetched makes one refresh, and is accepted.
func TestRotation(t *testing.T) {
	idp := identitytest.New(t, jwa.RS256)
	clk := newClock()
	p, keys := newProvider(t, idp, identity.JWKSOptions{MinRefresh: time.Second, Now: clk.Now}, identity.Config{})
	if _, err := p.Verify(t.Context(), idp.Token("a")); err != nil {
		t.Fatal(err)
	}
	old := idp.Current()
	idp.AddKey(jwa.ES256)
	before := keys.Fetches()
	clk.Advance(time.Second)
	if _, err := p.Verify(t.Context(), idp.Token("a")); err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
	if got := keys.Fetches() - before; got != 1 {
		t.Fatalf("%d fetches for the new kid, want 1", got)
	}
	// The old key is retired at the IdP: its tokens stop once the set is
	// fetched again, the new key's keep working.
	oldTok := idp.Sign(old, idp.Claims("a"))
	idp.RemoveKey(old)
	clk.Advance(time.Second)
	idp.AddKey(jwa.EdDSA) // a third key forces a fetch
	if _, err := p.Verify(t.Context(), idp.Token("a")); err != nil {
		t.Fatal(err)
	}
	// The fetched set replaced the one that had the old key.
	clk.Advance(time.Second)
	refused(t, p, oldTok, "signing key unknown")
}

// TestUnknownKidRefreshIsBounded: a flood of tokens with made-up kids
// costs the IdP at most one request per MinRefresh.
func TestUnknownKidRefreshIsBounded(t *testing.T) {
	idp := identitytest.New(t, jwa.ES256)
	p, keys := newProvider(t, idp, identity.JWKSOptions{MinRefresh: time.Hour}, identity.Config{})
	if _, err := p.Verify(t.Context(), idp.Token("a")); err != nil {
		t.Fatal(err)
	}
	start := idp.Requests()
	cur := idp.Current()
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := *cur
			k.ID = "made-up-" + string(rune('a'+i%26)) + strings.Repeat("x", i)
			_, err := p.Verify(t.Context(), idp.Sign(&k, idp.Claims("a")))
			if err == nil || !strings.Contains(identity.Reason(err), "signing key unknown") {
				t.Errorf("made-up kid: %v", err)
			}
		}()
	}
	wg.Wait()
	// The first fetch was at the first token, less than MinRefresh ago:
	// none of the 100 fetched again.
	if got := idp.Requests() - start; got != 0 {
		t.Fatalf("%d JWKS requests for 100 unknown kids within MinRefresh, want 0", got)
	}
	if keys.Fetches() != 1 {
		t.Fatalf("%d fetches, want 1", keys.Fetches())
	}
	// A real rotation within MinRefresh is picked up once MinRefresh has
	// passed: with a short interval, exactly one more fetch.
	clk := newClock()
	p2, keys2 := newProvider(t, idp, identity.JWKSOptions{MinRefresh: 30 * time.Second, Now: clk.Now}, identity.Config{})
	if _, err := p2.Verify(t.Context(), idp.Token("a")); err != nil {
		t.Fatal(err)
	}
	idp.AddKey(jwa.EdDSA)
	tok := idp.Token("a")
	clk.Advance(10 * time.Second)
	refused(t, p2, tok, "signing key unknown") // within MinRefresh: no fetch
	clk.Advance(20 * time.Second)
	if _, err := p2.Verify(t.Context(), tok); err != nil {
		t.Fatalf("new key after MinRefresh: %v", err)
	}
	if f := keys2.Fetches(); f != 2 {
		t.Fatalf("%d fetches, want 2 (initial, then one after MinRefresh)", f)
	}
}

func TestAlgorithmConfusionRefused(t *testing.T) {
	idp := identitytest.New(t, jwa.RS256)
	p, _ := newProvider(t, idp, identity.JWKSOptions{}, identity.Config{Algorithms: []string{"RS256"}})
	cur := idp.Current()
	if _, err := p.Verify(t.Context(), idp.Token("a")); err != nil {
		t.Fatal(err)
	}
	// HS256 with the public key (as the JWKS publishes it) as the secret.
	der, err := x509.MarshalPKIXPublicKey(cur.Private.Public())
	if err != nil {
		t.Fatal(err)
	}
	refused(t, p, identitytest.SignWith(t, jwa.HS256, der, cur.ID, idp.Claims("a")), "algorithm not allowed")
	// alg none, with and without a signature segment.
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"` + cur.ID + `"}`))
	body := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"` + idp.Issuer + `","aud":"` + idp.Audience + `","sub":"a","iat":` +
		itoa(time.Now().Unix()) + `,"exp":` + itoa(time.Now().Add(time.Minute).Unix()) + `}`))
	refused(t, p, hdr+"."+body+".", "malformed")
	refused(t, p, hdr+"."+body+".AAAA", "algorithm not allowed")
	// RS384 is not configured, though the key could make it.
	k := *cur
	k.Alg = jwa.RS384
	refused(t, p, idp.Sign(&k, idp.Claims("a")), "algorithm not allowed")
	// Configuring a symmetric algorithm or none is refused.
	for _, bad := range []string{"HS256", "none", "rs256"} {
		if _, err := identity.NewProvider(identity.StaticKeys{}, identity.Config{Issuer: "i", Audience: "a", Algorithms: []string{bad}}); err == nil {
			t.Errorf("algorithm %q accepted in config", bad)
		}
	}
}

// TestKeyWithWrongAlgorithm: the JWKS names an algorithm for the key that
// is not the token's, or the key's type does not fit the algorithm.
func TestKeyWithWrongAlgorithm(t *testing.T) {
	idp := identitytest.New(t, jwa.ES256)
	idp.Current().PublishAlg = "ES384"
	p, _ := newProvider(t, idp, identity.JWKSOptions{}, identity.Config{Algorithms: []string{"ES256", "RS256"}})
	refused(t, p, idp.Token("a"), "does not fit")
	// An EC key used for an RS256 token (the header lies about alg).
	idp2 := identitytest.New(t, jwa.ES256)
	idp2.Current().PublishAlg = ""
	p2, _ := newProvider(t, idp2, identity.JWKSOptions{}, identity.Config{Algorithms: []string{"ES256", "RS256"}})
	rsa := identitytest.New(t, jwa.RS256).Current()
	refused(t, p2, identitytest.SignWith(t, jwa.RS256, rsa.Private, idp2.Current().ID, idp2.Claims("a")), "does not fit")
}

func TestClaimsChecked(t *testing.T) {
	idp := identitytest.New(t, jwa.EdDSA)
	p, _ := newProvider(t, idp, identity.JWKSOptions{}, identity.Config{ClockSkew: 5 * time.Second, MaxLifetime: time.Hour})
	now := time.Now()
	for _, tc := range []struct {
		name   string
		edit   func(map[string]any)
		reason string
	}{
		{"wrong iss", func(c map[string]any) { c["iss"] = "https://evil.example/" }, "issuer mismatch"},
		{"wrong aud", func(c map[string]any) { c["aud"] = "someone-else" }, "audience mismatch"},
		{"expired", func(c map[string]any) {
			c["iat"], c["exp"] = now.Add(-time.Hour).Unix(), now.Add(-time.Minute).Unix()
		}, "expired"},
		{"not yet valid", func(c map[string]any) { c["nbf"] = now.Add(time.Minute).Unix() }, "not valid yet"},
		{"no exp", func(c map[string]any) { delete(c, "exp") }, "required claim"},
		{"no iat", func(c map[string]any) { delete(c, "iat") }, "required claim"},
		{"too long", func(c map[string]any) { c["exp"] = now.Add(2 * time.Hour).Unix() }, "lifetime too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := idp.Claims("a")
			tc.edit(c)
			refused(t, p, idp.Sign(idp.Current(), c), tc.reason)
		})
	}
	// Within the leeway.
	c := idp.Claims("a")
	c["nbf"] = now.Add(2 * time.Second).Unix()
	if _, err := p.Verify(t.Context(), idp.Sign(idp.Current(), c)); err != nil {
		t.Fatalf("nbf within the leeway: %v", err)
	}
	refused(t, p, "", "malformed")
	refused(t, p, "a.b", "malformed")
	refused(t, p, strings.Repeat("a", 9000)+".b.c", "malformed")
}

// TestJWKSUnavailable: an IdP answering errors or hanging refuses tokens
// with a clear reason within the fetch timeout; keys fetched before keep
// working.
func TestJWKSUnavailable(t *testing.T) {
	idp := identitytest.New(t, jwa.ES256)
	idp.Fail(http.StatusInternalServerError)
	clk := newClock()
	p, _ := newProvider(t, idp, identity.JWKSOptions{MinRefresh: time.Second, FetchTimeout: 300 * time.Millisecond, Now: clk.Now}, identity.Config{})
	refused(t, p, idp.Token("a"), "signing key unknown")
	clk.Advance(time.Second)
	_, err := p.Verify(t.Context(), idp.Token("a"))
	if err == nil || !strings.Contains(err.Error(), "status 500") {
		t.Fatalf("error %v, want the last fetch's status", err)
	}
	idp.Fail(0)
	clk.Advance(time.Second)
	if _, err := p.Verify(t.Context(), idp.Token("a")); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	// Hanging: a new kid waits at most the fetch timeout.
	idp.Hang()
	idp.AddKey(jwa.ES256)
	clk.Advance(time.Second)
	start := time.Now()
	refused(t, p, idp.Token("a"), "signing key unknown")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("refusal took %s with a hanging JWKS, want about the fetch timeout", d)
	}
	// A caller's own deadline bounds the wait too.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	clk.Advance(time.Second)
	k := *idp.Current()
	k.ID = "other"
	if _, err := p.Verify(ctx, idp.Sign(&k, idp.Claims("a"))); err == nil {
		t.Fatal("accepted")
	}
	idp.Unhang()
}

func TestPeekIssuer(t *testing.T) {
	idp := identitytest.New(t, jwa.EdDSA)
	if got := identity.PeekIssuer(idp.Token("a"), 8192); got != idp.Issuer {
		t.Fatalf("PeekIssuer = %q", got)
	}
	for _, bad := range []string{"", "x", "a.b.c", "a." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":5}`)) + ".c"} {
		if got := identity.PeekIssuer(bad, 8192); got != "" {
			t.Errorf("PeekIssuer(%q) = %q", bad, got)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

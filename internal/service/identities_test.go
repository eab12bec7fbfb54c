package service_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/im-websocket-go/im-websocket-go/internal/identitytest"
	"github.com/im-websocket-go/im-websocket-go/internal/service"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/identity"
	"github.com/im-websocket-go/im-websocket-go/pkg/kv/memkv"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/mongo"
)

func identitySetup(t *testing.T) (*service.Service, store.Store) {
	uri, db := testenv.MongoDB(t)
	ctx := context.Background()
	st, err := mongo.Open(ctx, uri, db, mongo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(ctx) })
	kvs := memkv.New()
	t.Cleanup(func() { kvs.Close() })
	return service.New(service.Deps{Store: st, KV: kvs}), st
}

func validAccount(a string) bool {
	if len(a) < 3 || len(a) > 32 {
		return false
	}
	return strings.Trim(a, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == ""
}

func TestExternalUserProfile(t *testing.T) {
	svc, st := identitySetup(t)
	ctx := t.Context()
	iss := "https://idp.example/" + testenv.UniqueName("")
	u, err := svc.ExternalUser(ctx, identity.Claims{Issuer: iss, Subject: "Auth0|Alice.Smith@Example.com",
		Nickname: "Alice\x00\x07 " + strings.Repeat("é", 40), Avatar: "javascript:alert(1)"})
	if err != nil {
		t.Fatal(err)
	}
	if !validAccount(u.Account) || !strings.HasPrefix(u.Account, "auth0alice.smith") {
		t.Fatalf("account %q", u.Account)
	}
	if strings.ContainsAny(u.Nickname, "\x00\x07") || len([]rune(u.Nickname)) > service.MaxNickname || !strings.HasPrefix(u.Nickname, "Alice") {
		t.Fatalf("nickname %q", u.Nickname)
	}
	if u.Avatar != "" || u.Email != service.ExternalEmail(u.ID) || u.PasswordHash == "" {
		t.Fatalf("user %+v", u)
	}
	if ok, err := auth.VerifyPassword(u.PasswordHash, ""); err != nil || ok {
		t.Fatalf("empty password: %v %v", ok, err)
	}
	// Same account base, another subject: another account. Subjects with
	// nothing usable get a generic one.
	u2, err := svc.ExternalUser(ctx, identity.Claims{Issuer: iss, Subject: "AUTH0|alice.smith@example.COM"})
	if err != nil {
		t.Fatal(err)
	}
	if u2.ID == u.ID || u2.Account == u.Account || !validAccount(u2.Account) || !strings.HasPrefix(u2.Account, u2.Nickname) {
		t.Fatalf("second user %+v, first %+v", u2, u)
	}
	u3, err := svc.ExternalUser(ctx, identity.Claims{Issuer: iss, Subject: "|@!"})
	if err != nil || !validAccount(u3.Account) {
		t.Fatalf("user of a bare subject: %+v %v", u3, err)
	}
	// Found again, not re-created; profile claims no longer apply.
	again, err := svc.ExternalUser(ctx, identity.Claims{Issuer: iss, Subject: "Auth0|Alice.Smith@Example.com", Nickname: "Other"})
	if err != nil || again.ID != u.ID || again.Nickname != u.Nickname {
		t.Fatalf("again: %+v %v", again, err)
	}
	// A link whose user is missing (a crash between the two writes) is
	// repaired with the link's user id.
	if err := st.CreateIdentity(ctx, &store.Identity{Issuer: iss, Subject: "orphan", UserID: "01ORPHANUSER0000000000000"}); err != nil {
		t.Fatal(err)
	}
	o, err := svc.ExternalUser(ctx, identity.Claims{Issuer: iss, Subject: "orphan"})
	if err != nil || o.ID != "01ORPHANUSER0000000000000" {
		t.Fatalf("orphan link: %+v %v", o, err)
	}
	// A deleted account is refused.
	if err := st.MarkDeleted(ctx, u.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err = svc.ExternalUser(ctx, identity.Claims{Issuer: iss, Subject: "Auth0|Alice.Smith@Example.com"})
	if protocol.AsError(err).Code != protocol.CodeUnauthenticated {
		t.Fatalf("deleted user: %v", err)
	}
}

func TestAuthenticatorRouting(t *testing.T) {
	svc, _ := identitySetup(t)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.FromRaw(pub)
	if err != nil {
		t.Fatal(err)
	}
	_ = k.Set(jwk.KeyIDKey, "k1")
	set := jwk.NewSet()
	_ = set.AddKey(k)
	iss := "https://idp.example/" + testenv.UniqueName("")
	src, err := identity.NewProvider(identity.StaticKeys{Set: set}, identity.Config{Issuer: iss, Audience: "chat"})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.GenerateSigner()
	if err != nil {
		t.Fatal(err)
	}
	builtin, err := auth.NewVerifier(signer.Keys(), "im", "im", auth.VerifierOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := service.NewAuthenticator(svc, builtin, []identity.Source{src}, service.AuthenticatorOptions{BuiltinIssuer: "im", CacheSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	claims := func(iss, sub string) map[string]any {
		now := time.Now()
		return map[string]any{"iss": iss, "aud": "chat", "sub": sub, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	}
	// External: the claims name the internal user and no session.
	c1, err := a.Verify(t.Context(), identitytest.SignWith(t, jwa.EdDSA, priv, "k1", claims(iss, "a")))
	if err != nil || c1.UserID == "" || c1.SessionID != "" || c1.IssuedAt.IsZero() {
		t.Fatalf("external: %+v %v", c1, err)
	}
	// The cache holds one link: b evicts a; a is found again in the store.
	c2, err := a.Verify(t.Context(), identitytest.SignWith(t, jwa.EdDSA, priv, "k1", claims(iss, "b")))
	if err != nil || c2.UserID == c1.UserID {
		t.Fatalf("b: %+v %v", c2, err)
	}
	if c, err := a.Verify(t.Context(), identitytest.SignWith(t, jwa.EdDSA, priv, "k1", claims(iss, "a"))); err != nil || c.UserID != c1.UserID {
		t.Fatalf("a again: %+v %v", c, err)
	}
	// Built-in tokens still work.
	iss2 := &auth.Issuer{Signer: signer, Issuer: "im", Audience: "im"}
	tok, _, err := iss2.Issue("u1")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := a.Verify(t.Context(), tok); err != nil || c.UserID != "u1" {
		t.Fatalf("builtin: %+v %v", c, err)
	}
	// Another issuer.
	_, err = a.Verify(t.Context(), identitytest.SignWith(t, jwa.EdDSA, priv, "k1", claims("https://other.example/", "a")))
	if !errors.Is(err, auth.ErrInvalidToken) || !strings.Contains(protocol.AsError(err).Message, "issuer is not accepted") {
		t.Fatalf("other issuer: %v", err)
	}
	// No built-in verifier: built-in tokens are refused too.
	ext, err := service.NewAuthenticator(svc, nil, []identity.Source{src}, service.AuthenticatorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ext.Verify(t.Context(), tok); protocol.AsError(err).Code != protocol.CodeUnauthenticated {
		t.Fatalf("builtin token without a builtin verifier: %v", err)
	}
	// Two sources for one issuer are refused.
	if _, err := service.NewAuthenticator(svc, nil, []identity.Source{src, src}, service.AuthenticatorOptions{}); err == nil {
		t.Fatal("two sources for one issuer accepted")
	}
}

package securitytest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// attackToken is one hostile access token and how it was made.
type attackToken struct {
	name, token string
}

// jwtKit crafts tokens by hand against a running API: its issuer and
// audience, its signing key (through an auth.Issuer sharing the API's
// Signer, for tokens the real key signs with one claim wrong) and its
// public key (for the key-confusion attacks).
type jwtKit struct {
	t        *testing.T
	signer   *auth.Signer
	iss, aud string
}

func newJWTKit(t *testing.T, e *apitest.Env) *jwtKit {
	return &jwtKit{t: t, signer: e.Core.Signer, iss: e.Core.Issuer.Issuer, aud: e.Core.Issuer.Audience}
}

// claims are valid claims for sub at the current time.
func (k *jwtKit) claims(sub string) map[string]any {
	now := time.Now().Unix()
	return map[string]any{"sub": sub, "iss": k.iss, "aud": []string{k.aud},
		"iat": now, "nbf": now, "exp": now + 600, "jti": randomHex(16)}
}

// issue signs with the API's real key through an Issuer configured like
// the API's except for the given changes.
func (k *jwtKit) issue(sub string, change func(*auth.Issuer)) string {
	k.t.Helper()
	i := &auth.Issuer{Signer: k.signer, Issuer: k.iss, Audience: k.aud, TTL: 10 * time.Minute}
	if change != nil {
		change(i)
	}
	tok, _, err := i.Issue(sub)
	if err != nil {
		k.t.Fatal(err)
	}
	return tok
}

// hmacToken is header.claims signed with HMAC-SHA256 under key.
func (k *jwtKit) hmacToken(header, claims map[string]any, key []byte) string {
	in := b64JSON(k.t, header) + "." + b64JSON(k.t, claims)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + b64(m.Sum(nil))
}

// edToken is header.claims signed with an Ed25519 key of the attacker.
func (k *jwtKit) edToken(header, claims map[string]any, priv ed25519.PrivateKey) string {
	in := b64JSON(k.t, header) + "." + b64JSON(k.t, claims)
	return in + "." + b64(ed25519.Sign(priv, []byte(in)))
}

// tamper replaces the claims of a genuine token, keeping its header and
// signature.
func (k *jwtKit) tamper(token string, change func(map[string]any)) string {
	k.t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		k.t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		k.t.Fatal(err)
	}
	change(c)
	return parts[0] + "." + b64JSON(k.t, c) + "." + parts[2]
}

// attacks returns every hostile token aimed at victim (a real user id).
// attackerToken is a genuine token of another user.
func (k *jwtKit) attacks(victim, attackerToken string) []attackToken {
	t := k.t
	kid := k.signer.KeyID()
	pub := k.signer.PublicKey()
	var pemKey bytes.Buffer
	if err := auth.WritePublicKeyPEM(&pemKey, pub); err != nil {
		t.Fatal(err)
	}
	_, evil, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	evilKid, _ := auth.KeyID(evil.Public().(ed25519.PublicKey))
	c := k.claims(victim)
	none := func(alg, sig string) string {
		return b64JSON(t, map[string]any{"alg": alg, "typ": "JWT", "kid": kid}) + "." + b64JSON(t, c) + "." + sig
	}
	hs := map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}
	return []attackToken{
		{"alg none, empty signature", none("none", "")},
		{"alg None, junk signature", none("None", "c2ln")},
		{"alg NONE, junk signature", none("NONE", b64([]byte("signature")))},
		{"HS256 keyed with the raw public key", k.hmacToken(hs, c, pub)},
		{"HS256 keyed with the public key PEM", k.hmacToken(hs, c, pemKey.Bytes())},
		{"HS256 keyed with the JWK x value", k.hmacToken(hs, c, []byte(b64(pub)))},
		{"HS256 without kid keyed with the public key", k.hmacToken(map[string]any{"alg": "HS256", "typ": "JWT"}, c, pub)},
		{"expired (real key)", k.issue(victim, func(i *auth.Issuer) {
			i.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
		})},
		{"not yet valid (real key)", k.issue(victim, func(i *auth.Issuer) {
			i.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
		})},
		{"wrong issuer (real key)", k.issue(victim, func(i *auth.Issuer) { i.Issuer = "https://evil.example" })},
		{"wrong audience (real key)", k.issue(victim, func(i *auth.Issuer) { i.Audience = "some-other-service" })},
		{"unknown kid, attacker key", k.edToken(map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": evilKid}, c, evil)},
		{"made-up kid, attacker key", k.edToken(map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": "key-" + randomHex(4)}, c, evil)},
		{"real kid, attacker key", k.edToken(map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": kid}, c, evil)},
		{"no kid, attacker key", k.edToken(map[string]any{"alg": "EdDSA", "typ": "JWT"}, c, evil)},
		{"embedded jwk, attacker key", k.edToken(map[string]any{"alg": "EdDSA", "typ": "JWT",
			"jwk": map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64(evil.Public().(ed25519.PublicKey))}}, c, evil)},
		{"tampered payload: sub swapped to the victim", k.tamper(attackerToken, func(m map[string]any) { m["sub"] = victim })},
		{"tampered payload: exp extended", k.tamper(attackerToken, func(m map[string]any) { m["exp"] = time.Now().Add(24 * 365 * time.Hour).Unix() })},
		{"signature stripped", strings.Join(strings.Split(k.issue(victim, nil), ".")[:2], ".") + "."},
		{"two segments", strings.Join(strings.Split(k.issue(victim, nil), ".")[:2], ".")},
		{"real token with trailing garbage", k.issue(victim, nil) + "x"},
	}
}

// TestJWTAttacks sends hand-made hostile tokens to the REST API (401) and
// to the WebSocket upgrade, by header and by query parameter (401), and
// in a refresh frame (error unauthenticated, connection kept). Controls
// first show that a token made the same way with nothing wrong works, so
// each refusal is due to the one thing the attack changed.
func TestJWTAttacks(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{})
	victim, attacker := cl.Register("jv"), cl.Register("ja")
	room := cl.Befriend(victim, attacker)
	k := newJWTKit(t, cl.Env)
	node := cl.Nodes[0].URL

	// Controls.
	good := k.issue(victim.ID, nil)
	if r := cl.Do("GET", "/v1/me", good, nil); r.Status != 200 {
		t.Fatalf("control token refused by REST: %d %s", r.Status, r.Body)
	}
	c := apitest.DialWS(t, node, good)
	if c.Hello.UserID != victim.ID {
		t.Fatalf("control hello: %+v", c.Hello)
	}

	for _, a := range k.attacks(victim.ID, attacker.Token) {
		t.Run(a.name, func(t *testing.T) {
			r := cl.Do("GET", "/v1/me", a.token, nil)
			expectError(t, "GET /v1/me", r, 401, protocol.CodeUnauthenticated)
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a WWW-Authenticate: Bearer header: %v", r.Header)
			}
			// A write as the victim is refused the same way.
			r = cl.Do("POST", "/v1/rooms/"+room+"/messages", a.token, map[string]string{"body": "forged", "client_msg_id": "forged-" + randomHex(4)})
			expectError(t, "POST message", r, 401, protocol.CodeUnauthenticated)

			expectError(t, "upgrade with Authorization", upgrade(t, node, a.token, nil), 401, protocol.CodeUnauthenticated)
			expectError(t, "upgrade with access_token", upgrade(t, node+"?access_token="+a.token, "", nil), 401, protocol.CodeUnauthenticated)
			if ws, err := apitest.TryDialWS(node, a.token, nil); err == nil {
				ws.Conn.Close()
				t.Errorf("WebSocket client upgraded with the token")
			} else if !strings.Contains(err.Error(), "401") {
				t.Errorf("WebSocket dial: %v, want a 401", err)
			}

			// In band: a refresh frame carrying it is refused and the
			// connection keeps working.
			if err := c.Send(map[string]string{"type": "refresh", "access_token": a.token}); err != nil {
				t.Fatal(err)
			}
			o, err := c.WaitFor(wait, func(o protocol.Outbound) bool { return o.Type == protocol.TypeError })
			if err != nil || o.Code != protocol.CodeUnauthenticated {
				t.Errorf("refresh frame: %+v %v", o, err)
			}
			_ = c.Send(`{"type":"ping"}`)
			if _, err := c.WaitFor(wait, func(o protocol.Outbound) bool { return o.Type == protocol.TypePong }); err != nil {
				t.Fatalf("connection lost after a refused refresh: %v", err)
			}
		})
	}

	// No forged message reached the room.
	var h struct{ Messages []protocol.Message }
	cl.Do("GET", "/v1/rooms/"+room+"/messages", victim.Token, nil).JSON(t, &h)
	if len(h.Messages) != 0 {
		t.Fatalf("forged messages stored: %+v", h.Messages)
	}
	// The refresh frame accepts a good token of the same user only.
	if err := c.Send(map[string]string{"type": "refresh", "access_token": k.issue(victim.ID, nil)}); err != nil {
		t.Fatal(err)
	}
	_ = c.Send(`{"type":"ping"}`)
	if o, err := c.WaitFor(wait, func(o protocol.Outbound) bool { return o.Type == protocol.TypePong || o.Type == protocol.TypeError }); err != nil || o.Type != protocol.TypePong {
		t.Fatalf("good refresh: %+v %v", o, err)
	}
	_ = c.Send(map[string]string{"type": "refresh", "access_token": attacker.Token})
	if o, err := c.WaitFor(wait, func(o protocol.Outbound) bool { return o.Type == protocol.TypeError }); err != nil || o.Code != protocol.CodeUnauthenticated {
		t.Fatalf("refresh with another user's token: %+v %v", o, err)
	}
	// A refresh token is not an access token.
	if r := cl.Do("GET", "/v1/me", victim.Refresh, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("refresh token used as access token: %d", r.Status)
	}
	expectError(t, "upgrade with a refresh token", upgrade(t, node, victim.Refresh, nil), 401, protocol.CodeUnauthenticated)
}

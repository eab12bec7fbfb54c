package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

const (
	testIss = "https://im.example"
	testAud = "im"
)

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type tokenFixture struct {
	clock    *fakeClock
	signer   *Signer
	issuer   *Issuer
	verifier *Verifier
}

func newTokenFixture(t testing.TB) *tokenFixture {
	t.Helper()
	s, err := GenerateSigner()
	if err != nil {
		t.Fatal(err)
	}
	c := newFakeClock()
	v, err := NewVerifier(s.Keys(), testIss, testAud, VerifierOptions{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &tokenFixture{
		clock:    c,
		signer:   s,
		issuer:   &Issuer{Signer: s, Issuer: testIss, Audience: testAud, TTL: 10 * time.Minute, Now: c.Now},
		verifier: v,
	}
}

// goodClaims are valid claims at the fixture's clock.
func (f *tokenFixture) goodClaims() map[string]any {
	now := f.clock.Now().Unix()
	return map[string]any{
		"sub": "user-1", "iss": testIss, "aud": testAud,
		"iat": now, "nbf": now, "exp": now + 600, "jti": "j1",
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64JSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64(b)
}

// handSign builds a compact JWS signed with Ed25519 without going through
// the code under test.
func handSign(t testing.TB, priv ed25519.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	in := b64JSON(t, header) + "." + b64JSON(t, claims)
	return in + "." + b64(ed25519.Sign(priv, []byte(in)))
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	f := newTokenFixture(t)
	tok, exp, err := f.issuer.Issue("user-42")
	if err != nil {
		t.Fatal(err)
	}
	if want := f.clock.Now().Add(10 * time.Minute); !exp.Equal(want) {
		t.Fatalf("expiresAt %v, want %v", exp, want)
	}

	// The header and claims are what the contract promises.
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not compact", tok)
	}
	var hdr map[string]any
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if err := json.Unmarshal(hb, &hdr); err != nil {
		t.Fatal(err)
	}
	if hdr["alg"] != "EdDSA" || hdr["kid"] != f.signer.KeyID() || hdr["typ"] != "JWT" {
		t.Fatalf("header %v", hdr)
	}
	var cl map[string]any
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(cb, &cl); err != nil {
		t.Fatal(err)
	}
	now := float64(f.clock.Now().Unix())
	if cl["sub"] != "user-42" || cl["iss"] != testIss || cl["iat"] != now || cl["nbf"] != now || cl["exp"] != now+600 {
		t.Fatalf("claims %v", cl)
	}
	if aud, _ := cl["aud"].([]any); len(aud) != 1 || aud[0] != testAud {
		if cl["aud"] != testAud {
			t.Fatalf("aud %v", cl["aud"])
		}
	}
	if jti, _ := cl["jti"].(string); len(jti) < 16 {
		t.Fatalf("jti %q too short", jti)
	}
	// An independent Ed25519 check of the signature.
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if !ed25519.Verify(f.signer.PublicKey(), []byte(parts[0]+"."+parts[1]), sig) {
		t.Fatal("signature does not verify with crypto/ed25519")
	}

	c, err := f.verifier.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.UserID != "user-42" || !c.ExpiresAt.Equal(exp) || c.ID != cl["jti"] {
		t.Fatalf("claims %+v", c)
	}

	tok2, _, _ := f.issuer.Issue("user-42")
	c2, err := f.verifier.Verify(context.Background(), tok2)
	if err != nil {
		t.Fatal(err)
	}
	if c2.ID == c.ID {
		t.Fatal("two tokens share a jti")
	}

	// A token made by another EdDSA implementation is accepted too.
	hand := handSign(t, f.signer.key, map[string]any{"alg": "EdDSA", "kid": f.signer.KeyID()}, f.goodClaims())
	if _, err := f.verifier.Verify(context.Background(), hand); err != nil {
		t.Fatalf("hand-signed token refused: %v", err)
	}
}

func TestIssueRequiresConfig(t *testing.T) {
	s, _ := GenerateSigner()
	for name, i := range map[string]*Issuer{
		"nil":         nil,
		"no signer":   {Issuer: testIss, Audience: testAud},
		"zero signer": {Signer: &Signer{}, Issuer: testIss, Audience: testAud},
		"no issuer":   {Signer: s, Audience: testAud},
		"no audience": {Signer: s, Issuer: testIss},
	} {
		if _, _, err := i.Issue("u"); err == nil {
			t.Fatalf("%s: Issue succeeded", name)
		}
	}
	if _, _, err := (&Issuer{Signer: s, Issuer: testIss, Audience: testAud}).Issue(""); err == nil {
		t.Fatal("Issue with an empty user id succeeded")
	}
	if _, err := (&Verifier{}).Verify(context.Background(), "a.b.c"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("zero Verifier: %v, want ErrInvalidToken", err)
	}
	if _, err := NewVerifier(nil, testIss, testAud, VerifierOptions{}); err == nil {
		t.Fatal("NewVerifier(nil keys) succeeded")
	}
	if _, err := NewVerifier(s.Keys(), "", testAud, VerifierOptions{}); err == nil {
		t.Fatal("NewVerifier without issuer succeeded")
	}
}

func TestVerifyClockSkew(t *testing.T) {
	f := newTokenFixture(t)
	tok, _, err := f.issuer.Issue("u")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// 20s before nbf: within the default 30s skew.
	f.clock.Advance(-20 * time.Second)
	if _, err := f.verifier.Verify(ctx, tok); err != nil {
		t.Fatalf("20s early: %v", err)
	}
	f.clock.Advance(-40 * time.Second) // 60s early
	if _, err := f.verifier.Verify(ctx, tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("60s early: %v, want ErrInvalidToken", err)
	}
	// 20s after exp: accepted; 60s after: refused.
	f.clock.Advance(60*time.Second + 10*time.Minute + 20*time.Second)
	if _, err := f.verifier.Verify(ctx, tok); err != nil {
		t.Fatalf("20s late: %v", err)
	}
	f.clock.Advance(40 * time.Second)
	if _, err := f.verifier.Verify(ctx, tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("60s late: %v, want ErrInvalidToken", err)
	}

	// No skew at all: 1s after exp is refused.
	strict, err := NewVerifier(f.signer.Keys(), testIss, testAud, VerifierOptions{ClockSkew: -1, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(-60*time.Second + time.Second)
	if _, err := strict.Verify(ctx, tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("strict verifier, 1s late: %v, want ErrInvalidToken", err)
	}
}

func TestVerifyPreviousKeyDuringRotation(t *testing.T) {
	f := newTokenFixture(t)
	old, _, err := f.issuer.Issue("u")
	if err != nil {
		t.Fatal(err)
	}
	_, next, _ := ed25519.GenerateKey(rand.Reader)
	rotated, err := NewSigner(next, f.signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(rotated.Keys(), testIss, testAud, VerifierOptions{Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), old); err != nil {
		t.Fatalf("token of the previous key refused: %v", err)
	}
	fresh, _, err := (&Issuer{Signer: rotated, Issuer: testIss, Audience: testAud, Now: f.clock.Now}).Issue("u")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), fresh); err != nil {
		t.Fatalf("token of the new key refused: %v", err)
	}
	if _, err := f.verifier.Verify(context.Background(), fresh); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("old verifier accepted a token of an unknown key: %v", err)
	}
}

// attackTokens returns tokens that must all be refused by f.verifier.
func attackTokens(t testing.TB, f *tokenFixture) map[string]string {
	t.Helper()
	kid := f.signer.KeyID()
	pub := f.signer.PublicKey()
	priv := f.signer.key
	edHdr := map[string]any{"alg": "EdDSA", "kid": kid, "typ": "JWT"}
	claims := f.goodClaims()
	with := func(k string, v any) map[string]any {
		c := make(map[string]any, len(claims))
		for ck, cv := range claims {
			c[ck] = cv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	hdrWith := func(k string, v any) map[string]any {
		h := map[string]any{"alg": "EdDSA", "kid": kid, "typ": "JWT"}
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
		return h
	}
	now := f.clock.Now().Unix()
	good, _, err := f.issuer.Issue("user-1")
	if err != nil {
		t.Fatal(err)
	}
	gp := strings.Split(good, ".")

	hmacToken := func(secret []byte) string {
		in := b64JSON(t, hdrWith("alg", "HS256")) + "." + b64JSON(t, claims)
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(in))
		return in + "." + b64(m.Sum(nil))
	}
	var pemBuf bytes.Buffer
	if err := WritePublicKeyPEM(&pemBuf, pub); err != nil {
		t.Fatal(err)
	}
	jwksJSON, _ := f.signer.JWKSJSON()

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsIn := b64JSON(t, hdrWith("alg", "RS256")) + "." + b64JSON(t, claims)
	digest := sha256.Sum256([]byte(rsIn))
	rsSig, err := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	// The same RS256 token made by the library, for good measure.
	rsHdr := jws.NewHeaders()
	_ = rsHdr.Set(jws.KeyIDKey, kid)
	rsLib, err := jws.Sign([]byte(`{"sub":"user-1"}`), jws.WithKey(jwa.RS256, rsaKey, jws.WithProtectedHeaders(rsHdr)))
	if err != nil {
		t.Fatal(err)
	}

	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)

	tampered := with("sub", "admin")
	jsonSer, err := jws.Sign([]byte(gp[1]), jws.WithJSON(), jws.WithKey(jwa.EdDSA, priv, jws.WithProtectedHeaders(func() jws.Headers {
		h := jws.NewHeaders()
		_ = h.Set(jws.KeyIDKey, kid)
		return h
	}())))
	if err != nil {
		t.Fatal(err)
	}

	return map[string]string{
		"alg none, empty signature": b64JSON(t, hdrWith("alg", "none")) + "." + b64JSON(t, claims) + ".",
		"alg none, junk signature":  b64JSON(t, hdrWith("alg", "none")) + "." + b64JSON(t, claims) + ".AAAA",
		"alg None":                  b64JSON(t, hdrWith("alg", "None")) + "." + b64JSON(t, claims) + ".AAAA",
		"HS256 with raw public key": hmacToken(pub),
		"HS256 with PEM public key": hmacToken(pemBuf.Bytes()),
		"HS256 with JWKS":           hmacToken(jwksJSON),
		"RS256 fresh key, same kid": rsIn + "." + b64(rsSig),
		"RS256 by jwx, same kid":    string(rsLib),
		"ES256 header, Ed25519 sig": handSign(t, priv, hdrWith("alg", "ES256"), claims),
		"EdDSA by another key":      handSign(t, otherPriv, edHdr, claims),
		"expired":                   handSign(t, priv, edHdr, with("exp", now-120)),
		"not yet valid":             handSign(t, priv, edHdr, with("nbf", now+120)),
		"issued in the future":      handSign(t, priv, edHdr, with("iat", now+120)),
		"wrong iss":                 handSign(t, priv, edHdr, with("iss", "https://evil.example")),
		"wrong aud":                 handSign(t, priv, edHdr, with("aud", "other")),
		"no iss":                    handSign(t, priv, edHdr, with("iss", nil)),
		"no aud":                    handSign(t, priv, edHdr, with("aud", nil)),
		"no exp":                    handSign(t, priv, edHdr, with("exp", nil)),
		"no sub":                    handSign(t, priv, edHdr, with("sub", nil)),
		"empty sub":                 handSign(t, priv, edHdr, with("sub", "")),
		"string exp":                handSign(t, priv, edHdr, with("exp", "never")),
		"missing kid":               handSign(t, priv, hdrWith("kid", nil), claims),
		"empty kid":                 handSign(t, priv, hdrWith("kid", ""), claims),
		"unknown kid":               handSign(t, priv, hdrWith("kid", "no-such-key"), claims),
		"crit header":               handSign(t, priv, hdrWith("crit", []string{"exp"}), claims),
		"b64 false":                 handSign(t, priv, hdrWith("b64", false), claims),
		"typ JWE":                   handSign(t, priv, hdrWith("typ", "JWE"), claims),
		"claims not JSON":           b64JSON(t, edHdr) + "." + b64([]byte("nope")) + "." + b64(ed25519.Sign(priv, []byte(b64JSON(t, edHdr)+"."+b64([]byte("nope"))))),
		"tampered payload":          gp[0] + "." + b64JSON(t, tampered) + "." + gp[2],
		"signature of other token":  gp[0] + "." + gp[1] + "." + strings.Split(handSign(t, priv, edHdr, claims), ".")[2],
		"truncated signature":       gp[0] + "." + gp[1] + "." + gp[2][:len(gp[2])-4],
		"padded segment":            gp[0] + "." + gp[1] + "=." + gp[2],
		"newline in segment":        gp[0] + "." + gp[1][:5] + "\n" + gp[1][5:] + "." + gp[2],
		"std base64 alphabet":       strings.NewReplacer("-", "+", "_", "/").Replace(good) + "+",
		"JSON serialization":        string(jsonSer),
		"four segments":             good + ".AAAA",
		"two segments":              gp[0] + "." + gp[1],
		"empty":                     "",
		"dots":                      "..",
		"garbage":                   "not a token",
		"garbage three parts":       "a.b.c",
		"bearer prefix":             "Bearer " + good,
		"whitespace":                " " + good,
		"header not JSON":           b64([]byte("{")) + "." + gp[1] + "." + gp[2],
		"huge":                      gp[0] + "." + strings.Repeat("A", 20000) + "." + gp[2],
		"header array":              b64([]byte(`[]`)) + "." + gp[1] + "." + gp[2],
		"alg array":                 handSign(t, priv, hdrWith("alg", []string{"EdDSA"}), claims),
		"duplicate alg, none last":  b64([]byte(`{"alg":"EdDSA","kid":"`+kid+`","alg":"none"}`)) + "." + gp[1] + ".AAAA",
		"huge exp":                  handSign(t, priv, edHdr, with("exp", 1e300)),
		"negative exp":              handSign(t, priv, edHdr, with("exp", -1)),
		"jwk header, attacker key":  handSign(t, otherPriv, hdrWith("jwk", map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(otherPriv.Public().(ed25519.PublicKey))}), claims),
		"jku header, attacker jwks": handSign(t, otherPriv, hdrWith("jku", "http://127.0.0.1:1/jwks.json"), claims),
	}
}

func TestVerifyRefusesAttacks(t *testing.T) {
	f := newTokenFixture(t)
	for name, tok := range attackTokens(t, f) {
		t.Run(name, func(t *testing.T) {
			c, err := f.verifier.Verify(context.Background(), tok)
			if err == nil {
				t.Fatalf("accepted, claims %+v", c)
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v does not wrap ErrInvalidToken", err)
			}
			t.Log(err)
			if c != (Claims{}) {
				t.Fatalf("claims %+v returned with an error", c)
			}
			if tok != "" && len(tok) > 20 && strings.Contains(err.Error(), tok) {
				t.Fatal("the error message contains the token")
			}
		})
	}
}

func TestVerifyUnknownKidWrapsKeySourceError(t *testing.T) {
	f := newTokenFixture(t)
	tok := handSign(t, f.signer.key, map[string]any{"alg": "EdDSA", "kid": "nope"}, f.goodClaims())
	_, err := f.verifier.Verify(context.Background(), tok)
	if !errors.Is(err, ErrInvalidToken) || !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("err %v, want ErrInvalidToken and ErrUnknownKey", err)
	}
}

func FuzzVerify(f *testing.F) {
	fx := newTokenFixture(f)
	good, _, err := fx.issuer.Issue("user-1")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	for _, tok := range attackTokens(f, fx) {
		f.Add(tok)
	}
	f.Add("eyJhbGciOiJFZERTQSJ9.e30.AA")
	f.Add("....")
	claims, _ := json.Marshal(fx.goodClaims())
	f.Add(string(claims))
	hdr, _ := json.Marshal(map[string]any{"alg": "EdDSA", "kid": fx.signer.KeyID()})
	f.Add(string(hdr))
	f.Add(`{"sub":"x","exp":1e999,"aud":[[]],"nbf":"a"}`)
	f.Add(`{"alg":"EdDSA","kid":"` + fx.signer.KeyID() + `","jwk":{"kty":"RSA","n":"AQAB","e":""},"x5c":["MIIB"]}`)

	sign := func(h, p []byte) string {
		in := b64(h) + "." + b64(p)
		return in + "." + b64(ed25519.Sign(fx.signer.key, []byte(in)))
	}
	now := fx.clock.Now()
	f.Fuzz(func(t *testing.T, in string) {
		ctx := context.Background()
		// 1. The input as a whole token: only the seeded good token can pass.
		c, err := fx.verifier.Verify(ctx, in)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v does not wrap ErrInvalidToken", err)
			}
		} else if c.UserID != "user-1" {
			t.Fatalf("accepted a token for %q", c.UserID)
		}
		// 2. and 3. The input as the claims, then as the header, of a token
		// correctly signed by the real key: this drives the claim and
		// header parsers with arbitrary bytes.
		for _, tok := range []string{sign(hdr, []byte(in)), sign([]byte(in), claims)} {
			c, err := fx.verifier.Verify(ctx, tok)
			if err != nil {
				if !errors.Is(err, ErrInvalidToken) {
					t.Fatalf("error %v does not wrap ErrInvalidToken", err)
				}
				continue
			}
			if c.UserID == "" || c.ExpiresAt.Before(now.Add(-DefaultClockSkew)) {
				t.Fatalf("accepted claims %+v", c)
			}
		}
	})
}

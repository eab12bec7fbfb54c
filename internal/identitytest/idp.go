// Package identitytest runs a real identity provider for tests: an HTTP
// server on 127.0.0.1 serving a JWKS, with key rotation, keys of every
// supported type, and faults (an error status, a hang), and signs tokens
// with its keys (or with anything a test wants refused).
package identitytest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Key is one signing key of the IdP.
type Key struct {
	ID      string
	Alg     jwa.SignatureAlgorithm
	Private crypto.Signer
	// PublishAlg is the alg the JWKS names for the key ("" none; the
	// default is Alg).
	PublishAlg string
}

// IdP is a running identity provider. Its methods are safe for
// concurrent use.
type IdP struct {
	t        testing.TB
	Server   *httptest.Server
	Issuer   string
	Audience string

	mu       sync.Mutex
	keys     []*Key // published, in order
	status   int    // answer with this status instead of the JWKS (0: none)
	hang     chan struct{}
	requests atomic.Int64
	n        int
}

// New starts an IdP with one key of alg (RS256, ES256 or EdDSA) and
// stops it at the end of the test.
func New(t testing.TB, alg jwa.SignatureAlgorithm) *IdP {
	t.Helper()
	p := &IdP{t: t, Audience: "im-websocket-go"}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	p.Issuer = p.Server.URL + "/"
	t.Cleanup(func() {
		p.Unhang()
		p.Server.Close()
	})
	p.AddKey(alg)
	return p
}

// JWKSURL is where the JWKS is served.
func (p *IdP) JWKSURL() string { return p.Server.URL + "/.well-known/jwks.json" }

// Requests counts the JWKS requests served (or failed on purpose).
func (p *IdP) Requests() int64 { return p.requests.Load() }

func (p *IdP) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/.well-known/jwks.json" {
		http.NotFound(w, r)
		return
	}
	p.requests.Add(1)
	p.mu.Lock()
	status, hang := p.status, p.hang
	set := jwk.NewSet()
	for _, k := range p.keys {
		pub, err := jwk.FromRaw(k.Private.Public())
		if err != nil {
			p.mu.Unlock()
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = pub.Set(jwk.KeyIDKey, k.ID)
		_ = pub.Set(jwk.KeyUsageKey, "sig")
		if k.PublishAlg != "" {
			_ = pub.Set(jwk.AlgorithmKey, k.PublishAlg)
		}
		_ = set.AddKey(pub)
	}
	p.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
		return
	}
	if status != 0 {
		http.Error(w, "down", status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}

// AddKey makes a new key of alg, publishes it and returns it: new tokens
// are signed with it (a rotation; older keys stay published until
// RemoveKey).
func (p *IdP) AddKey(alg jwa.SignatureAlgorithm) *Key {
	p.t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case jwa.RS256, jwa.RS384, jwa.RS512, jwa.PS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jwa.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jwa.ES384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case jwa.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		p.t.Fatalf("identitytest: no key for %s", alg)
	}
	if err != nil {
		p.t.Fatalf("identitytest: generate key: %v", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	k := &Key{ID: fmt.Sprintf("key-%d", p.n), Alg: alg, Private: priv, PublishAlg: alg.String()}
	p.keys = append(p.keys, k)
	return k
}

// RemoveKey stops publishing k.
func (p *IdP) RemoveKey(k *Key) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.keys {
		if x == k {
			p.keys = append(p.keys[:i], p.keys[i+1:]...)
			return
		}
	}
}

// Current is the newest key.
func (p *IdP) Current() *Key {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[len(p.keys)-1]
}

// Fail makes the JWKS answer status (0: serve again).
func (p *IdP) Fail(status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status = status
}

// Hang makes the JWKS requests hang until Unhang (or the client gives up).
func (p *IdP) Hang() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hang == nil {
		p.hang = make(chan struct{})
	}
}

// Unhang releases hanging requests.
func (p *IdP) Unhang() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hang != nil {
		close(p.hang)
		p.hang = nil
	}
}

// Claims returns the claims of a valid token for subject: iss, aud, sub,
// iat now, exp in 10 minutes, a name and a picture.
func (p *IdP) Claims(subject string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": p.Issuer, "aud": p.Audience, "sub": subject,
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
		"name": "Ext " + subject, "picture": "https://img.example/" + subject + ".png",
	}
}

// Token signs a valid token for subject with the current key.
func (p *IdP) Token(subject string) string {
	p.t.Helper()
	return p.Sign(p.Current(), p.Claims(subject))
}

// Sign signs claims with k (its alg, its kid).
func (p *IdP) Sign(k *Key, claims map[string]any) string {
	p.t.Helper()
	return SignWith(p.t, k.Alg, k.Private, k.ID, claims)
}

// SignWith signs claims with any algorithm and key (HS256 with a byte
// slice, for instance) and kid.
func SignWith(t testing.TB, alg jwa.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	tok := jwt.New()
	for k, v := range claims {
		if err := tok.Set(k, v); err != nil {
			t.Fatalf("identitytest: claim %s: %v", k, err)
		}
	}
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.KeyIDKey, kid)
	_ = hdr.Set(jws.TypeKey, "JWT")
	signed, err := jwt.Sign(tok, jwt.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatalf("identitytest: sign: %v", err)
	}
	return string(signed)
}

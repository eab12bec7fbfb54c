package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// jwksServer serves a JWKS on 127.0.0.1 and counts requests.
type jwksServer struct {
	*httptest.Server
	hits atomic.Int64

	mu     sync.Mutex
	body   []byte
	status int
}

func newJWKSServer(t *testing.T, s *Signer) *jwksServer {
	t.Helper()
	js := &jwksServer{status: http.StatusOK}
	js.set(t, s)
	js.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		js.hits.Add(1)
		js.mu.Lock()
		body, status := js.body, js.status
		js.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(js.Close)
	if !strings.HasPrefix(js.URL, "http://127.0.0.1:") {
		t.Fatalf("test server not on loopback: %s", js.URL)
	}
	return js
}

func (js *jwksServer) set(t *testing.T, s *Signer) {
	t.Helper()
	b, err := s.JWKSJSON()
	if err != nil {
		t.Fatal(err)
	}
	js.setRaw(http.StatusOK, b)
}

func (js *jwksServer) setRaw(status int, body []byte) {
	js.mu.Lock()
	js.status, js.body = status, body
	js.mu.Unlock()
}

func newFetcher(t *testing.T, url string, c *fakeClock, opts JWKSOptions) *JWKSFetcher {
	t.Helper()
	opts.Now = c.Now
	f, err := NewJWKSFetcher(url, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestJWKSFetcherRotation(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	a, _ := GenerateSigner()
	b, _ := GenerateSigner()
	srv := newJWKSServer(t, a)
	fetcher := newFetcher(t, srv.URL, clock, JWKSOptions{})
	v, err := NewVerifier(fetcher, testIss, testAud, VerifierOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	issue := func(s *Signer) string {
		tok, _, err := (&Issuer{Signer: s, Issuer: testIss, Audience: testAud, Now: clock.Now}).Issue("u")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tokA, tokB := issue(a), issue(b)

	for range 5 {
		if _, err := v.Verify(ctx, tokA); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches for 5 verifications of one kid, want 1", n)
	}

	// The server rotates to b. Within MinRefreshInterval of the last fetch
	// the new kid is not looked for again.
	srv.set(t, b)
	clock.Advance(10 * time.Second)
	if _, err := v.Verify(ctx, tokB); !errors.Is(err, ErrInvalidToken) || !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("new kid within the interval: %v, want ErrInvalidToken/ErrUnknownKey", err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches, want still 1", n)
	}
	// After the interval, the unknown kid triggers one fetch and is found.
	clock.Advance(25 * time.Second)
	if _, err := v.Verify(ctx, tokB); err != nil {
		t.Fatalf("rotated key not picked up: %v", err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	// a is gone from the server, so its tokens stop verifying.
	if _, err := v.Verify(ctx, tokA); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("removed key still accepted: %v", err)
	}
}

func TestJWKSFetcherUnknownKidFlood(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	s, _ := GenerateSigner()
	srv := newJWKSServer(t, s)
	fetcher := newFetcher(t, srv.URL, clock, JWKSOptions{MinRefreshInterval: 30 * time.Second})

	lookups := func(n int) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := fetcher.Key(ctx, fmt.Sprintf("bogus-%d", i))
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("bogus kid: %v, want ErrUnknownKey", err)
			}
		}
	}

	lookups(50)
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("first flood: %d fetches, want 1", n)
	}
	clock.Advance(29 * time.Second)
	lookups(50)
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("flood within the interval: %d fetches, want 1", n)
	}
	clock.Advance(2 * time.Second)
	lookups(50)
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("flood after the interval: %d fetches, want 2", n)
	}
	// The real key is still served from the cache.
	if _, err := fetcher.Key(ctx, s.KeyID()); err != nil {
		t.Fatal(err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
}

func TestJWKSFetcherMaxAgeAndOutage(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	s, _ := GenerateSigner()
	srv := newJWKSServer(t, s)
	fetcher := newFetcher(t, srv.URL, clock, JWKSOptions{MaxAge: time.Minute})

	if _, err := fetcher.Key(ctx, s.KeyID()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(59 * time.Second)
	if _, err := fetcher.Key(ctx, s.KeyID()); err != nil {
		t.Fatal(err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches before MaxAge, want 1", n)
	}
	clock.Advance(2 * time.Second)
	if _, err := fetcher.Key(ctx, s.KeyID()); err != nil {
		t.Fatal(err)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Fatalf("%d fetches after MaxAge, want 2", n)
	}

	// The API goes down: the known key keeps working from the stale cache,
	// and the failure is retried at most once per interval.
	srv.setRaw(http.StatusInternalServerError, []byte("oops"))
	clock.Advance(2 * time.Minute)
	for range 3 {
		if _, err := fetcher.Key(ctx, s.KeyID()); err != nil {
			t.Fatalf("known key during an outage: %v", err)
		}
	}
	if n := srv.hits.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
	_, err := fetcher.Key(ctx, "other")
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "status 500") {
		t.Fatalf("unknown kid during an outage: %v", err)
	}
	if err := fetcher.Refresh(ctx); err == nil {
		t.Fatal("Refresh succeeded during an outage")
	}
}

func TestJWKSFetcherBadResponses(t *testing.T) {
	ctx := context.Background()
	s, _ := GenerateSigner()
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecJWK, _ := jwk.FromRaw(&ecKey.PublicKey)
	_ = ecJWK.Set(jwk.KeyIDKey, "ec")
	ecSet := jwk.NewSet()
	_ = ecSet.AddKey(ecJWK)
	ecOnly, _ := json.Marshal(ecSet)

	pubJWK, _ := publicJWK(s.KeyID(), s.PublicKey())
	_ = pubJWK.Set(jwk.KeyUsageKey, "enc")
	encSet := jwk.NewSet()
	_ = encSet.AddKey(pubJWK)
	encOnly, _ := json.Marshal(encSet)

	good, _ := s.JWKSJSON()
	big := []byte(`{"keys":[],"pad":"` + strings.Repeat("x", 2<<10) + `"}`)

	cases := map[string][]byte{
		"not json":       []byte("<html>"),
		"empty set":      []byte(`{"keys":[]}`),
		"only ecdsa":     ecOnly,
		"only enc use":   encOnly,
		"larger than 1k": big,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			srv := newJWKSServer(t, s)
			srv.setRaw(http.StatusOK, body)
			f := newFetcher(t, srv.URL, newFakeClock(), JWKSOptions{MaxBodySize: 1 << 10})
			if err := f.Refresh(ctx); err == nil {
				t.Fatal("Refresh succeeded")
			}
			if _, err := f.Key(ctx, s.KeyID()); !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("Key: %v, want ErrUnknownKey", err)
			}
		})
	}

	// A mixed set keeps only the Ed25519 key.
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	_ = json.Unmarshal(good, &doc)
	var ecDoc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	_ = json.Unmarshal(ecOnly, &ecDoc)
	mixed, _ := json.Marshal(map[string]any{"keys": append(ecDoc.Keys, doc.Keys...)})
	srv := newJWKSServer(t, s)
	srv.setRaw(http.StatusOK, mixed)
	f := newFetcher(t, srv.URL, newFakeClock(), JWKSOptions{})
	if err := f.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Key(ctx, s.KeyID()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Key(ctx, "ec"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("ECDSA key served: %v", err)
	}
}

func TestJWKSFetcherContextCancel(t *testing.T) {
	s, _ := GenerateSigner()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		b, _ := s.JWKSJSON()
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	defer close(release)
	f, err := NewJWKSFetcher(srv.URL, srv.Client(), JWKSOptions{FetchTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := f.Key(ctx, s.KeyID()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Key with an expiring context: %v, want DeadlineExceeded", err)
	}
}

func TestNewJWKSFetcherURL(t *testing.T) {
	for _, u := range []string{"", "ftp://x/jwks", "/relative", "http://", "::"} {
		if _, err := NewJWKSFetcher(u, nil, JWKSOptions{}); err == nil {
			t.Fatalf("NewJWKSFetcher(%q) succeeded", u)
		}
	}
}

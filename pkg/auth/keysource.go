package auth

import (
	"context"
	"crypto/ed25519"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// StaticKeys is a fixed KeySource: key id to public key.
type StaticKeys map[string]ed25519.PublicKey

// NewStaticKeys returns StaticKeys holding keys under their RFC 7638
// thumbprints (see KeyID).
func NewStaticKeys(keys ...ed25519.PublicKey) (StaticKeys, error) {
	s := make(StaticKeys, len(keys))
	for i, k := range keys {
		kid, err := KeyID(k)
		if err != nil {
			return nil, fmt.Errorf("auth: static keys: key %d: %w", i, err)
		}
		s[kid] = append(ed25519.PublicKey(nil), k...)
	}
	return s, nil
}

// Key returns the key with id kid, or an error wrapping ErrUnknownKey.
func (s StaticKeys) Key(_ context.Context, kid string) (ed25519.PublicKey, error) {
	k, ok := s[kid]
	if !ok {
		return nil, ErrUnknownKey
	}
	return k, nil
}

// LoadPublicKeyFile reads a PEM file of one or more PKIX "PUBLIC KEY"
// blocks holding Ed25519 keys (more than one during a rotation) and returns
// them keyed by thumbprint.
func LoadPublicKeyFile(pemFile string) (StaticKeys, error) {
	data, err := readBounded(pemFile)
	if err != nil {
		return nil, fmt.Errorf("auth: load public key: %w", err)
	}
	var keys []ed25519.PublicKey
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("auth: load public key %s: unexpected PEM block %q", pemFile, block.Type)
		}
		pub, err := parsePublicKeyPEMBlock(block)
		if err != nil {
			return nil, fmt.Errorf("auth: load public key %s: %w", pemFile, err)
		}
		keys = append(keys, pub)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("auth: load public key %s: no PUBLIC KEY block", pemFile)
	}
	return NewStaticKeys(keys...)
}

// JWKSOptions tune a JWKSFetcher. The zero value is ready to use.
type JWKSOptions struct {
	// MinRefreshInterval is the least time between two fetches triggered
	// by unknown key ids or by age. Zero means 30s.
	MinRefreshInterval time.Duration
	// MaxAge is how long a fetched set is used before it is fetched again
	// on the next lookup. Zero means 10 minutes.
	MaxAge time.Duration
	// MaxBodySize bounds the JWKS response. Zero means 1 MiB.
	MaxBodySize int64
	// FetchTimeout bounds one fetch. Zero means 10s.
	FetchTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// JWKSFetcher is a KeySource reading the Ed25519 keys of a JWKS served
// over HTTP. It runs no background goroutine between lookups: the set is
// fetched on the first lookup, again when it is older than MaxAge, and
// again when a kid is unknown (rotation) — but never more often than once
// per MinRefreshInterval, so a flood of tokens with made-up kids costs at
// most one request per interval. Concurrent lookups share one fetch. When
// a fetch fails, keys already known keep working. Make one with
// NewJWKSFetcher; it is safe for concurrent use.
type JWKSFetcher struct {
	url          string
	client       *http.Client
	minRefresh   time.Duration
	maxAge       time.Duration
	maxBody      int64
	fetchTimeout time.Duration
	now          func() time.Time

	mu        sync.Mutex
	keys      map[string]ed25519.PublicKey
	fetchedAt time.Time     // last successful fetch
	attemptAt time.Time     // start of the last fetch
	lastErr   error         // result of the last fetch
	inflight  chan struct{} // closed when the running fetch ends
}

// NewJWKSFetcher returns a fetcher for the JWKS at rawURL (http or https).
// A nil client means a client with the fetch timeout.
func NewJWKSFetcher(rawURL string, client *http.Client, opts JWKSOptions) (*JWKSFetcher, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("auth: jwks url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("auth: jwks url: want an absolute http or https URL")
	}
	f := &JWKSFetcher{
		url:          rawURL,
		client:       client,
		minRefresh:   opts.MinRefreshInterval,
		maxAge:       opts.MaxAge,
		maxBody:      opts.MaxBodySize,
		fetchTimeout: opts.FetchTimeout,
		now:          opts.Now,
	}
	if f.minRefresh <= 0 {
		f.minRefresh = 30 * time.Second
	}
	if f.maxAge <= 0 {
		f.maxAge = 10 * time.Minute
	}
	if f.maxBody <= 0 {
		f.maxBody = 1 << 20
	}
	if f.fetchTimeout <= 0 {
		f.fetchTimeout = 10 * time.Second
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.client == nil {
		f.client = &http.Client{Timeout: f.fetchTimeout}
	}
	return f, nil
}

// Key returns the key with id kid, fetching the set when needed (see
// JWKSFetcher). An unknown kid returns an error wrapping ErrUnknownKey.
func (f *JWKSFetcher) Key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	waited := false
	for {
		f.mu.Lock()
		now := f.now()
		pub, ok := f.keys[kid]
		fresh := !f.fetchedAt.IsZero() && now.Sub(f.fetchedAt) < f.maxAge
		if ok && fresh {
			f.mu.Unlock()
			return pub, nil
		}
		var ch chan struct{}
		switch {
		case f.inflight != nil && !waited:
			ch = f.inflight
		case !waited && (f.attemptAt.IsZero() || now.Sub(f.attemptAt) >= f.minRefresh):
			ch = f.startFetchLocked(ctx, now)
		default:
			lastErr := f.lastErr
			f.mu.Unlock()
			if ok {
				return pub, nil // stale, but the best there is
			}
			if lastErr != nil {
				return nil, fmt.Errorf("%w (last jwks fetch: %w)", ErrUnknownKey, lastErr)
			}
			return nil, ErrUnknownKey
		}
		f.mu.Unlock()
		if err := wait(ctx, ch); err != nil {
			return nil, err
		}
		waited = true
	}
}

// Refresh fetches the set now, whatever the intervals (or joins a fetch
// already running), and returns the fetch's error. Use it to warm the
// cache at startup or from a readiness check.
func (f *JWKSFetcher) Refresh(ctx context.Context) error {
	f.mu.Lock()
	ch := f.inflight
	if ch == nil {
		ch = f.startFetchLocked(ctx, f.now())
	}
	f.mu.Unlock()
	if err := wait(ctx, ch); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastErr
}

func wait(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("auth: jwks: %w", ctx.Err())
	}
}

// startFetchLocked starts a fetch in a goroutine and returns the channel
// closed when it ends. The fetch outlives a caller that gives up waiting,
// bounded by the fetch timeout. f.mu must be held.
func (f *JWKSFetcher) startFetchLocked(ctx context.Context, now time.Time) chan struct{} {
	ch := make(chan struct{})
	f.inflight = ch
	f.attemptAt = now
	fctx := context.WithoutCancel(ctx)
	go func() {
		fctx, cancel := context.WithTimeout(fctx, f.fetchTimeout)
		defer cancel()
		keys, err := f.fetch(fctx)
		f.mu.Lock()
		defer f.mu.Unlock()
		if err == nil {
			f.keys = keys
			f.fetchedAt = f.now()
		}
		f.lastErr = err
		f.inflight = nil
		close(ch)
	}()
	return ch
}

// fetch downloads and parses the set, keeping the Ed25519 signing keys
// that have a kid.
func (f *JWKSFetcher) fetch(ctx context.Context) (map[string]ed25519.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url, nil)
	if err != nil {
		return nil, fmt.Errorf("auth: jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("auth: jwks fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("auth: jwks fetch: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("auth: jwks read: %w", err)
	}
	if int64(len(body)) > f.maxBody {
		return nil, fmt.Errorf("auth: jwks fetch: response larger than %d bytes", f.maxBody)
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("auth: jwks parse: %w", err)
	}
	keys := make(map[string]ed25519.PublicKey, set.Len())
	for i := 0; i < set.Len(); i++ {
		k, ok := set.Key(i)
		if !ok {
			continue
		}
		if pub, ok := ed25519SigningKey(k); ok {
			keys[k.KeyID()] = pub
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("auth: jwks fetch: no Ed25519 signing key with a kid")
	}
	return keys, nil
}

// ed25519SigningKey returns k as an Ed25519 public key if it is one, has a
// kid, and is not marked for another use or algorithm.
func ed25519SigningKey(k jwk.Key) (ed25519.PublicKey, bool) {
	if k.KeyType() != jwa.OKP || k.KeyID() == "" {
		return nil, false
	}
	if u := k.KeyUsage(); u != "" && u != jwk.ForSignature.String() {
		return nil, false
	}
	if a := k.Algorithm().String(); a != "" && a != jwa.EdDSA.String() {
		return nil, false
	}
	var raw any
	if err := k.Raw(&raw); err != nil {
		return nil, false
	}
	pub, ok := raw.(ed25519.PublicKey)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return nil, false
	}
	return pub, true
}

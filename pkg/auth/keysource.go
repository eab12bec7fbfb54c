package auth

import (
	"context"
	"crypto/ed25519"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/im-websocket-go/im-websocket-go/internal/jwkscache"
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
	c *jwkscache.Cache[ed25519.PublicKey]
}

// NewJWKSFetcher returns a fetcher for the JWKS at rawURL (http or https).
// A nil client means a client with the fetch timeout.
func NewJWKSFetcher(rawURL string, client *http.Client, opts JWKSOptions) (*JWKSFetcher, error) {
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = 10 * time.Second
	}
	if client == nil {
		client = &http.Client{Timeout: opts.FetchTimeout}
	}
	c, err := jwkscache.New(rawURL, jwkscache.Options[ed25519.PublicKey]{
		Name:         "auth",
		Keys:         ed25519Keys,
		Unknown:      ErrUnknownKey,
		MinRefresh:   opts.MinRefreshInterval,
		MaxAge:       opts.MaxAge,
		FetchTimeout: opts.FetchTimeout,
		MaxBodySize:  opts.MaxBodySize,
		Client:       client,
		Now:          opts.Now,
	})
	if err != nil {
		return nil, err
	}
	return &JWKSFetcher{c: c}, nil
}

// Key returns the key with id kid, fetching the set when needed (see
// JWKSFetcher). An unknown kid returns an error wrapping ErrUnknownKey.
func (f *JWKSFetcher) Key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	return f.c.Key(ctx, kid)
}

// Refresh fetches the set now, whatever the intervals (or joins a fetch
// already running), and returns the fetch's error. Use it to warm the
// cache at startup or from a readiness check.
func (f *JWKSFetcher) Refresh(ctx context.Context) error { return f.c.Refresh(ctx) }

// ed25519Keys keeps the Ed25519 signing keys of set that have a kid.
func ed25519Keys(set jwk.Set) (map[string]ed25519.PublicKey, error) {
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
		return nil, errors.New("no Ed25519 signing key with a kid")
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

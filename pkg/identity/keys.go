package identity

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/im-websocket-go/im-websocket-go/internal/jwkscache"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
)

// KeySet finds the provider's public key with a given key id. A missing
// key is an error wrapping auth.ErrUnknownKey.
type KeySet interface {
	Key(ctx context.Context, kid string) (jwk.Key, error)
}

// StaticKeys is a fixed KeySet (tests, or a provider whose keys are
// configured rather than fetched).
type StaticKeys struct{ Set jwk.Set }

// Key returns the key with id kid, or an error wrapping auth.ErrUnknownKey.
func (s StaticKeys) Key(_ context.Context, kid string) (jwk.Key, error) {
	if s.Set != nil {
		if k, ok := s.Set.LookupKeyID(kid); ok {
			return k, nil
		}
	}
	return nil, auth.ErrUnknownKey
}

// JWKSOptions tune a JWKS. The zero value is ready to use.
type JWKSOptions struct {
	// MinRefresh is the least time between two fetches (IM_IDP_MIN_REFRESH):
	// an unknown kid (a rotation at the provider) fetches the set again at
	// most once per MinRefresh, so a flood of tokens with made-up kids
	// costs the provider at most one request per interval. Zero means 30s.
	MinRefresh time.Duration
	// MaxAge is how long a fetched set is used before the next lookup
	// fetches it again. Zero means 10 minutes.
	MaxAge time.Duration
	// FetchTimeout bounds one fetch, connection included
	// (IM_IDP_FETCH_TIMEOUT). Zero means 5s.
	FetchTimeout time.Duration
	// MaxBodySize bounds the JWKS response. Zero means 1 MiB.
	MaxBodySize int64
	// Client makes the requests; nil means a plain client (the fetch
	// timeout bounds every request through its context).
	Client *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnFetch, when set, is called after each fetch with its error (nil on
	// success): metrics.
	OnFetch func(err error)
}

// JWKS is a KeySet reading a JWKS served over HTTP. It runs no goroutine
// between lookups: the set is fetched on the first lookup, again when
// older than MaxAge, and again when a kid is unknown, never more often
// than once per MinRefresh. Concurrent lookups share one fetch, and a
// caller waits for it at most until its context ends (the fetch itself is
// bounded by FetchTimeout). When a fetch fails, the keys already known
// keep working. Make one with NewJWKS; it is safe for concurrent use.
type JWKS struct {
	c *jwkscache.Cache[jwk.Key]
}

// NewJWKS returns a KeySet for the JWKS at rawURL (http or https).
func NewJWKS(rawURL string, opts JWKSOptions) (*JWKS, error) {
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = 5 * time.Second
	}
	c, err := jwkscache.New(rawURL, jwkscache.Options[jwk.Key]{
		Name:         "identity",
		Keys:         keysByID,
		Unknown:      auth.ErrUnknownKey,
		MinRefresh:   opts.MinRefresh,
		MaxAge:       opts.MaxAge,
		FetchTimeout: opts.FetchTimeout,
		MaxBodySize:  opts.MaxBodySize,
		Client:       opts.Client,
		Now:          opts.Now,
		OnFetch:      opts.OnFetch,
	})
	if err != nil {
		return nil, err
	}
	return &JWKS{c: c}, nil
}

// Fetches returns how many fetches were started.
func (j *JWKS) Fetches() int { return j.c.Fetches() }

// Key returns the key with id kid, fetching the set when needed (see
// JWKS). An unknown kid returns an error wrapping auth.ErrUnknownKey, and
// the last fetch's error when it failed.
func (j *JWKS) Key(ctx context.Context, kid string) (jwk.Key, error) { return j.c.Key(ctx, kid) }

// Refresh fetches the set now (or joins the running fetch) and returns
// the fetch's error: warm the cache at startup.
func (j *JWKS) Refresh(ctx context.Context) error { return j.c.Refresh(ctx) }

// keysByID indexes the keys of set by kid (the first of a kid wins, as
// with jwk.Set.LookupKeyID).
func keysByID(set jwk.Set) (map[string]jwk.Key, error) {
	if set.Len() == 0 {
		return nil, errors.New("empty key set")
	}
	keys := make(map[string]jwk.Key, set.Len())
	for i := 0; i < set.Len(); i++ {
		if k, ok := set.Key(i); ok {
			if _, dup := keys[k.KeyID()]; !dup {
				keys[k.KeyID()] = k
			}
		}
	}
	return keys, nil
}

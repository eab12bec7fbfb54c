package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

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
	url  string
	opts JWKSOptions

	mu        sync.Mutex
	set       jwk.Set
	fetchedAt time.Time     // last successful fetch
	attemptAt time.Time     // start of the last fetch
	lastErr   error         // result of the last fetch
	inflight  chan struct{} // closed when the running fetch ends
	fetches   int           // fetches started (tests)
}

// NewJWKS returns a KeySet for the JWKS at rawURL (http or https).
func NewJWKS(rawURL string, opts JWKSOptions) (*JWKS, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("identity: jwks url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("identity: jwks url: want an absolute http or https URL")
	}
	if opts.MinRefresh <= 0 {
		opts.MinRefresh = 30 * time.Second
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 10 * time.Minute
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = 5 * time.Second
	}
	if opts.MaxBodySize <= 0 {
		opts.MaxBodySize = 1 << 20
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &JWKS{url: rawURL, opts: opts}, nil
}

// Fetches returns how many fetches were started.
func (j *JWKS) Fetches() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.fetches
}

// Key returns the key with id kid, fetching the set when needed (see
// JWKS). An unknown kid returns an error wrapping auth.ErrUnknownKey, and
// the last fetch's error when it failed.
func (j *JWKS) Key(ctx context.Context, kid string) (jwk.Key, error) {
	waited := false
	for {
		j.mu.Lock()
		now := j.opts.Now()
		var key jwk.Key
		ok := false
		if j.set != nil {
			key, ok = j.set.LookupKeyID(kid)
		}
		fresh := !j.fetchedAt.IsZero() && now.Sub(j.fetchedAt) < j.opts.MaxAge
		if ok && fresh {
			j.mu.Unlock()
			return key, nil
		}
		var ch chan struct{}
		switch {
		case j.inflight != nil && !waited:
			ch = j.inflight
		case !waited && (j.attemptAt.IsZero() || now.Sub(j.attemptAt) >= j.opts.MinRefresh):
			ch = j.startFetchLocked(ctx, now)
		default:
			lastErr := j.lastErr
			j.mu.Unlock()
			if ok {
				return key, nil // stale, but the best there is
			}
			if lastErr != nil {
				return nil, fmt.Errorf("%w (last jwks fetch: %w)", auth.ErrUnknownKey, lastErr)
			}
			return nil, auth.ErrUnknownKey
		}
		j.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("identity: jwks: %w", ctx.Err())
		}
		waited = true
	}
}

// Refresh fetches the set now (or joins the running fetch) and returns
// the fetch's error: warm the cache at startup.
func (j *JWKS) Refresh(ctx context.Context) error {
	j.mu.Lock()
	ch := j.inflight
	if ch == nil {
		ch = j.startFetchLocked(ctx, j.opts.Now())
	}
	j.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return fmt.Errorf("identity: jwks: %w", ctx.Err())
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.lastErr
}

// startFetchLocked starts a fetch and returns the channel closed when it
// ends. The fetch outlives a caller that stops waiting, bounded by
// FetchTimeout. j.mu must be held.
func (j *JWKS) startFetchLocked(ctx context.Context, now time.Time) chan struct{} {
	ch := make(chan struct{})
	j.inflight = ch
	j.attemptAt = now
	j.fetches++
	fctx := context.WithoutCancel(ctx)
	go func() {
		fctx, cancel := context.WithTimeout(fctx, j.opts.FetchTimeout)
		defer cancel()
		set, err := j.fetch(fctx)
		if j.opts.OnFetch != nil {
			j.opts.OnFetch(err)
		}
		j.mu.Lock()
		defer j.mu.Unlock()
		if err == nil {
			j.set = set
			j.fetchedAt = j.opts.Now()
		}
		j.lastErr = err
		j.inflight = nil
		close(ch)
	}()
	return ch
}

// fetch downloads and parses the set.
func (j *JWKS) fetch(ctx context.Context) (jwk.Set, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return nil, fmt.Errorf("identity: jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := j.opts.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("identity: jwks fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("identity: jwks fetch: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, j.opts.MaxBodySize+1))
	if err != nil {
		return nil, fmt.Errorf("identity: jwks read: %w", err)
	}
	if int64(len(body)) > j.opts.MaxBodySize {
		return nil, fmt.Errorf("identity: jwks fetch: response larger than %d bytes", j.opts.MaxBodySize)
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("identity: jwks parse: %w", err)
	}
	if set.Len() == 0 {
		return nil, errors.New("identity: jwks fetch: empty key set")
	}
	return set, nil
}

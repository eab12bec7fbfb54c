// Package jwkscache fetches a JWKS over HTTP on demand and keeps its keys:
// the one cache behind pkg/auth's JWKSFetcher (the gateway's keys of the
// API) and pkg/identity's JWKS (an app's identity provider), which differ
// only in the keys they keep from a set.
package jwkscache

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
)

// Options tune a Cache. The zero value is ready to use but for Keys.
type Options[K any] struct {
	// Name prefixes the errors ("auth", "identity").
	Name string
	// Keys picks the keys to keep from a fetched set, by kid; an error
	// (no usable key) fails the fetch and keeps the keys known before.
	Keys func(jwk.Set) (map[string]K, error)
	// Unknown is the error wrapped for a kid the set does not hold.
	Unknown error
	// MinRefresh is the least time between two fetches. Zero means 30s.
	MinRefresh time.Duration
	// MaxAge is how long a fetched set is used before the next lookup
	// fetches it again. Zero means 10 minutes.
	MaxAge time.Duration
	// FetchTimeout bounds one fetch, connection included. Zero means 10s.
	FetchTimeout time.Duration
	// MaxBodySize bounds the response. Zero means 1 MiB.
	MaxBodySize int64
	// Client makes the requests; nil means a plain client (FetchTimeout
	// bounds every request through its context).
	Client *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnFetch, when set, is called after each fetch with its error.
	OnFetch func(err error)
}

// Cache holds the keys of a JWKS served over HTTP. It runs no goroutine
// between lookups: the set is fetched on the first lookup, again when
// older than MaxAge, and again when a kid is unknown (a rotation), never
// more often than once per MinRefresh, so a flood of tokens with made-up
// kids costs the server at most one request per interval. Concurrent
// lookups share one fetch, and a caller waits for it at most until its
// context ends. When a fetch fails, the keys already known keep working.
// Safe for concurrent use.
type Cache[K any] struct {
	url  string
	opts Options[K]

	mu        sync.Mutex
	keys      map[string]K
	fetchedAt time.Time     // last successful fetch
	attemptAt time.Time     // start of the last fetch
	lastErr   error         // result of the last fetch
	inflight  chan struct{} // closed when the running fetch ends
	fetches   int           // fetches started
}

// New returns a Cache for the JWKS at rawURL (http or https).
func New[K any](rawURL string, opts Options[K]) (*Cache[K], error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s: jwks url: %w", opts.Name, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: jwks url: want an absolute http or https URL", opts.Name)
	}
	if opts.Keys == nil {
		return nil, fmt.Errorf("%s: jwks: no Keys function", opts.Name)
	}
	if opts.Unknown == nil {
		opts.Unknown = errors.New("unknown key id")
	}
	if opts.MinRefresh <= 0 {
		opts.MinRefresh = 30 * time.Second
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 10 * time.Minute
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = 10 * time.Second
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
	return &Cache[K]{url: rawURL, opts: opts}, nil
}

// Fetches returns how many fetches were started.
func (c *Cache[K]) Fetches() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fetches
}

// Key returns the key with id kid, fetching the set when needed (see
// Cache). An unknown kid returns an error wrapping Options.Unknown, and
// the last fetch's error when it failed.
func (c *Cache[K]) Key(ctx context.Context, kid string) (K, error) {
	var zero K
	waited := false
	for {
		c.mu.Lock()
		now := c.opts.Now()
		key, ok := c.keys[kid]
		fresh := !c.fetchedAt.IsZero() && now.Sub(c.fetchedAt) < c.opts.MaxAge
		if ok && fresh {
			c.mu.Unlock()
			return key, nil
		}
		var ch chan struct{}
		switch {
		case c.inflight != nil && !waited:
			ch = c.inflight
		case !waited && (c.attemptAt.IsZero() || now.Sub(c.attemptAt) >= c.opts.MinRefresh):
			ch = c.startFetchLocked(ctx, now)
		default:
			lastErr := c.lastErr
			c.mu.Unlock()
			if ok {
				return key, nil // stale, but the best there is
			}
			if lastErr != nil {
				return zero, fmt.Errorf("%w (last jwks fetch: %w)", c.opts.Unknown, lastErr)
			}
			return zero, c.opts.Unknown
		}
		c.mu.Unlock()
		if err := c.wait(ctx, ch); err != nil {
			return zero, err
		}
		waited = true
	}
}

// Refresh fetches the set now, whatever the intervals (or joins the
// running fetch), and returns the fetch's error: warm the cache at startup
// or from a readiness check.
func (c *Cache[K]) Refresh(ctx context.Context) error {
	c.mu.Lock()
	ch := c.inflight
	if ch == nil {
		ch = c.startFetchLocked(ctx, c.opts.Now())
	}
	c.mu.Unlock()
	if err := c.wait(ctx, ch); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

func (c *Cache[K]) wait(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: jwks: %w", c.opts.Name, ctx.Err())
	}
}

// startFetchLocked starts a fetch and returns the channel closed when it
// ends. The fetch outlives a caller that stops waiting, bounded by
// FetchTimeout. c.mu must be held.
func (c *Cache[K]) startFetchLocked(ctx context.Context, now time.Time) chan struct{} {
	ch := make(chan struct{})
	c.inflight = ch
	c.attemptAt = now
	c.fetches++
	fctx := context.WithoutCancel(ctx)
	go func() {
		fctx, cancel := context.WithTimeout(fctx, c.opts.FetchTimeout)
		defer cancel()
		keys, err := c.fetch(fctx)
		if c.opts.OnFetch != nil {
			c.opts.OnFetch(err)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if err == nil {
			c.keys = keys
			c.fetchedAt = c.opts.Now()
		}
		c.lastErr = err
		c.inflight = nil
		close(ch)
	}()
	return ch
}

// fetch downloads and parses the set and picks its keys.
func (c *Cache[K]) fetch(ctx context.Context) (map[string]K, error) {
	name := c.opts.Name
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: jwks request: %w", name, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.opts.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: jwks fetch: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("%s: jwks fetch: status %d", name, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxBodySize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: jwks read: %w", name, err)
	}
	if int64(len(body)) > c.opts.MaxBodySize {
		return nil, fmt.Errorf("%s: jwks fetch: response larger than %d bytes", name, c.opts.MaxBodySize)
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("%s: jwks parse: %w", name, err)
	}
	keys, err := c.opts.Keys(set)
	if err != nil {
		return nil, fmt.Errorf("%s: jwks fetch: %w", name, err)
	}
	return keys, nil
}

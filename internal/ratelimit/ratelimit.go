// Package ratelimit counts events in fixed windows on a kv.KV, so limits
// hold across every node that shares Redis (or inside one process).
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/kv"
)

// Rule is a limit of N events per window.
type Rule struct {
	N      int64
	Window time.Duration
}

// Limiter applies rules to keys.
type Limiter struct {
	KV     kv.KV
	Prefix string // key prefix, e.g. "rl:"
}

// Hit counts one event for key under rule, and reports whether it is within
// the limit; when not, retry tells how long until the window ends.
func (l *Limiter) Hit(ctx context.Context, key string, r Rule) (ok bool, retry time.Duration, err error) {
	if r.N <= 0 {
		return true, 0, nil
	}
	k := l.Prefix + key
	n, err := l.KV.Incr(ctx, k, r.Window)
	if err != nil {
		return false, 0, fmt.Errorf("ratelimit: %w", err)
	}
	if n <= r.N {
		return true, 0, nil
	}
	ttl, err := l.KV.TTL(ctx, k)
	if err != nil || ttl <= 0 {
		ttl = r.Window
	}
	return false, ttl, nil
}

// Peek reports whether key is already over the limit, without counting.
func (l *Limiter) Peek(ctx context.Context, key string, r Rule) (over bool, retry time.Duration, err error) {
	if r.N <= 0 {
		return false, 0, nil
	}
	k := l.Prefix + key
	v, err := l.KV.Get(ctx, k)
	if errors.Is(err, kv.ErrNotFound) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, fmt.Errorf("ratelimit: %w", err)
	}
	var n int64
	if _, err := fmt.Sscan(v, &n); err != nil || n < r.N {
		return false, 0, nil
	}
	ttl, err := l.KV.TTL(ctx, k)
	if err != nil || ttl <= 0 {
		ttl = r.Window
	}
	return true, ttl, nil
}

// Reset forgets key's count (after a successful login, say).
func (l *Limiter) Reset(ctx context.Context, key string) error {
	return l.KV.Del(ctx, l.Prefix+key)
}

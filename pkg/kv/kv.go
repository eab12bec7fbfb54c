// Package kv is the small set of atomic key-value operations the services
// need for codes, rate limits and message sequence numbers. Redis provides
// them across nodes (kv/rediskv); kv/memkv provides them inside one process
// (standalone mode).
package kv

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by Get and GetDel for a missing or expired key.
var ErrNotFound = errors.New("kv: not found")

// KV is implemented by rediskv and memkv. Every operation is atomic.
type KV interface {
	// Incr adds one to key and returns the new value. A ttl > 0 is set when
	// the key is created by this call (fixed windows).
	Incr(ctx context.Context, key string, ttl time.Duration) (int64, error)
	// SetMax raises key to at least v (creating it), and returns the value.
	SetMax(ctx context.Context, key string, v int64) (int64, error)
	// Set stores value with a ttl (0: none).
	Set(ctx context.Context, key, value string, ttl time.Duration) error
	Get(ctx context.Context, key string) (string, error)
	// GetMany returns the values of keys, "" for a missing one, in one
	// round trip where the backend allows.
	GetMany(ctx context.Context, keys ...string) ([]string, error)
	// GetDel returns the value and deletes the key in one step: of two
	// concurrent callers only one gets the value.
	GetDel(ctx context.Context, key string) (string, error)
	Del(ctx context.Context, keys ...string) error
	// TTL returns the time left on key, 0 if it has none or is missing.
	TTL(ctx context.Context, key string) (time.Duration, error)
	Ping(ctx context.Context) error
}

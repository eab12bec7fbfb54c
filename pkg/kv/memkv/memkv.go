// Package memkv implements kv.KV inside one process, for standalone mode and
// tests. Values live in a mutex-guarded map; a key with a ttl expires lazily
// when it is accessed, and a background sweep removes expired keys that are
// never accessed again. Close stops the sweep.
package memkv

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/kv"
)

// ErrNotInteger is returned by Incr and SetMax when the stored value is not a
// decimal int64 (the same rule as Redis INCR), or when Incr would overflow.
var ErrNotInteger = errors.New("memkv: value is not an integer or out of range")

const (
	defaultSweepInterval = time.Second
	// maxSweep bounds the keys one sweep looks at, so the lock is never held
	// for long; the next sweep continues where map iteration takes it.
	maxSweep = 10000
)

type entry struct {
	val string
	exp time.Time // zero: no expiry
}

// KV is an in-process kv.KV. The zero value is not usable; call New.
// All methods are safe for concurrent use, and each one is atomic.
type KV struct {
	now func() time.Time

	mu       sync.Mutex
	data     map[string]entry
	expiring map[string]struct{} // keys of data with a non-zero exp

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

var _ kv.KV = (*KV)(nil)

// New returns an empty KV with a running expiry sweep. Call Close to stop
// the sweep when the KV is no longer needed.
func New() *KV { return newKV(defaultSweepInterval, time.Now) }

func newKV(sweepEvery time.Duration, now func() time.Time) *KV {
	m := &KV{
		now:      now,
		data:     make(map[string]entry),
		expiring: make(map[string]struct{}),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go m.sweepLoop(sweepEvery)
	return m
}

// Close stops the background sweep and waits for it to end. The KV keeps
// working afterwards (expired keys are still hidden and removed when
// touched). Close is idempotent.
func (m *KV) Close() error {
	m.closeOnce.Do(func() { close(m.stop) })
	<-m.done
	return nil
}

func (m *KV) sweepLoop(every time.Duration) {
	defer close(m.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.sweep()
		}
	}
}

// sweep removes up to maxSweep expired keys.
func (m *KV) sweep() {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	n := 0
	for k := range m.expiring {
		if n == maxSweep {
			break
		}
		n++
		if e, ok := m.data[k]; ok && !now.Before(e.exp) {
			delete(m.data, k)
			delete(m.expiring, k)
		}
	}
}

// lookup returns the live entry of key; m.mu must be held.
func (m *KV) lookup(key string, now time.Time) (entry, bool) {
	e, ok := m.data[key]
	if !ok {
		return entry{}, false
	}
	if !e.exp.IsZero() && !now.Before(e.exp) {
		m.deleteLocked(key)
		return entry{}, false
	}
	return e, true
}

func (m *KV) store(key string, e entry) {
	m.data[key] = e
	if e.exp.IsZero() {
		delete(m.expiring, key)
	} else {
		m.expiring[key] = struct{}{}
	}
}

func (m *KV) deleteLocked(key string) {
	delete(m.data, key)
	delete(m.expiring, key)
}

func expiry(now time.Time, ttl time.Duration) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return now.Add(ttl)
}

// Incr adds one to key and returns the new value. A ttl > 0 is set only when
// this call creates the key; a ttl <= 0 means none.
func (m *KV) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memkv: incr %q: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	e, ok := m.lookup(key, now)
	if !ok {
		m.store(key, entry{val: "1", exp: expiry(now, ttl)})
		return 1, nil
	}
	n, err := parseInt(e.val)
	if err != nil || n == 1<<63-1 {
		return 0, fmt.Errorf("memkv: incr %q: %w", key, ErrNotInteger)
	}
	n++
	e.val = strconv.FormatInt(n, 10)
	m.data[key] = e
	return n, nil
}

// SetMax raises key to at least v, creating it without a ttl when missing,
// and returns the value it holds afterwards. An existing ttl is kept.
func (m *KV) SetMax(ctx context.Context, key string, v int64) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memkv: setmax %q: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	e, ok := m.lookup(key, now)
	if ok {
		cur, err := parseInt(e.val)
		if err != nil {
			return 0, fmt.Errorf("memkv: setmax %q: %w", key, ErrNotInteger)
		}
		if cur >= v {
			return cur, nil
		}
	}
	e.val = strconv.FormatInt(v, 10)
	m.store(key, e)
	return v, nil
}

// Set stores value under key with a ttl; ttl <= 0 means none.
func (m *KV) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memkv: set %q: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.store(key, entry{val: value, exp: expiry(m.now(), ttl)})
	return nil
}

// Get returns the value of key, or kv.ErrNotFound.
// GetMany returns the values of keys, "" for missing ones.
func (m *KV) GetMany(ctx context.Context, keys ...string) ([]string, error) {
	out := make([]string, len(keys))
	for i, k := range keys {
		v, err := m.Get(ctx, k)
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (m *KV) Get(ctx context.Context, key string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("memkv: get %q: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.lookup(key, m.now())
	if !ok {
		return "", fmt.Errorf("memkv: get %q: %w", key, kv.ErrNotFound)
	}
	return e.val, nil
}

// GetDel returns the value of key and deletes it, or kv.ErrNotFound. Of
// concurrent callers only one gets the value.
func (m *KV) GetDel(ctx context.Context, key string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("memkv: getdel %q: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.lookup(key, m.now())
	if !ok {
		return "", fmt.Errorf("memkv: getdel %q: %w", key, kv.ErrNotFound)
	}
	m.deleteLocked(key)
	return e.val, nil
}

// Del removes keys; missing keys are ignored.
func (m *KV) Del(ctx context.Context, keys ...string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memkv: del: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		m.deleteLocked(k)
	}
	return nil
}

// TTL returns the time left on key, 0 when it has no ttl or is missing.
func (m *KV) TTL(ctx context.Context, key string) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memkv: ttl %q: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	e, ok := m.lookup(key, now)
	if !ok || e.exp.IsZero() {
		return 0, nil
	}
	return e.exp.Sub(now), nil
}

// Ping reports whether ctx is still live; the in-process store is always up.
func (m *KV) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memkv: ping: %w", err)
	}
	return nil
}

// len returns the number of stored keys, expired or not (for tests).
func (m *KV) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.data)
}

// parseInt accepts what Redis accepts as an integer: an optional '-' and
// decimal digits without leading zeros, in int64 range.
func parseInt(s string) (int64, error) {
	d := s
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if d == "" || (len(d) > 1 && d[0] == '0') || d[0] == '+' || s == "-0" {
		return 0, ErrNotInteger
	}
	return strconv.ParseInt(s, 10, 64)
}

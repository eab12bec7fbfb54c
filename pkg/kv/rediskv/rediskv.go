// Package rediskv implements kv.KV on Redis (go-redis v9), so counters,
// codes and rate limits are shared by every node. Read-modify-write
// operations run as Lua scripts, which Redis executes atomically.
package rediskv

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/im-websocket-go/im-websocket-go/pkg/kv"
)

// incrScript increments KEYS[1] and, only when this call created the key,
// sets its ttl to ARGV[1] milliseconds (0: none). INCR and PEXPIRE run in one
// script, so no crash can leave a fresh key without its ttl. The new value is
// returned as the stored string: INCR's integer reply becomes a Lua double,
// which is exact only up to 2^53.
var incrScript = redis.NewScript(`
local created = redis.call('EXISTS', KEYS[1]) == 0
redis.call('INCR', KEYS[1])
local ms = tonumber(ARGV[1])
if created and ms > 0 then
  redis.call('PEXPIRE', KEYS[1], ms)
end
return redis.call('GET', KEYS[1])
`)

// setMaxScript sets KEYS[1] to ARGV[1] unless it already holds a larger or
// equal integer, keeping any ttl, and returns the value as a string. The
// comparison is exact on decimal strings, so the whole int64 range works
// (Lua numbers are doubles). ARGV[1] comes from strconv.FormatInt.
var setMaxScript = redis.NewScript(`
local function canonical(s)
  return s == '0' or (#s <= 20 and string.match(s, '^%-?[1-9]%d*$') ~= nil)
end
local function less(a, b)
  local na, nb = string.sub(a, 1, 1) == '-', string.sub(b, 1, 1) == '-'
  if na ~= nb then return na end
  local r
  if #a ~= #b then r = #a < #b elseif a == b then return false else r = a < b end
  if na then return not r end
  return r
end
local cur = redis.call('GET', KEYS[1])
if cur then
  if not canonical(cur) then
    return redis.error_reply('ERR value is not an integer or out of range')
  end
  if not less(cur, ARGV[1]) then
    return cur
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
return ARGV[1]
`)

// KV is a kv.KV on a Redis client. It holds no state of its own and is safe
// for concurrent use.
type KV struct {
	c redis.Cmdable
}

var _ kv.KV = (*KV)(nil)

// New returns a KV using c. Closing c is the caller's job.
func New(c redis.Cmdable) *KV { return &KV{c: c} }

// ms converts a ttl to whole milliseconds, rounding a positive ttl below one
// millisecond up so it still expires. ttl <= 0 gives 0 (no ttl).
func ms(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	n := int64(ttl / time.Millisecond)
	if n == 0 {
		n = 1
	}
	return n
}

// Incr adds one to key and returns the new value. A ttl > 0 is set only when
// this call creates the key.
func (k *KV) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	s, err := incrScript.Run(ctx, k.c, []string{key}, ms(ttl)).Text()
	if err != nil {
		return 0, fmt.Errorf("rediskv: incr %q: %w", key, err)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("rediskv: incr %q: stored value: %w", key, err)
	}
	return n, nil
}

// SetMax raises key to at least v (creating it without a ttl) and returns
// the value it holds afterwards. An existing ttl is kept.
func (k *KV) SetMax(ctx context.Context, key string, v int64) (int64, error) {
	s, err := setMaxScript.Run(ctx, k.c, []string{key}, strconv.FormatInt(v, 10)).Text()
	if err != nil {
		return 0, fmt.Errorf("rediskv: setmax %q: %w", key, err)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("rediskv: setmax %q: stored value: %w", key, err)
	}
	return n, nil
}

// Set stores value under key with a ttl; ttl <= 0 means none.
func (k *KV) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if err := k.c.Set(ctx, key, value, time.Duration(ms(ttl))*time.Millisecond).Err(); err != nil {
		return fmt.Errorf("rediskv: set %q: %w", key, err)
	}
	return nil
}

// Get returns the value of key, or an error wrapping kv.ErrNotFound.
func (k *KV) Get(ctx context.Context, key string) (string, error) {
	v, err := k.c.Get(ctx, key).Result()
	if err != nil {
		return "", fmt.Errorf("rediskv: get %q: %w", key, notFound(err))
	}
	return v, nil
}

// GetMany reads keys in one pipelined round trip (GETs, not MGET, so that
// keys in different Redis Cluster slots work too).
func (k *KV) GetMany(ctx context.Context, keys ...string) ([]string, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.StringCmd, len(keys))
	_, err := k.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, key := range keys {
			cmds[i] = p.Get(ctx, key)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("rediskv: get many: %w", err)
	}
	out := make([]string, len(keys))
	for i, c := range cmds {
		v, err := c.Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("rediskv: get %q: %w", keys[i], err)
		}
		out[i] = v
	}
	return out, nil
}

// GetDel returns the value of key and deletes it with GETDEL (Redis >= 6.2),
// or an error wrapping kv.ErrNotFound.
func (k *KV) GetDel(ctx context.Context, key string) (string, error) {
	v, err := k.c.GetDel(ctx, key).Result()
	if err != nil {
		return "", fmt.Errorf("rediskv: getdel %q: %w", key, notFound(err))
	}
	return v, nil
}

// Del removes keys; missing keys are ignored. Several keys go as one DEL
// each in a pipeline, one round trip: on a Redis Cluster the keys may be in
// different slots (a multi-key DEL would fail with CROSSSLOT), and go-redis
// sends each to its slot's node. Del promises no atomicity across keys.
func (k *KV) Del(ctx context.Context, keys ...string) error {
	switch len(keys) {
	case 0:
		return nil
	case 1:
		if err := k.c.Del(ctx, keys[0]).Err(); err != nil {
			return fmt.Errorf("rediskv: del: %w", err)
		}
		return nil
	}
	if _, err := k.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, key := range keys {
			p.Del(ctx, key)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("rediskv: del: %w", err)
	}
	return nil
}

// TTL returns the time left on key, 0 when it has no ttl or is missing.
func (k *KV) TTL(ctx context.Context, key string) (time.Duration, error) {
	d, err := k.c.PTTL(ctx, key).Result()
	if err != nil {
		return 0, fmt.Errorf("rediskv: ttl %q: %w", key, err)
	}
	// PTTL answers -1 (no ttl) and -2 (missing); go-redis passes them as
	// negative durations.
	if d < 0 {
		return 0, nil
	}
	return d, nil
}

// Ping checks that Redis answers.
func (k *KV) Ping(ctx context.Context) error {
	if err := k.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("rediskv: ping: %w", err)
	}
	return nil
}

// notFound maps redis.Nil to kv.ErrNotFound and keeps other errors.
func notFound(err error) error {
	if errors.Is(err, redis.Nil) {
		return kv.ErrNotFound
	}
	return err
}

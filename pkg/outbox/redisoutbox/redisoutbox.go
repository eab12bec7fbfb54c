// Package redisoutbox is an outbox.Outbox in Redis, shared by every
// process: the entries in a hash, the queue in a sorted set scored by the
// time each entry is due (a claim re-scores it to the end of its lease, so
// a retry later and a lapsed lease are the same thing), the dead letters
// in a second sorted set. Each call is one Lua script, so it is atomic.
// Every key carries one hash tag ({ob} by default): on Redis Cluster they
// live in one slot and the scripts stay legal.
package redisoutbox

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/im-websocket-go/im-websocket-go/pkg/outbox"
)

// Options tune New; the zero value is the production setting.
type Options struct {
	// Prefix starts every key; it must hold a hash tag. Default "{ob}".
	Prefix string
	Now    func() time.Time // default time.Now
}

// Outbox is the Redis outbox.
type Outbox struct {
	rc   redis.Cmdable
	now  func() time.Time
	keys []string // entries, attempts, errors, due, dead, counter
	due  string
}

// New returns an outbox over rc.
func New(rc redis.Cmdable, o Options) *Outbox {
	if o.Prefix == "" {
		o.Prefix = "{ob}"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	p := o.Prefix
	return &Outbox{rc: rc, now: o.Now,
		keys: []string{p + ":e", p + ":a", p + ":x", p + ":due", p + ":dead", p + ":n"},
		due:  p + ":due"}
}

var _ outbox.Outbox = (*Outbox)(nil)

// KEYS: 1 entries, 2 attempts, 3 errors, 4 due, 5 dead, 6 counter.

var enqueueScript = redis.NewScript(`
local now = ARGV[1]
for i = 2, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i+1]) == 1 then
    redis.call('ZADD', KEYS[4], now, ARGV[i])
  end
end
return 0`)

var claimScript = redis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local e = redis.call('HGET', KEYS[1], id)
  if e then
    redis.call('ZADD', KEYS[4], ARGV[2], id)
    out[#out+1] = {e, redis.call('HGET', KEYS[2], id) or '0', redis.call('HGET', KEYS[3], id) or ''}
  else
    redis.call('ZREM', KEYS[4], id)
  end
end
return out`)

var ackScript = redis.NewScript(`
if redis.call('ZREM', KEYS[4], ARGV[1]) == 1 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
end
return 0`)

var retryScript = redis.NewScript(`
if redis.call('ZSCORE', KEYS[4], ARGV[1]) then
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
  redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
end
return 0`)

var killScript = redis.NewScript(`
if redis.call('ZREM', KEYS[4], ARGV[1]) == 1 then
  redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
  redis.call('ZADD', KEYS[5], redis.call('INCR', KEYS[6]), ARGV[1])
end
return 0`)

var replayScript = redis.NewScript(`
if redis.call('ZREM', KEYS[5], ARGV[1]) == 1 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
  return 1
end
return 0`)

var deadScript = redis.NewScript(`
local ids = redis.call('ZRANGE', KEYS[5], 0, tonumber(ARGV[1]) - 1)
local out = {}
for _, id in ipairs(ids) do
  local e = redis.call('HGET', KEYS[1], id)
  if e then
    out[#out+1] = {e, redis.call('HGET', KEYS[2], id) or '0', redis.call('HGET', KEYS[3], id) or ''}
  end
end
return out`)

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// Enqueue adds entries not known yet.
func (o *Outbox) Enqueue(ctx context.Context, entries ...outbox.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	now := o.now()
	args := make([]any, 0, 1+2*len(entries))
	args = append(args, ms(now))
	for _, e := range entries {
		if e.CreatedAt.IsZero() {
			e.CreatedAt = now.UTC()
		}
		e.Attempts, e.LastError = 0, ""
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("outbox: enqueue: %w", err)
		}
		args = append(args, e.ID, b)
	}
	if err := enqueueScript.Run(ctx, o.rc, o.keys, args...).Err(); err != nil {
		return fmt.Errorf("outbox: enqueue: %w", err)
	}
	return nil
}

// Claim leases due entries.
func (o *Outbox) Claim(ctx context.Context, max int, lease time.Duration) ([]outbox.Entry, error) {
	if max <= 0 {
		return nil, nil
	}
	if max > outbox.MaxClaim {
		max = outbox.MaxClaim
	}
	now := o.now()
	res, err := claimScript.Run(ctx, o.rc, o.keys, ms(now), ms(now.Add(lease)), max).Slice()
	if err != nil {
		return nil, fmt.Errorf("outbox: claim: %w", err)
	}
	return decode(res)
}

func decode(res []any) ([]outbox.Entry, error) {
	out := make([]outbox.Entry, 0, len(res))
	for _, r := range res {
		row, ok := r.([]any)
		if !ok || len(row) != 3 {
			return nil, fmt.Errorf("outbox: unexpected reply %T", r)
		}
		var e outbox.Entry
		js, _ := row[0].(string)
		if err := json.Unmarshal([]byte(js), &e); err != nil {
			return nil, fmt.Errorf("outbox: entry: %w", err)
		}
		as, _ := row[1].(string)
		e.Attempts, _ = strconv.Atoi(as)
		e.LastError, _ = row[2].(string)
		out = append(out, e)
	}
	return out, nil
}

// Ack removes an entry.
func (o *Outbox) Ack(ctx context.Context, id string) error {
	if err := ackScript.Run(ctx, o.rc, o.keys, id).Err(); err != nil {
		return fmt.Errorf("outbox: ack: %w", err)
	}
	return nil
}

// Retry reschedules an entry.
func (o *Outbox) Retry(ctx context.Context, id string, at time.Time, lastErr string) error {
	if err := retryScript.Run(ctx, o.rc, o.keys, id, ms(at), lastErr).Err(); err != nil {
		return fmt.Errorf("outbox: retry: %w", err)
	}
	return nil
}

// Kill moves an entry to the dead letters.
func (o *Outbox) Kill(ctx context.Context, id string, lastErr string) error {
	if err := killScript.Run(ctx, o.rc, o.keys, id, lastErr).Err(); err != nil {
		return fmt.Errorf("outbox: kill: %w", err)
	}
	return nil
}

// DeadLetters lists dead entries, oldest killed first.
func (o *Outbox) DeadLetters(ctx context.Context, limit int) ([]outbox.Entry, error) {
	if limit <= 0 || limit > outbox.MaxClaim {
		limit = outbox.MaxClaim
	}
	res, err := deadScript.Run(ctx, o.rc, o.keys, limit).Slice()
	if err != nil {
		return nil, fmt.Errorf("outbox: dead letters: %w", err)
	}
	return decode(res)
}

// Replay queues a dead entry again.
func (o *Outbox) Replay(ctx context.Context, id string) error {
	n, err := replayScript.Run(ctx, o.rc, o.keys, id, ms(o.now())).Int()
	if err != nil {
		return fmt.Errorf("outbox: replay: %w", err)
	}
	if n == 0 {
		return outbox.ErrNotFound
	}
	return nil
}

// Pending counts the queued entries.
func (o *Outbox) Pending(ctx context.Context) (int64, error) {
	n, err := o.rc.ZCard(ctx, o.due).Result()
	if err != nil {
		return 0, fmt.Errorf("outbox: pending: %w", err)
	}
	return n, nil
}

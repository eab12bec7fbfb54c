// Package redispresence implements presence.Presence on Redis (go-redis
// v9), shared by every node.
//
// Keys (hash tags in braces, so each script touches one slot and the
// layout works on Redis Cluster):
//
//	pr:u:{uid}       hash: node -> expiry (unix ms, Redis clock); field "~s"
//	                 = "1" while the user is reported online. Its key ttl
//	                 is the newest record's plus Linger, so the flag
//	                 outlives a killed node's records long enough for the
//	                 survivors to report the user offline.
//	pr:n:{node}      set: the node's users (for the claim of a lapsed node)
//	pr:{nodes}       sorted set: node -> its record's expiry (unix ms)
//	pr:{nodes}:dead  set: claimed nodes whose users are being removed
//
// Every decision (came online, went offline) is made by a Lua script on
// the one user's hash, which Redis runs atomically, so each transition is
// reported to exactly one caller. Expiries use Redis's clock (TIME), so
// nodes' clocks need not agree. A node's renewal is one pipeline: one
// script call per user plus one SADD per 512 users and one node record.
package redispresence

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/im-websocket-go/im-websocket-go/pkg/presence"
)

// Linger is how long a user's hash outlives its newest record: the time
// the survivors have to claim a killed node and report its users offline.
const Linger = 10 * time.Minute

// batch is the most commands of one kind sent in one pipeline.
const batch = 512

const flagField = "~s"

func (p *Presence) userKey(uid string) string  { return p.prefix + ":u:{" + uid + "}" }
func (p *Presence) nodeKey(node string) string { return p.prefix + ":n:{" + node + "}" }

// setScript records node for the user until ttl from now (KEYS[1] the
// user's hash; ARGV node, ttl ms, linger ms) and returns 1 when the user
// was not reported online (the flag is then set).
var setScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d', now + ttl))
local keep = ttl + tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < keep then
  redis.call('PEXPIRE', KEYS[1], keep)
end
if redis.call('HGET', KEYS[1], '~s') == '1' then
  return 0
end
redis.call('HSET', KEYS[1], '~s', '1')
return 1
`)

// delScript removes node's record of the user (KEYS[1]; ARGV node) and
// returns 1 when the user thereby went offline: no live record left and
// the flag was set (it is cleared). A hash left with no record is deleted.
var delScript = redis.NewScript(`
redis.call('HDEL', KEYS[1], ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HGETALL', KEYS[1])
local any = false
for i = 1, #h, 2 do
  if h[i] ~= '~s' then
    any = true
    if tonumber(h[i + 1]) > now then
      return 0
    end
  end
end
local was = redis.call('HGET', KEYS[1], '~s') == '1'
if any then
  redis.call('HDEL', KEYS[1], '~s')
else
  redis.call('DEL', KEYS[1])
end
if was then
  return 1
end
return 0
`)

// nodeScript renews the node's record (KEYS[1] pr:{nodes}, KEYS[2]
// pr:{nodes}:dead; ARGV node, ttl ms).
var nodeScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], string.format('%d', now + tonumber(ARGV[2])), ARGV[1])
redis.call('SREM', KEYS[2], ARGV[1])
return 0
`)

// lapseScript moves the nodes whose record lapsed from KEYS[1] to the
// claimed set KEYS[2] (ZREM answers one caller only: the claim) and
// returns up to 16 claimed nodes whose users are to be removed.
var lapseScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now), 'LIMIT', 0, 64)
for _, n in ipairs(lapsed) do
  if redis.call('ZREM', KEYS[1], n) == 1 then
    redis.call('SADD', KEYS[2], n)
  end
end
return redis.call('SRANDMEMBER', KEYS[2], 16)
`)

var scripts = []*redis.Script{setScript, delScript, nodeScript, lapseScript}

// Presence is a presence.Presence on a Redis client; it holds no state of
// its own and is safe for concurrent use.
type Presence struct {
	c                 redis.Cmdable
	linger            time.Duration
	prefix            string
	nodesKey, deadKey string
}

var _ presence.Presence = (*Presence)(nil)

// Options tune New; the zero value is the production setting.
type Options struct {
	// Linger overrides Linger (tests).
	Linger time.Duration
	// Prefix starts every key; default "pr".
	Prefix string
}

// New returns a Presence on c (a plain client: Renew and Online pipeline
// their commands themselves). Closing c is the caller's job.
func New(c redis.Cmdable, o Options) *Presence {
	if o.Linger <= 0 {
		o.Linger = Linger
	}
	if o.Prefix == "" {
		o.Prefix = "pr"
	}
	return &Presence{c: c, linger: o.Linger, prefix: o.Prefix,
		nodesKey: o.Prefix + ":{nodes}", deadKey: o.Prefix + ":{nodes}:dead"}
}

func ms(d time.Duration) int64 { return max(1, d.Milliseconds()) }

// isNoScript reports whether err is Redis's NOSCRIPT (the server lost its
// script cache, e.g. it restarted).
func isNoScript(err error) bool {
	return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT")
}

// pipe runs fill's commands in one pipeline; when a script is missing on
// the server, it loads the scripts and runs the pipeline once more.
func (p *Presence) pipe(ctx context.Context, fill func(redis.Pipeliner)) ([]redis.Cmder, error) {
	for try := 0; ; try++ {
		cmds, err := p.c.Pipelined(ctx, func(pl redis.Pipeliner) error { fill(pl); return nil })
		noScript := false
		for _, c := range cmds {
			if isNoScript(c.Err()) {
				noScript = true
			}
		}
		if !noScript || try > 0 {
			if err != nil && !errors.Is(err, redis.Nil) {
				return cmds, err
			}
			return cmds, nil
		}
		for _, s := range scripts {
			if err := s.Load(ctx, p.c).Err(); err != nil {
				return nil, err
			}
		}
	}
}

// Connect implements presence.Presence: one pipeline of the user's script
// and the node's set.
func (p *Presence) Connect(ctx context.Context, node, uid string, ttl time.Duration) (bool, error) {
	if node == "" || uid == "" {
		return false, errors.New("redispresence: connect: empty node or user id")
	}
	var set *redis.Cmd
	_, err := p.pipe(ctx, func(pl redis.Pipeliner) {
		set = setScript.EvalSha(ctx, pl, []string{p.userKey(uid)}, node, ms(ttl), ms(p.linger))
		pl.SAdd(ctx, p.nodeKey(node), uid)
	})
	if err != nil {
		return false, fmt.Errorf("redispresence: connect %s: %w", uid, err)
	}
	n, err := set.Int()
	if err != nil {
		return false, fmt.Errorf("redispresence: connect %s: %w", uid, err)
	}
	return n == 1, nil
}

// Renew implements presence.Presence: pipelines of up to 512 users.
func (p *Presence) Renew(ctx context.Context, node string, uids []string, ttl time.Duration) ([]string, error) {
	if node == "" {
		return nil, errors.New("redispresence: renew: empty node")
	}
	var online []string
	for start := 0; start == 0 || start < len(uids); start += batch {
		chunk := uids[start:min(start+batch, len(uids))]
		sets := make([]*redis.Cmd, len(chunk))
		_, err := p.pipe(ctx, func(pl redis.Pipeliner) {
			if start == 0 {
				nodeScript.EvalSha(ctx, pl, []string{p.nodesKey, p.deadKey}, node, ms(ttl))
			}
			members := make([]any, len(chunk))
			for i, uid := range chunk {
				sets[i] = setScript.EvalSha(ctx, pl, []string{p.userKey(uid)}, node, ms(ttl), ms(p.linger))
				members[i] = uid
			}
			if len(members) > 0 {
				pl.SAdd(ctx, p.nodeKey(node), members...)
			}
		})
		if err != nil {
			return online, fmt.Errorf("redispresence: renew %d users: %w", len(chunk), err)
		}
		for i, c := range sets {
			if n, err := c.Int(); err == nil && n == 1 {
				online = append(online, chunk[i])
			}
		}
		if len(uids) == 0 {
			break
		}
	}
	return online, nil
}

// remove runs delScript for uids of node, in pipelines, and returns those
// that went offline.
func (p *Presence) remove(ctx context.Context, node string, uids []string, fromSet bool) ([]string, error) {
	var off []string
	for start := 0; start < len(uids); start += batch {
		chunk := uids[start:min(start+batch, len(uids))]
		dels := make([]*redis.Cmd, len(chunk))
		_, err := p.pipe(ctx, func(pl redis.Pipeliner) {
			members := make([]any, len(chunk))
			for i, uid := range chunk {
				dels[i] = delScript.EvalSha(ctx, pl, []string{p.userKey(uid)}, node)
				members[i] = uid
			}
			if fromSet {
				pl.SRem(ctx, p.nodeKey(node), members...)
			}
		})
		if err != nil {
			return off, fmt.Errorf("redispresence: remove %d users of %s: %w", len(chunk), node, err)
		}
		for i, c := range dels {
			if n, err := c.Int(); err == nil && n == 1 {
				off = append(off, chunk[i])
			}
		}
	}
	return off, nil
}

// Disconnect implements presence.Presence.
func (p *Presence) Disconnect(ctx context.Context, node string, uids []string) ([]string, error) {
	return p.remove(ctx, node, uids, true)
}

// Online implements presence.Presence: one pipeline of TIME and one HGETALL
// a user (in pipelines of 512).
func (p *Presence) Online(ctx context.Context, uids []string) ([]bool, error) {
	out := make([]bool, len(uids))
	for start := 0; start < len(uids); start += batch {
		chunk := uids[start:min(start+batch, len(uids))]
		var now *redis.TimeCmd
		gets := make([]*redis.MapStringStringCmd, len(chunk))
		_, err := p.c.Pipelined(ctx, func(pl redis.Pipeliner) error {
			now = pl.Time(ctx)
			for i, uid := range chunk {
				gets[i] = pl.HGetAll(ctx, p.userKey(uid))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("redispresence: online of %d users: %w", len(chunk), err)
		}
		t := now.Val().UnixMilli()
		for i, g := range gets {
			for f, v := range g.Val() {
				if f == flagField {
					continue
				}
				if exp, err := strconv.ParseInt(v, 10, 64); err == nil && exp > t {
					out[start+i] = true
					break
				}
			}
		}
	}
	return out, nil
}

// ClaimLapsed implements presence.Presence: the lapsed nodes are claimed
// by one script call; their users are taken from the claimed nodes' sets
// with SPOP, so each (user, node) is removed by one caller.
func (p *Presence) ClaimLapsed(ctx context.Context, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	var nodes []string
	err := func() error {
		cmds, err := p.pipe(ctx, func(pl redis.Pipeliner) {
			lapseScript.EvalSha(ctx, pl, []string{p.nodesKey, p.deadKey})
		})
		if err != nil {
			return err
		}
		nodes, err = cmds[0].(*redis.Cmd).StringSlice()
		return err
	}()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redispresence: claim lapsed nodes: %w", err)
	}
	var off []string
	left := limit
	for _, n := range nodes {
		if left <= 0 {
			break
		}
		uids, err := p.c.SPopN(ctx, p.nodeKey(n), int64(left)).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return off, fmt.Errorf("redispresence: users of lapsed node %s: %w", n, err)
		}
		if len(uids) < left {
			// The node's set is empty now (SPOP removed the key).
			if err := p.c.SRem(ctx, p.deadKey, n).Err(); err != nil {
				return off, fmt.Errorf("redispresence: forget lapsed node %s: %w", n, err)
			}
		}
		left -= len(uids)
		o, err := p.remove(ctx, n, uids, false)
		off = append(off, o...)
		if err != nil {
			return off, err
		}
	}
	return off, nil
}
